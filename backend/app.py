"""The FastAPI application: `create_app(settings, sender=...)` wires the services together;
errors become HTTP answers in `backend.http`.

Run: ``uvicorn backend.app:create_app --factory`` (settings from the environment).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.facts import ModelFacts
from backend.http import error_response, install_error_handlers
from backend.photos import Photos
from backend.routes import docs, router
from backend.routes.deps import Services
from backend.security import install_security
from backend.sender import CelerySender, TaskSender
from backend.settings import Settings
from backend.studio import Studio
from worker.storage import AsyncJobStore, JobStore, Storage


def _services(settings: Settings, sender: TaskSender) -> Services:
    """The app's services over two Redis clients (sync for the routes, asyncio for the event
    streams). Clients connect lazily: nothing is contacted here."""
    # Fail fast when Redis is down (the request answers 503), yet survive one stale connection:
    # a refused or reset connection is retried twice, a timeout never (a frozen Redis would
    # otherwise hold each request for timeout × tries). REDIS_TIMEOUT_SECONDS bounds every reply.
    backoff = ExponentialBackoff(cap=0.5, base=0.05)
    timeout = settings.redis_timeout_seconds
    client = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=timeout, socket_timeout=timeout,
        retry=Retry(backoff, 2, supported_errors=(redis.ConnectionError,)), retry_on_timeout=False,
    )
    aclient = aioredis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=timeout,
        retry=AsyncRetry(backoff, 2, supported_errors=(redis.ConnectionError,)), retry_on_timeout=False,
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
        docs_url=None,  # served by backend.routes.docs, without a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.services = services
    install_error_handlers(app, settings.retry_after_seconds)
    app.include_router(router)
    app.include_router(docs.router)
    app.mount(docs.ASSETS_PATH, StaticFiles(directory=docs.ASSETS), name="docs-assets")
    # Inside the methods check (BaseHTTPMiddleware): an error raised from the `receive` it wraps
    # would reach the route through that middleware's task group, no longer an HTTPException.
    app.add_middleware(BodyLimit, max_upload_bytes=settings.max_upload_bytes,
                       retry_after_s=settings.retry_after_seconds)
    _answer_other_methods(app)
    install_security(app, settings)  # around everything above, so that every answer is covered
    if settings.frontend_dir.is_dir():
        app.mount("/", StaticFiles(directory=settings.frontend_dir, html=True), name="frontend")
    return app


def _answer_other_methods(app: FastAPI) -> None:
    """A method an API path does not take gets 405 with the path's real `Allow` (OPTIONS: 204
    with it), before the frontend's catch-all static mount could answer 404 or `GET, HEAD`."""
    allowed: dict[str, set[str]] = {}

    def methods_of(path: str) -> set[str] | None:
        if not allowed:  # from the OpenAPI (nested routers hide their routes), on first use
            for api_path, operations in app.openapi()["paths"].items():
                if "{" not in api_path:
                    methods = {m.upper() for m in operations}
                    allowed[api_path] = methods | ({"HEAD"} if "GET" in methods else set())
        return allowed.get(path)

    @app.middleware("http")
    async def other_methods(request: Request,
                            call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        methods = methods_of(request.url.path)
        if methods is None or request.method in methods:
            return await call_next(request)
        allow = ", ".join(sorted(methods | {"OPTIONS"}))
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": allow})
        return error_response("method_not_allowed",
                              f"{request.method} is not allowed on {request.url.path}; allowed: {allow}",
                              app.state.settings.retry_after_seconds, {"Allow": allow})


#: Largest JSON body: the largest legal request (64 edits, a strip, ids) is a few KB.
MAX_JSON_BYTES = 256 * 1024
#: Room for the multipart framing and form fields around an upload of MAX_UPLOAD_BYTES.
MULTIPART_OVERHEAD = 64 * 1024


class BodyLimit:
    """Bounded request bodies (413 `too_large`): uploads up to MAX_UPLOAD_BYTES (+ the multipart
    framing), any other body up to MAX_JSON_BYTES. A body whose declared Content-Length is above
    is refused before anything reads it; one that declares none (chunked) is cut off where it
    passes the limit: nothing past it is read, spooled to disk or parsed. Pure ASGI, since it
    wraps `receive`."""

    def __init__(self, app: ASGIApp, max_upload_bytes: int, retry_after_s: int) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes
        self.retry_after_s = retry_after_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        multipart = headers.get("content-type", "").startswith("multipart/")
        limit = self.max_upload_bytes + MULTIPART_OVERHEAD if multipart else MAX_JSON_BYTES
        what, shown = ("upload", self.max_upload_bytes) if multipart else ("request body", limit)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            message = f"the {what} is {int(declared):,} bytes, over the limit of {shown:,} bytes"
            await error_response("too_large", message, self.retry_after_s)(scope, receive, send)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # FastAPI lets an HTTPException from body parsing through as is
                    raise HTTPException(413, f"the {what} is over the limit of {shown:,} bytes")
            return message

        await self.app(scope, bounded, send)
