"""HTTP routes: parse, call a service of `backend.routes.deps.Services`, return a schema. Errors
become answers in `backend.http`."""

from fastapi import APIRouter

from backend.routes import directions, examples, images, jobs, latents, model, system

router = APIRouter()
for module in (jobs, directions, examples, latents, images, model, system):
    router.include_router(module.router)
