"""The FastAPI application: `create_app(settings)`; errors become HTTP answers here, in one place.

Run: ``uvicorn backend.app:create_app --factory`` (settings from the environment).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from kombu.exceptions import OperationalError
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from starlette.exceptions import HTTPException

from backend.errors import QueueUnavailableError, StudioError
from backend.jobs import Studio
from backend.routes import router
from backend.settings import Settings
from worker.celery_app import make_producer

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type"}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "invalid JSON")
            parts.append(f"the body is not valid JSON ({reason} at character {err['loc'][-1]})")
            continue
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is malformed"


def install_error_handlers(app: FastAPI, retry_after_s: int) -> None:
    """Map every failure to ``{"error": {"code", "message"}}`` with a fitting status."""

    @app.exception_handler(StudioError)
    async def studio_error(_: Request, exc: StudioError) -> JSONResponse:
        headers = None
        if isinstance(exc, QueueUnavailableError) or exc.status == 503:
            headers = {"Retry-After": str(getattr(exc, "retry_after_s", retry_after_s))}
        return _error(exc.status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid_request", _validation_message(exc))

    async def queue_unavailable(_: Request, exc: Exception) -> JSONResponse:
        message = f"the job queue (Redis) is unavailable; retry in a few seconds ({type(exc).__name__})"
        return _error(503, "queue_unavailable", message, {"Retry-After": str(retry_after_s)})

    app.add_exception_handler(redis.RedisError, queue_unavailable)
    app.add_exception_handler(OperationalError, queue_unavailable)

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        return _error(500, "internal_error", f"the server failed on this request ({type(exc).__name__})")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        fallback = "invalid_request" if exc.status_code < 500 else "internal_error"
        code = _HTTP_CODES.get(exc.status_code, fallback)
        return _error(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Clients are created here and connect lazily; nothing is loaded at import."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        studio: Studio = app.state.studio
        await studio.aclient.aclose()
        studio.storage.r.close()
        studio.producer.close()

    app = FastAPI(
        title="DiffAE Studio",
        version="0.1.0",
        summary="Edit faces in photos with Diffusion Autoencoders: encode, move sliders, interpolate.",
        lifespan=lifespan,
    )
    # Fail fast when Redis is down (the request answers 503), yet survive one stale connection.
    backoff = ExponentialBackoff(cap=0.5, base=0.05)
    client = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=1, socket_timeout=10, retry=Retry(backoff, 2)
    )
    aclient = aioredis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=1, retry=AsyncRetry(backoff, 2)
    )
    app.state.settings = settings
    app.state.studio = Studio(settings, client, aclient, make_producer(settings.redis_url))
    install_error_handlers(app, settings.retry_after_seconds)
    app.include_router(router)
    if settings.frontend_dir.is_dir():
        app.mount("/", StaticFiles(directory=settings.frontend_dir, html=True), name="frontend")
    return app
