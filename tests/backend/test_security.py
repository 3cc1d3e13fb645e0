"""Security in-process (`create_app` on a private Redis, a recording sender): the headers on every
kind of answer, the refusal of state-changing requests from other sites' pages (and what
ALLOWED_ORIGINS lets through, with CORS), and /docs built from local files only."""

# ruff: noqa: F811 - the route tests' `api` fixtures are imported and then named by the tests
from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from PIL import Image

from backend.app import MAX_JSON_BYTES
from backend.settings import Settings
from tests.backend.test_routes import Api, api, make_api  # noqa: F401 (fixtures)
from tests.http_errors import check_error
from tests.service.stack import REPO

pytestmark = pytest.mark.integration

LID = "a" * 32
JOB = "e" * 32  # the upload's encode job, succeeded
OWN = "http://testserver"  # the TestClient's scheme and Host
FOREIGN = "https://evil.example"
FRIEND = "https://studio.example.org"

#: The page's policy, directive by directive: any loosening must show up here.
PAGE_POLICY = {
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
OTHER_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-resource-policy": "same-origin",
}


def policy(header: str) -> dict[str, str]:
    """A Content-Security-Policy header as {directive: sources}."""
    pairs = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in pairs}


def check_headers(answer: Any, csp: dict[str, str] = PAGE_POLICY) -> None:
    assert policy(answer.headers["content-security-policy"]) == csp
    assert {name: answer.headers.get(name) for name in OTHER_HEADERS} == OTHER_HEADERS


def gif() -> dict[str, Any]:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="GIF")
    return {"files": {"image": ("photo.gif", buffer.getvalue(), "image/gif")}}


JSON = {"content-type": "application/json"}
ASKS_POST = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}


def edit() -> dict[str, Any]:
    return {"json": {"latent_id": LID, "edits": {"Smiling": 0.1}}}


# ----------------------------------------------------------------------------- headers
# (method, path, request arguments, status): the page, its files, JSON, errors, the app's own
# middleware's early answers (405, 413), an event stream.
ANSWERS: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "/", {}, 200),
    ("GET", "/js/main.js", {}, 200),
    ("GET", "/css/studio.css", {}, 200),
    ("GET", "/attributes", {}, 200),
    ("GET", "/images/nope", {}, 404),
    ("GET", "/no/such/file.js", {}, 404),
    ("POST", "/manipulate", {"json": {"edits": {}}}, 422),
    ("PUT", "/healthz", {}, 405),
    ("OPTIONS", "/manipulate", {}, 204),
    ("POST", "/manipulate", {"content": b" " * (MAX_JSON_BYTES + 1), "headers": JSON}, 413),
    ("GET", f"/jobs/{JOB}/events", {}, 200),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), ANSWERS,
                         ids=[f"{m} {p} {s}" for m, p, _, s in ANSWERS])
