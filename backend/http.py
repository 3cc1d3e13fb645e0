"""HTTP for errors, in one place: the status of every error code, and the handlers that turn
every failure into ``{"error": {"code", "message"}}``.

Below the web tier errors carry a code and a message only (`models.errors`); the status of each
code is the `STATUS` table here. The page has a sentence for every code (frontend/js/messages.js);
tests/backend/test_http_codes.py keeps `models.errors.CODES` ∪ `WEB_CODES`, `STATUS` and the page's
list equal.
"""

from __future__ import annotations

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError
from starlette.exceptions import HTTPException

from models.errors import ECHO_ITEMS, StudioError, echo

#: Codes only the web tier sends (no layer below it raises them).
WEB_CODES: dict[str, str] = {
    "not_found": "no such route",
    "method_not_allowed": "the route does not answer this method",
    "forbidden_origin": "a state-changing request from another site's page (backend/security.py)",
    "internal_error": "the server failed on this request (a bug)",
}

#: The HTTP status of every error code.
STATUS: dict[str, int] = {
    "unsupported_image": 415,
    "too_large": 413,
    "no_face": 422,
    "unknown_attribute": 422,
    "invalid_request": 422,
    "unknown_latent": 404,
    "unknown_job": 404,
    "unknown_image": 404,
    "unknown_direction": 404,
    "store_reset": 410,
    "sampling_unavailable": 409,
    "queue_unavailable": 503,
    "alignment_unavailable": 503,
    "model_unavailable": 503,
    # JOB_ONLY_CODES: these only ever describe a failed job, inside the job (GET /jobs/{id}
    # answers 200); were they an answer of their own, these would be its status.
    "timeout": 504,
    "job_failed": 500,
    "worker_lost": 500,
    "cancelled": 409,
    "not_found": 404,
    "method_not_allowed": 405,
    "forbidden_origin": 403,
    "internal_error": 500,
}

#: Codes that only describe a failed job (its `error`), never an answer of their own.
JOB_ONLY_CODES = frozenset({"timeout", "job_failed", "worker_lost", "cancelled"})

#: The error code of Starlette's own HTTP errors, by status (others: invalid_request below 500,
#: internal_error from 500).
_HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def error_response(
    code: str, message: str, retry_after_s: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The answer for error `code`: its status from `STATUS`; 503s say when to retry."""
    status = STATUS[code]
    headers = dict(headers or {})
    if status == 503:
        headers.setdefault("Retry-After", str(retry_after_s))
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers or None)


def _validation_message(exc: RequestValidationError) -> str:
    """The first few problems, with every part of the client's input they name bounded (a key
    of a dict is part of the location): the answer never grows with the request."""
    parts = []
    errors = exc.errors()
    for err in errors[:ECHO_ITEMS]:
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "invalid JSON")
            parts.append(f"the body is not valid JSON ({reason} at character {err['loc'][-1]})")
            continue
        where = ".".join(echo([p]) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    more = f" (and {len(errors) - ECHO_ITEMS} more problems)" if len(errors) > ECHO_ITEMS else ""
    return "; ".join(parts) + more if parts else "the request is malformed"


def install_error_handlers(app: FastAPI, retry_after_s: int) -> None:
    """Map every failure to ``{"error": {"code", "message"}}`` with the code's status."""

    @app.exception_handler(StudioError)
    async def studio_error(_: Request, exc: StudioError) -> JSONResponse:
        return error_response(exc.code, exc.message, getattr(exc, "retry_after_s", retry_after_s))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response("invalid_request", _validation_message(exc), retry_after_s)

    async def queue_unavailable(_: Request, exc: Exception) -> JSONResponse:
        message = f"the job queue (Redis) is unavailable; retry in a few seconds ({type(exc).__name__})"
        return error_response("queue_unavailable", message, retry_after_s)

    app.add_exception_handler(redis.RedisError, queue_unavailable)
    app.add_exception_handler(OperationalError, queue_unavailable)

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        message = f"the server failed on this request ({type(exc).__name__})"
        return error_response("internal_error", message, retry_after_s)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        fallback = "invalid_request" if exc.status_code < 500 else "internal_error"
        code = _HTTP_ERRORS.get(exc.status_code, fallback)
        return error_response(code, str(exc.detail), retry_after_s, getattr(exc, "headers", None))
