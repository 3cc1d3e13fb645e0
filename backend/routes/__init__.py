"""HTTP routes: parse, call `backend.jobs.Studio`, return a schema. Errors are mapped in `backend.app`."""

from fastapi import APIRouter

from backend.routes import images, jobs, latents, model, system

router = APIRouter()
for module in (jobs, latents, images, model, system):
    router.include_router(module.router)
