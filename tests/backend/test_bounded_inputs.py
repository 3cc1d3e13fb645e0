"""Issue #16, items 1 and 7: every count, list and string of a request is bounded by the schema
before any work (and the OpenAPI shows the bounds); error messages never grow with the input."""

# ruff: noqa: F811 - the route tests' `api` fixture is imported and then named by the tests
from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from backend.schemas import FRAMES_CEILING, MAX_EDITS, SAMPLES_CEILING, STEPS_CEILING
from models.errors import ECHO_CHARS, ECHO_ITEMS, echo
from tests.backend.test_routes import LID, Api, api, edit, make_api, mix  # noqa: F401 (fixtures)
from tests.http_errors import check_error

HUGE = [
    ("/interpolate", mix(frames=30_000_000), "frames"),
    ("/interpolate", mix(frames=10**16), "frames"),
    ("/interpolate", mix(alphas=[0.5] * 20_000), "alphas"),
    ("/manipulate", edit(steps=10**12), "steps"),
    ("/manipulate", edit(edits={"x" * 100_000: 0.1}), "edits"),
    ("/manipulate", edit(edits={f"name{i}": 0.1 for i in range(10_000)}), "edits"),
    ("/manipulate", edit(strip={"attribute": "y" * 100_000, "amounts": [0.1]}), "strip.attribute"),
    ("/sample", {"json": {"n": 10**15}}, "n"),
    ("/sample", {"json": {"n": 1, "latent_steps": 10**9}}, "latent_steps"),
    ("/interpolate", {"json": {"latent_ids": [LID, "z" * 100_000]}}, "latent_ids"),
]


@pytest.mark.parametrize(("path", "arguments", "field"), HUGE, ids=[f"{p}-{f}-{i}" for i, (p, _, f) in
                                                                  enumerate(HUGE)])
def test_a_huge_count_or_string_is_refused_before_any_work(api: Api, path: str, arguments: dict[str, Any],
                                                          field: str) -> None:
    tracemalloc.start()
    try:
        answer = api.client.post(path, **arguments)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = check_error(answer, 422, "invalid_request")
    assert field in message, message
    assert len(answer.content) < 2_000, len(answer.content)  # the answer does not echo the input
    body_size = len(str(arguments["json"]))
    # parsing the body itself costs memory; nothing may be built from the counts it holds
    assert peak < 20 * body_size + 30_000_000, peak
    assert api.sender.sent == []


def test_frames_above_the_setting_are_refused_without_building_them(api: Api) -> None:
    tracemalloc.start()
    try:
        answer = api.client.post("/interpolate", **mix(frames=FRAMES_CEILING))  # legal for the schema
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "at most 16 frames" in check_error(answer, 422, "invalid_request")
    assert peak < 30_000_000


def test_many_unknown_attributes_are_named_only_a_few_times(api: Api) -> None:
    names = {f"Unknown{i:03d}": 0.1 for i in range(MAX_EDITS)}
    message = check_error(api.client.post("/manipulate", **edit(edits=names)), 422, "unknown_attribute")
    assert f"(and {MAX_EDITS - ECHO_ITEMS} more)" in message and "Unknown063" not in message
    long_name = "L" * 64
    answer = api.client.post("/manipulate", **edit(edits={long_name: 0.1}))
    message = check_error(answer, 422, "unknown_attribute")
    assert long_name not in message and "L" * ECHO_CHARS + "…" in message


def test_echo_bounds_items_and_their_length() -> None:
    assert echo(["a", "b"]) == "a, b"
    assert echo(str(i) for i in range(8)) == "0, 1, 2, 3, 4 (and 3 more)"
    assert echo(["x" * 100]) == "x" * ECHO_CHARS + "…"


