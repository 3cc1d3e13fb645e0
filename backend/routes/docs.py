"""The interactive API docs at /docs: Swagger UI from this server, not a CDN, so they work offline
and the page loads nothing from another site. Its files ship in the `fastapi-offline` package
(Swagger UI 5, which reads the OpenAPI 3.1 that FastAPI writes); `ASSETS` is served at
`ASSETS_PATH` by `backend.app`. There is no /redoc."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from backend.security import content_security_policy

#: swagger-ui-bundle.js, swagger-ui.css, favicon.png (and redoc.standalone.js, unused).
ASSETS = Path(str(files("fastapi_offline") / "static"))
ASSETS_PATH = "/docs/assets"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    """Swagger UI on this app's /openapi.json. The page starts Swagger UI with an inline script:
    its policy is the studio page's, plus that one script by its hash (no 'unsafe-inline')."""
    root = request.scope.get("root_path", "")
    page = get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} — API",
        swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
        # Swagger UI's default would send the OpenAPI's address to validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    scripts = _INLINE_SCRIPT.findall(bytes(page.body).decode())
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                      for s in scripts)
    page.headers["Content-Security-Policy"] = content_security_policy(script_src=f"'self' {hashes}")
    return page