def test_every_kind_of_answer_carries_the_security_headers(
    api: Api, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    answer = api.client.request(method, path, **kwargs)
    assert answer.status_code == status, answer.text
    check_headers(answer)
    assert "vary" not in answer.headers  # no ALLOWED_ORIGINS: nothing depends on Origin


def test_a_server_error_carries_them_too(
    make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = make_api(raise_server_exceptions=False)  # the 500 is answered, not raised into the test

    def broken() -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(api.client.app.state.services.facts, "get", broken)  # type: ignore[attr-defined]
    answer = api.client.get("/attributes")
    check_error(answer, 500, "internal_error")
    check_headers(answer)


def test_the_page_has_no_inline_script_or_style_the_policy_would_block() -> None:
    page = (REPO / "frontend" / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "an inline script: script-src blocks it"
    assert not re.search(r"\sstyle=|<style", page), "an inline style: style-src 'self' blocks it"
    assert not re.search(r"\son[a-z]+=", page), "an inline event handler: script-src 'self' blocks it"


# ----------------------------------------------------------------------------- origins
@pytest.mark.parametrize("origin", [FOREIGN, "null", "https://testserver", "http://testserver:8080",
                                    "http://testserver.evil.example", "http://evil.example"])
def test_a_state_changing_request_from_another_origin_is_refused(api: Api, origin: str) -> None:
    refusals = [
        api.client.post("/encode", headers={"origin": origin}, **gif()),
        api.client.post("/manipulate", headers={"origin": origin}, **edit()),
        api.client.delete(f"/latents/{LID}", headers={"origin": origin}),
    ]
    for answer in refusals:
        message = check_error(answer, 403, "forbidden_origin")
        assert origin in message and OWN in message and "ALLOWED_ORIGINS" in message
        check_headers(answer)
        assert "access-control-allow-origin" not in answer.headers
    assert api.sender.sent == []
    assert api.client.get(f"/jobs/{JOB}").status_code == 200  # the upload is still there


def test_reads_from_another_origin_are_answered_without_cors(api: Api) -> None:
    answer = api.client.get("/attributes", headers={"origin": FOREIGN})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
    check_headers(answer)  # the browser keeps the answer from the other site's page
    preflight = api.client.options("/manipulate", headers={"origin": FOREIGN, **ASKS_POST})
    assert "access-control-allow-origin" not in preflight.headers


def test_an_echoed_origin_is_cut_short(api: Api) -> None:
    origin = "https://" + "x" * 5000 + ".example"
    message = check_error(api.client.post("/manipulate", headers={"origin": origin}, **edit()), 403,
                          "forbidden_origin")
    assert len(message) < 300 and "…" in message


@pytest.mark.parametrize(
    "headers",
    [{}, {"origin": OWN}, {"origin": "HTTP://TestServer:80"},
     {"origin": "http://studio.local:8000", "host": "studio.local:8000"}],
    ids=["no Origin", "own origin", "own origin, other spelling", "own origin with a port"],
)
def test_own_pages_and_clients_without_origin_get_their_normal_answers(
    api: Api, headers: dict[str, str]
) -> None:
    check_error(api.client.post("/encode", headers=headers, **gif()), 415, "unsupported_image")
    accepted = api.client.post("/manipulate", headers=headers, **edit())
    assert accepted.status_code == 202, accepted.text
    assert len(api.sender.sent) == 1
    deleted = api.client.delete(f"/latents/{LID}", headers=headers)
    assert deleted.status_code == 204
    check_error(api.client.get(f"/jobs/{JOB}"), 404, "unknown_job")  # the delete took place
    for answer in (accepted, deleted):
        check_headers(answer)
        assert "access-control-allow-origin" not in answer.headers  # same origin: no CORS needed


def test_allowed_origins_get_through_with_cors(make_api: Callable[..., Api]) -> None:
    api = make_api(allowed_origins=f"{FRIEND}/, http://localhost:3000")
    preflight = api.client.options("/manipulate", headers={"origin": FRIEND, **ASKS_POST})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == FRIEND
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"].lower() == "content-type"
    check_headers(preflight)

    accepted = api.client.post("/manipulate", headers={"origin": FRIEND}, **edit())
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["access-control-allow-origin"] == FRIEND
    assert accepted.headers["vary"] == "Origin"
    check_headers(accepted)
    refused = api.client.post("/manipulate", headers={"origin": FOREIGN}, **edit())
    check_error(refused, 403, "forbidden_origin")
    assert len(api.sender.sent) == 1
    same = api.client.get("/attributes")  # an answer that could have carried CORS: caches must know
    assert same.headers["vary"] == "Origin" and "access-control-allow-origin" not in same.headers
    deleted = api.client.delete(f"/latents/{LID}", headers={"origin": "http://localhost:3000"})
    assert deleted.status_code == 204 and deleted.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_allowed_origins_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", " https://Studio.Example.org/ ,http://localhost:3000,,https://a.example:443")
    assert Settings().allowed_origins == {"https://studio.example.org", "http://localhost:3000", "https://a.example"}
    monkeypatch.delenv("ALLOWED_ORIGINS")
    assert Settings().allowed_origins == frozenset()
    for bad in ("studio.example.org", "https://studio.example.org/app", "ftp://x.example", "null"):
        monkeypatch.setenv("ALLOWED_ORIGINS", bad)
        with pytest.raises(pydantic.ValidationError, match="is not an origin"):
            Settings()


# ----------------------------------------------------------------------------- /docs
def test_docs_load_only_local_files_with_their_own_policy(api: Api) -> None:
    answer = api.client.get("/docs")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert not re.search(r"(https?:)?//", page), "the docs page names another host"
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(assets) == 3 and all(url.startswith("/docs/assets/") for url in assets), assets
    for url in assets:
        asset = api.client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 1000, url
        check_headers(asset)
    # The page's policy, plus its one inline script (it starts Swagger UI) by hash: no 'unsafe-inline'.
    (script,) = re.findall(r"<script>(.*?)</script>", page, re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    check_headers(answer, PAGE_POLICY | {"script-src": f"'self' 'sha256-{digest}'"})
    assert api.client.get("/openapi.json").status_code == 200
    check_error(api.client.get("/redoc"), 404, "not_found")