def test_the_openapi_shows_the_bounds(api: Api) -> None:
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]

    def prop(model: str, name: str) -> dict[str, Any]:
        field = schemas[model]["properties"][name]
        return next((a for a in field.get("anyOf", [field]) if a.get("type") != "null"), field)

    assert prop("InterpolateRequest", "frames")["maximum"] == FRAMES_CEILING
    assert prop("InterpolateRequest", "alphas")["maxItems"] == FRAMES_CEILING
    assert prop("ManipulateRequest", "steps")["maximum"] == STEPS_CEILING
    assert prop("ManipulateRequest", "edits")["maxProperties"] == MAX_EDITS
    assert prop("SampleRequest", "n")["maximum"] == SAMPLES_CEILING
    assert prop("SampleRequest", "latent_steps")["maximum"] == STEPS_CEILING


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("GET", "/encode", "OPTIONS, POST"), ("GET", "/manipulate", "OPTIONS, POST"),
    ("PUT", "/interpolate", "OPTIONS, POST"), ("DELETE", "/sample", "OPTIONS, POST"),
    ("POST", "/healthz", "GET, HEAD, OPTIONS"),
])
def test_a_method_a_path_does_not_take_is_405_with_its_allow(make_api: Any, method: str, path: str,
                                                            allow: str) -> None:
    """Issue #16, item 10: with the frontend mounted at / (it catches everything else)."""
    api = make_api()
    answer = api.client.request(method, path)
    assert "not allowed" in check_error(answer, 405, "method_not_allowed")
    assert answer.headers["allow"] == allow
    options = api.client.options(path)
    assert options.status_code == 204 and options.headers["allow"] == allow
    assert api.client.get("/").status_code == 200  # the page is still served


@pytest.mark.parametrize(("body", "field"), [
    ({"edits": {"Smiling": "0.3"}}, "edits.Smiling"),
    ({"edits": {"Smiling": True}}, "edits.Smiling"),
    ({"steps": False}, "steps"),
    ({"steps": "10"}, "steps"),
    ({"steps": 10.0}, "steps"),
])
def test_json_values_are_not_coerced(api: Api, body: dict[str, Any], field: str) -> None:
    """Issue #16, item 10: strict types in JSON bodies."""
    message = check_error(api.client.post("/manipulate", **edit(**body)), 422, "invalid_request")
    assert field in message, message
    assert api.sender.sent == []


def test_a_json_integer_is_still_a_number(api: Api) -> None:
    answer = api.client.post("/manipulate", **edit(edits={"Smiling": 1}))
    assert answer.status_code == 202, answer.text


def test_big_bodies_are_refused_by_their_declared_length_before_reading(api: Api) -> None:
    """Issue #16, item 6: a 200 MiB upload is refused at once, from its Content-Length (the
    stream below fails the test if anything reads past its first chunk); JSON bodies are bounded."""
    read: list[int] = []

    def body() -> Iterator[bytes]:
        boundary = b"--x\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\n"
        read.append(len(boundary))
        yield boundary
        for _ in range(200):
            read.append(2**20)
            yield b"\0" * 2**20

    size = 200 * 2**20 + 80
    headers = {"content-type": "multipart/form-data; boundary=x", "content-length": str(size)}
    answer = api.client.post("/encode", content=body(), headers=headers)
    assert "upload" in check_error(answer, 413, "too_large")
    assert sum(read) < 10 * 2**20, f"{sum(read):,} bytes were read for a refused upload"
    big_json = b'{"latent_id": "' + b"a" * 300_000 + b'"}'
    answer = api.client.post("/manipulate", content=big_json, headers={"content-type": "application/json"})
    assert "request body" in check_error(answer, 413, "too_large")
    assert api.sender.sent == []



def test_a_body_without_a_declared_length_is_refused_past_the_limit(api: Api) -> None:
    """Issue #16, item 6, "stop reading past the limit": a chunked body (no Content-Length) gets
    its 413 too. (That nothing past the limit is read is measured over a real socket, in
    tests/service/test_errors.py: this test client reads a whole body before the app does.)"""

    def body(head: bytes, chunk: bytes, chunks: int) -> Iterator[bytes]:
        yield head
        for _ in range(chunks):
            yield chunk

    head = b"--x\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\n"
    multipart = {"content-type": "multipart/form-data; boundary=x"}  # httpx sends it chunked
    answer = api.client.post("/encode", content=body(head, b"\0" * 2**16, 10), headers=multipart)
    assert "upload" in check_error(answer, 413, "too_large")
    json = {"content-type": "application/json"}
    answer = api.client.post("/manipulate", content=body(b'{"latent_id": "', b"a" * 2**16, 10), headers=json)
    assert "request body" in check_error(answer, 413, "too_large")
    assert api.sender.sent == []
