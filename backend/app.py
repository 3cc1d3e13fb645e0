"""The FastAPI application: `create_app(settings, sender=...)` wires the services together;
errors become HTTP answers in `backend.http`.

Run: ``uvicorn backend.app:create_app --factory`` (settings from the environment).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from backend.facts import ModelFacts
from backend.http import install_error_handlers
from backend.photos import Photos
from backend.routes import router
from backend.routes.deps import Services
from backend.sender import CelerySender, TaskSender
from backend.settings import Settings
from backend.studio import Studio
from worker.storage import AsyncJobStore, JobStore, Storage


def _services(settings: Settings, sender: TaskSender) -> Services:
    """The app's services over two Redis clients (sync for the routes, asyncio for the event
    streams). Clients connect lazily: nothing is contacted here."""
    # Fail fast when Redis is down (the request answers 503), yet survive one stale connection.
    backoff = ExponentialBackoff(cap=0.5, base=0.05)
    client = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=1, socket_timeout=10, retry=Retry(backoff, 2)
    )
    aclient = aioredis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=1, retry=AsyncRetry(backoff, 2)
    )
    storage = Storage(client, settings.ttl_seconds)
    facts = ModelFacts(storage, settings.model_dir, settings.model_facts_seconds)
    return Services(
        settings=settings,
        storage=storage,
        jobs=JobStore(client),
        events=AsyncJobStore(aclient),
        facts=facts,
        studio=Studio(settings, facts, storage, sender),
        photos=Photos(storage, settings.composed_cache_bytes),
    )


def create_app(settings: Settings | None = None, *, sender: TaskSender | None = None) -> FastAPI:
    """Build the app. `sender` queues tasks (default: Celery's producer on `REDIS_URL`); nothing
    is loaded or contacted at import or here."""
    settings = settings or Settings()
    services = _services(settings, sender or CelerySender(settings.redis_url))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await services.events.aclose()
        services.storage.close()
        services.studio.sender.close()

    app = FastAPI(
        title="DiffAE Studio",
        version="0.1.0",
        summary="Edit faces in photos with Diffusion Autoencoders: encode, move sliders, interpolate.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = services
    install_error_handlers(app, settings.retry_after_seconds)
    app.include_router(router)
    if settings.frontend_dir.is_dir():
        app.mount("/", StaticFiles(directory=settings.frontend_dir, html=True), name="frontend")
    return app
