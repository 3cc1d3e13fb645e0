"""What a browser is told on every answer, and which browsers may change state here.

Every answer (the page, its scripts, JSON, images, event streams, errors, the 405s and 413s of the
app's own middleware, even a 500) carries `SECURITY_HEADERS`: a Content-Security-Policy made for
frontend/ (`content_security_policy`), no MIME sniffing, no referrer to other sites, no framing,
no embedding by other sites. An answer that sets its own policy keeps it (/docs does).

A state-changing request (POST, PUT, PATCH, DELETE) that a browser sent from another origin is
refused with 403 ``forbidden_origin`` before anything reads it, unless that origin is in
``ALLOWED_ORIGINS``: those get CORS answers, preflights included. Requests without an ``Origin``
header (curl, server to server) are not a browser's cross-site requests and pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.http import error_response
from models.errors import echo

if TYPE_CHECKING:
    from fastapi import FastAPI

    from backend.settings import Settings

#: The page's policy, directive by directive, from what frontend/ loads: ES modules and one
#: stylesheet from this origin (no inline script or style; the scripts set styles through the
#: CSSOM, which CSP leaves alone), images from /images/..., an edit's live previews (data: URLs)
#: and the chosen photo before upload (a blob: URL), fetch and EventSource to this origin.
PAGE_POLICY: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def content_security_policy(**changes: str) -> str:
    """The page's policy with some directives replaced (``script_src="..."`` sets
    ``script-src``), as the header's value."""
    policy = PAGE_POLICY | {name.replace("_", "-"): value for name, value in changes.items()}
    return "; ".join(f"{name} {value}" for name, value in policy.items())


SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", content_security_policy()),
    ("X-Content-Type-Options", "nosniff"),
    # "same-origin", not "no-referrer": both tell other sites nothing, but under "no-referrer" the
    # Fetch standard sends `Origin: null` with a same-origin POST that is not CORS-mode (a form),
    # which the origin check below would refuse.
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),  # frame-ancestors for browsers that predate it
    ("Cross-Origin-Resource-Policy", "same-origin"),  # other sites can't embed the user's photos
)

#: Methods that change state: refused from a foreign origin.
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: What a preflight from an allowed origin is told: the API's methods, the JSON body's header.
PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "GET, HEAD, POST, DELETE",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "600",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(text: str) -> str | None:
    """`text` as a browser serializes an origin (``scheme://host[:port]``, lower case, no default
    port), or None when it is not an http(s) origin (``null``, a path, user info, a bad port)."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if (parts.scheme not in _DEFAULT_PORTS or not host or parts.path not in ("", "/")
            or parts.query or parts.fragment or "@" in parts.netloc):
        return None
    host = f"[{host}]" if ":" in host else host  # IPv6
    return f"{parts.scheme}://{host}" + ("" if port in (None, _DEFAULT_PORTS[parts.scheme]) else f":{port}")


def parse_origins(value: str | Iterable[str]) -> frozenset[str]:
    """``ALLOWED_ORIGINS``: comma-separated origins (or any iterable of them), normalized.

    Raises:
        ValueError: an entry that is not ``scheme://host[:port]``, naming it.
    """
    entries = value.split(",") if isinstance(value, str) else value
    origins = set()
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        origin = normalize_origin(entry)
        if origin is None:
            raise ValueError(f"{entry!r} is not an origin: write scheme://host[:port], e.g. "
                             "https://studio.example.org or http://localhost:3000")
        origins.add(origin)
    return frozenset(origins)


def own_origin(scope: Scope, headers: Headers) -> str | None:
    """This app's origin as the request reached it: its scheme and ``Host`` header (behind a
    proxy, the proxy must pass both on, see docs/service.md)."""
    host = headers.get("host")
    return normalize_origin(f"{scope.get('scheme', 'http')}://{host}") if host else None


class SecurityMiddleware:
    """Pure ASGI (nothing is buffered: event streams still stream): the headers on every answer,
    the origin check before the app sees the request."""

    def __init__(self, app: ASGIApp, allowed_origins: frozenset[str], retry_after_s: int) -> None:
        self.app = app
        self.allowed_origins = allowed_origins
        self.retry_after_s = retry_after_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        own = own_origin(scope, headers)
        normalized = None if origin is None else normalize_origin(origin)
        # `Origin: null` (a sandboxed frame, a redirect, a file: page) is foreign, whatever Host says.
        foreign = origin is not None and (normalized is None or normalized != own)
        allowed = foreign and normalized in self.allowed_origins
        send = self._send_with_headers(send, origin if allowed else None)
        method = scope["method"]
        if foreign and not allowed and method in STATE_CHANGING:
            message = (f"{method} from the origin {echo([origin])} is refused: this server takes such "
                       f"requests only from its own pages ({echo([own]) if own else 'unknown'}) and the "
                       "origins in ALLOWED_ORIGINS")
            await error_response("forbidden_origin", message, self.retry_after_s)(scope, receive, send)
        elif allowed and method == "OPTIONS" and "access-control-request-method" in headers:
            await Response(status_code=204, headers=PREFLIGHT_HEADERS)(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _send_with_headers(self, send: Send, cors_origin: str | None) -> Send:
        """`send` adding the security headers (those the answer has not set itself) and, for an
        allowed foreign origin, its CORS headers."""

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
                if self.allowed_origins:  # the answer depends on Origin: caches must know
                    headers.add_vary_header("Origin")
                if cors_origin is not None:
                    headers["Access-Control-Allow-Origin"] = cors_origin
                    headers["Access-Control-Expose-Headers"] = "Retry-After"
            await send(message)

        return send_with_headers


def install_security(app: FastAPI, settings: Settings) -> None:
    """Put `SecurityMiddleware` around the app's whole middleware stack. Not with
    `add_middleware`: user middleware runs inside Starlette's ServerErrorMiddleware, whose 500
    answers would then go out without the headers."""
    build = app.build_middleware_stack

    def build_secured() -> ASGIApp:
        return SecurityMiddleware(build(), settings.allowed_origins, settings.retry_after_seconds)

    app.build_middleware_stack = build_secured  # type: ignore[method-assign]
