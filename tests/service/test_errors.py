"""Every client error of the API (docs/service.md, "Errors") over real HTTP: the code, the
status, a useful message, and never a 500."""

from __future__ import annotations

import io
import select
import socket
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.http_errors import check_error
from tests.service.conftest import MAX_PIXELS, MAX_UPLOAD_BYTES, Stack, jpeg

pytestmark = pytest.mark.integration


def upload(client: httpx.Client, data: bytes, name: str = "photo.jpg", **form: Any) -> httpx.Response:
    return client.post(
        "/encode",
        files={"image": (name, data, "application/octet-stream")},
        data={k: str(v) for k, v in form.items()},
    )


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def job_count(stack: Stack) -> int:
    return len(list(stack.redis.client().scan_iter(match="diffae:job:*")))


def test_unsupported_image_415(client: httpx.Client) -> None:
    gif = io.BytesIO()
    Image.new("RGB", (64, 64)).save(gif, format="GIF")
    assert "GIF" in check_error(upload(client, gif.getvalue(), "x.gif"), 415, "unsupported_image")
    check_error(upload(client, b"this is not an image at all"), 415, "unsupported_image")
    check_error(upload(client, b""), 415, "unsupported_image")


def test_too_large_413(client: httpx.Client, astronaut_jpeg: bytes) -> None:
    padded = astronaut_jpeg + b"\0" * (MAX_UPLOAD_BYTES + 12_345 - len(astronaut_jpeg))
    assert f"{len(padded):,} bytes" in check_error(upload(client, padded), 413, "too_large")  # the real size
    side = int(MAX_PIXELS**0.5) + 10
    assert "pixels" in check_error(upload(client, png(Image.new("RGB", (side, side)))), 413, "too_large")


def test_no_face_422(client: httpx.Client) -> None:
    ramp = np.linspace(0, 255, 256 * 256 * 3).reshape(256, 256, 3).astype(np.uint8)
    assert "no face" in check_error(upload(client, jpeg(Image.fromarray(ramp))), 422, "no_face")


def test_face_index_out_of_range_422(client: httpx.Client, astronaut_jpeg: bytes) -> None:
    assert "out of range" in check_error(upload(client, astronaut_jpeg, face=3), 422, "invalid_request")
    check_error(upload(client, astronaut_jpeg, face=-1), 422, "invalid_request")


def test_bad_encode_form_422(client: httpx.Client, astronaut_jpeg: bytes) -> None:
    assert "36 or 38" in check_error(upload(client, astronaut_jpeg, steps=37), 422, "invalid_request")
    check_error(upload(client, astronaut_jpeg, steps="many"), 422, "invalid_request")
    message = check_error(upload(client, astronaut_jpeg, render_steps=37), 422, "invalid_request")
    assert "render_steps=37" in message and "36 or 38" in message
    assert "image" in check_error(client.post("/encode", data={"steps": "10"}), 422, "invalid_request")


def test_unknown_attribute_422_is_not_queued(
    client: httpx.Client, encoded: dict[str, Any], stack: Stack
) -> None:
    before = job_count(stack)
    answer = client.post("/manipulate", json={"latent_id": encoded["latent_id"], "edits": {"Smile": 0.3}})
    message = check_error(answer, 422, "unknown_attribute")
    assert "Smile" in message and "Smiling" in message  # names the bad one and the allowed set
    assert job_count(stack) == before


def test_unknown_latent_404(client: httpx.Client, encoded: dict[str, Any]) -> None:
    check_error(client.post("/manipulate", json={"latent_id": "0" * 32, "edits": {}}), 404, "unknown_latent")
    body = {"latent_ids": [encoded["latent_id"], "f" * 32], "frames": 3}
    check_error(client.post("/interpolate", json=body), 404, "unknown_latent")
    check_error(client.delete("/latents/nonexistent"), 404, "unknown_latent")


def test_unknown_job_and_image_404(client: httpx.Client) -> None:
    check_error(client.get("/jobs/" + "0" * 32), 404, "unknown_job")
    check_error(client.get("/jobs/nope/events"), 404, "unknown_job")
    check_error(client.get("/images/nope-crop"), 404, "unknown_image")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"latent_id": "L", "edits": {"Smiling": 0.1}, "steps": 37}, "36 or 38"),
        ({"latent_id": "L", "edits": {"Smiling": 0.1}, "steps": 0}, "steps"),
        ({"latent_id": "L", "edits": {"Smiling": 0.1}, "steps": 500}, "limit"),
        ({"latent_id": "L", "edits": {"Smiling": "lots"}}, "edits.Smiling"),
        ({"latent_id": "L", "edits": {"Smiling": 50.0}}, "within"),
        ({"edits": {}}, "latent_id"),
        ({"latent_id": "L", "edits": {}, "colour": "red"}, "colour"),
    ],
)
def test_invalid_manipulate_request_422(
    client: httpx.Client, encoded: dict[str, Any], body: dict[str, Any], needle: str
) -> None:
    if body.get("latent_id") == "L":
        body = {**body, "latent_id": encoded["latent_id"]}
    assert needle in check_error(client.post("/manipulate", json=body), 422, "invalid_request")


def test_malformed_json_and_interpolate_bodies_422(client: httpx.Client, encoded: dict[str, Any]) -> None:
    broken = client.post(
        "/manipulate", content=b'{"latent_id": ', headers={"content-type": "application/json"}
    )
    assert "not valid JSON" in check_error(broken, 422, "invalid_request")
    lid = encoded["latent_id"]
    for body in (
        {"latent_ids": [lid], "frames": 3},
        {"latent_ids": [lid, lid], "frames": 3, "alphas": [0.5]},
        {"latent_ids": [lid, lid], "alphas": [1.5]},
        {"latent_ids": [lid, lid], "frames": 1},
        {"latent_ids": [lid, lid], "frames": 500},
        {"latent_ids": [lid, lid], "steps": 37},
    ):
        check_error(client.post("/interpolate", json=body), 422, "invalid_request")


def test_unknown_route_and_method_are_json(client: httpx.Client) -> None:
    check_error(client.get("/no/such/thing"), 404, "not_found")
    check_error(client.put("/healthz"), 405, "method_not_allowed")


def test_a_chunked_upload_is_not_read_past_the_limit(stack: Stack) -> None:
    """#16 item 6: an upload that declares no length (chunked) was read and spooled to disk whole
    before its 413. Over a real socket: the answer comes while the client is still sending, and
    the server reads little more than the limit."""
    with socket.create_connection(("127.0.0.1", stack.api.port), timeout=5) as sock:
        sock.sendall(b"POST /encode HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: multipart/form-data; boundary=x\r\n\r\n")
        head = b'--x\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n'
        sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        chunk, sent = b"\0" * 2**20, 0
        while sent < 200 * 2**20 and not select.select([sock], [], [], 0)[0]:  # until it answers
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:  # the server answered and closed, or stopped reading
                break
            sent += len(chunk)
        answer = b""
        while b'"too_large"' not in answer:  # headers and body may come in separate packets
            try:
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413") and b'"too_large"' in answer, answer[:300]
    assert sent < MAX_UPLOAD_BYTES + 16 * 2**20, f"{sent:,} bytes were sent before the answer"
