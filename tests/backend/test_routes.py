"""The HTTP API in-process: `create_app` on a private Redis with a recording task sender instead
of Celery's producer (no worker, no model). Every 4xx the API answers, one code/status pair per
case, with the error body and nothing queued; then what an accepted request queues and how a
job's result is shown (image ids become URLs)."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient
from PIL import Image

from backend.app import create_app
from backend.facts import solver_defaults
from backend.settings import Settings
from tests.backend.studio_fixtures import INFO, RecordingSender, encoded_upload, publish, settings
from tests.http_errors import check_error
from tests.service.stack import REPO, RedisServer
from worker.contracts import INTERPOLATE, MANIPULATE, SAMPLE, TEACH, JobError, JobPreview, JobState
from worker.ids import new_id
from worker.storage import JobStore, Storage

pytestmark = pytest.mark.integration

LID = "a" * 32  # encoded
#: What a manipulate payload carries when the request asks for no strip, keep or region.
PLAIN = {"strip": None, "keep": [], "region": None, "brush": None}
LOST = new_id(time.time() - 600)  # made ten minutes before the store (each test's Redis) began
RAW = "c" * 32  # uploaded, not encoded yet
MAX_UPLOAD_BYTES = 300_000
MAX_PIXELS = 600 * 600


@dataclass
class Api:
    client: TestClient
    sender: RecordingSender
    storage: Storage
    r: redis.Redis


@pytest.fixture
def make_api(redis_server: RedisServer, r: redis.Redis, tmp_path: Path) -> Iterator[Callable[..., Api]]:
    clients: list[TestClient] = []

    def make(*, worker: bool = True, facts: bool = True, raise_server_exceptions: bool = True,
             **overrides: Any) -> Api:
        storage = Storage(r, 600)
        if facts:
            publish(storage, worker=worker)
        encoded_upload(storage, LID)
        encoded_upload(storage, RAW, encoded=False)
        sender = RecordingSender()
        values = {"max_upload_bytes": MAX_UPLOAD_BYTES, "max_pixels": MAX_PIXELS,
                  "frontend_dir": REPO / "frontend", **overrides}
        app = create_app(settings(redis_server.url(), tmp_path, **values), sender=sender)
        client = TestClient(app, raise_server_exceptions=raise_server_exceptions)
        clients.append(client.__enter__())
        return Api(client, sender, storage, r)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


def image_bytes(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def upload(data: bytes, **form: Any) -> dict[str, Any]:
    return {"files": {"image": ("photo", data, "application/octet-stream")},
            "data": {k: str(v) for k, v in form.items()}}


def blank(side: int, fmt: str) -> bytes:
    return image_bytes(Image.new("RGB", (side, side)), fmt)


JSON = {"content-type": "application/json"}
# What a request naming no solver, grid or steps gets with the shipped settings.
_SOLVER, _DEFAULTS = solver_defaults(Settings(), INFO)
SAMPLING = {"solver": _SOLVER, "grid": _DEFAULTS.grid, "steps": _DEFAULTS.steps}


def ramp() -> bytes:
    """A smooth colour ramp: a decodable photo without a face."""
    pixels = np.linspace(0, 255, 256 * 256 * 3).reshape(256, 256, 3).astype(np.uint8)
    return image_bytes(Image.fromarray(pixels), "JPEG")


def astronaut() -> bytes:
    import skimage.data

    return image_bytes(Image.fromarray(skimage.data.astronaut()), "JPEG", quality=90)


def edit(**body: Any) -> dict[str, Any]:
    return {"json": {"latent_id": LID, "edits": {"Smiling": 0.1}, **body}}


def teach(**body: Any) -> dict[str, Any]:
    """A teach request over 10 + 10 faces that were never uploaded (first letters 1 and 2)."""
    faces = {"positives": [f"1{i:031x}" for i in range(10)], "negatives": [f"2{i:031x}" for i in range(10)]}
    return {"json": {"name": "Freckles", **faces, **body}}


#: An exported direction of the test model (GET /directions/{id}).
DIRECTION = {"name": "Freckles", "preset": INFO.preset, "direction": [0.6, 0.8, 0.0, 0.0],
             "method": "labelled"}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _png_b64(size: tuple[int, int], paint: bool = True, left: bool = True) -> str:
    """A brush mask as a page's canvas exports it: transparent, the left (or right) half painted."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    if paint:
        half = (0, 0, size[0] // 2, size[1]) if left else (size[0] // 2, 0, size[0], size[1])
        image.paste((255, 80, 80, 255), half)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return _b64(out.getvalue())


def mix(**body: Any) -> dict[str, Any]:
    return {"json": {"latent_ids": [LID, LID], **body}}


# (method, path, request arguments, status, code, a word the message must contain)
CASES: list[tuple[str, str, Callable[[], dict[str, Any]], int, str, str]] = [
    ("POST", "/encode", lambda: upload(blank(8, "GIF")), 415, "unsupported_image", "GIF"),
    ("POST", "/encode", lambda: upload(b"this is not an image at all"), 415, "unsupported_image", "readable"),
    ("POST", "/encode", lambda: upload(b""), 415, "unsupported_image", "empty"),
    ("POST", "/encode", lambda: upload(b"\xff" * (MAX_UPLOAD_BYTES + 5)), 413, "too_large", "bytes"),
    ("POST", "/encode", lambda: upload(blank(700, "PNG")), 413, "too_large", "pixels"),
    ("POST", "/encode", lambda: upload(ramp()), 422, "no_face", "no face"),
    ("POST", "/encode", lambda: upload(astronaut(), face=3), 422, "invalid_request", "out of range"),
    ("POST", "/encode", lambda: upload(b"x", face=-1), 422, "invalid_request", "face"),
    ("POST", "/encode", lambda: upload(b"x", steps=37), 422, "invalid_request", "36 or 38"),
    ("POST", "/encode", lambda: upload(b"x", render_steps=37), 422, "invalid_request", "render_steps=37"),
    ("POST", "/encode", lambda: upload(b"x", steps="many"), 422, "invalid_request", "steps"),
    ("POST", "/encode", lambda: upload(b"x", solver="euler"), 422, "invalid_request", "solver"),
    ("POST", "/encode", lambda: upload(b"x", grid="cosine"), 422, "invalid_request", "grid"),
    ("POST", "/encode", lambda: {"data": {"steps": "10"}}, 422, "invalid_request", "image"),
    ("POST", "/encode", lambda: {"content": b"x", "headers": {"content-type": "multipart/form-data"}},
     422, "invalid_request", "boundary"),  # Starlette's own 400, answered with the code's status
    ("POST", "/manipulate", lambda: edit(edits={"Smile": 0.3}), 422, "unknown_attribute", "Smiling"),
    ("POST", "/manipulate", lambda: edit(steps=37), 422, "invalid_request", "36 or 38"),
    ("POST", "/manipulate", lambda: edit(steps=0), 422, "invalid_request", "steps"),
    ("POST", "/manipulate", lambda: edit(steps=500), 422, "invalid_request", "limit"),
    ("POST", "/manipulate", lambda: edit(edits={"Smiling": "x"}), 422, "invalid_request", "edits.Smiling"),
    ("POST", "/manipulate", lambda: edit(edits={"Smiling": 50.0}), 422, "invalid_request", "within"),
    ("POST", "/manipulate", lambda: {"json": {"edits": {}}}, 422, "invalid_request", "latent_id"),
    ("POST", "/manipulate", lambda: edit(colour="red"), 422, "invalid_request", "colour"),
    ("POST", "/manipulate", lambda: {"content": b'{"latent_id": ', "headers": JSON}, 422, "invalid_request",
     "not valid JSON"),
    ("POST", "/manipulate", lambda: edit(solver="euler"), 422, "invalid_request", "solver"),
    ("POST", "/manipulate", lambda: edit(grid="cosine"), 422, "invalid_request", "grid"),
    ("POST", "/manipulate", lambda: edit(strip={"attribute": "Smiling", "amounts": [0.1] * 10}), 422,
     "invalid_request", "strip.amounts"),
    ("POST", "/manipulate", lambda: edit(strip={"attribute": "Smiling", "amounts": []}), 422,
     "invalid_request", "strip.amounts"),
    ("POST", "/manipulate", lambda: edit(strip={"attribute": "Smiling", "amounts": [0.1, 9.0]}), 422,
     "invalid_request", "strip amounts must be within"),
    ("POST", "/manipulate", lambda: edit(strip={"attribute": "Smiling"}), 422, "invalid_request", "amounts"),
    ("POST", "/manipulate", lambda: edit(strip={"attribute": "Smile", "amounts": [0.1]}), 422,
     "unknown_attribute", "Smile"),
    ("POST", "/manipulate", lambda: edit(solver="dpm++2m", steps=37), 422, "invalid_request", "36 or 38"),
    ("POST", "/manipulate", lambda: edit(keep=["Age"]), 422, "unknown_attribute", "Age"),
    ("POST", "/manipulate", lambda: edit(region="nose"), 422, "invalid_request", "region"),
    ("POST", "/manipulate", lambda: edit(keep="Young"), 422, "invalid_request", "keep"),
    ("POST", "/manipulate", lambda: edit(brush="not base64!"), 422, "invalid_request", "brush: not base64"),
    ("POST", "/manipulate", lambda: edit(brush=_b64(b"GIF89a....")), 422, "invalid_request", "readable PNG"),
    ("POST", "/manipulate", lambda: edit(brush=_png_b64((40, 30))), 422, "invalid_request", "square"),
    ("POST", "/manipulate", lambda: edit(brush=_png_b64((2000, 2000))), 422, "invalid_request", "8 to 1024"),
    ("POST", "/manipulate", lambda: edit(brush=_png_b64((32, 32), paint=False)), 422, "invalid_request",
     "the brush mask is empty"),
    ("POST", "/manipulate", lambda: edit(brush="data:image/jpeg;base64,AAAA"), 422, "invalid_request",
     "data:image/png"),
    ("POST", "/manipulate", lambda: edit(brush="A" * 200_001), 422, "invalid_request", "brush"),
    ("POST", "/manipulate", lambda: edit(latent_id="0" * 32), 404, "unknown_latent", "never existed"),
    ("POST", "/manipulate", lambda: edit(latent_id=RAW), 404, "unknown_latent", "not encoded yet"),
    ("POST", "/interpolate", lambda: {"json": {"latent_ids": [LID]}}, 422, "invalid_request", "latent_ids"),
    ("POST", "/interpolate", lambda: mix(frames=3, alphas=[0.5]), 422, "invalid_request", "not both"),
    ("POST", "/interpolate", lambda: mix(alphas=[1.5]), 422, "invalid_request", "alphas"),
    ("POST", "/interpolate", lambda: mix(frames=1), 422, "invalid_request", "frames"),
    ("POST", "/interpolate", lambda: mix(frames=40), 422, "invalid_request", "at most 16"),
    ("POST", "/interpolate", lambda: mix(steps=37), 422, "invalid_request", "36 or 38"),
    ("POST", "/interpolate", lambda: mix(solver="dpm2"), 422, "invalid_request", "solver"),
    ("POST", "/interpolate", lambda: mix(grid="linear"), 422, "invalid_request", "grid"),
    ("POST", "/interpolate", lambda: {"json": {"latent_ids": [LID, "f" * 32]}}, 404, "unknown_latent", "ff"),
    ("POST", "/sample", lambda: {"json": {"n": 2}}, 409, "sampling_unavailable", "latent DPM"),
    ("POST", "/sample", lambda: {"json": {"n": 0}}, 422, "invalid_request", "n"),
    ("POST", "/sample", lambda: {"json": {"n": 1, "solver": "DDIM"}}, 422, "invalid_request", "solver"),
    ("POST", "/directions", lambda: teach(positives=[LID] * 12), 422, "invalid_request",
     "at least 10 different"),
    ("POST", "/directions", lambda: teach(negatives=[f"1{0:031x}"] + [f"2{i:031x}" for i in range(10)]), 422,
     "invalid_request", "both sides"),
    ("POST", "/directions", lambda: teach(name=""), 422, "invalid_request", "name"),
    ("POST", "/directions", lambda: teach(negatives=[]), 422, "invalid_request", "cannot draw"),
    ("POST", "/directions", teach, 404, "unknown_latent", "never existed"),
    ("POST", "/directions/import", lambda: {"json": {**DIRECTION, "preset": "ffhq256"}}, 422,
     "invalid_request", "serves"),
    ("POST", "/directions/import", lambda: {"json": {**DIRECTION, "direction": [0.0] * 4}}, 422,
     "invalid_request", "zeros"),
    ("POST", "/manipulate", lambda: edit(edits={"custom:" + "f" * 32: 0.2}), 404, "unknown_direction",
     "taught direction"),
    ("POST", "/manipulate", lambda: edit(edits={"custom:xyz": 0.2}), 422, "unknown_attribute", "custom:xyz"),
    ("POST", "/manipulate", lambda: edit(keep=["custom:" + "f" * 32]), 422, "unknown_attribute", "custom:"),
    ("GET", "/directions/" + "f" * 32, dict, 404, "unknown_direction", "f" * 32),
    ("DELETE", "/directions/" + "f" * 32, dict, 404, "unknown_direction", "f" * 32),
    ("DELETE", "/latents/nonexistent", dict, 404, "unknown_latent", "nonexistent"),
    ("GET", "/jobs/" + "0" * 32, dict, 404, "unknown_job", "0" * 32),
    ("GET", f"/jobs/{LOST}", dict, 410, "store_reset", "store was reset"),
    ("GET", f"/images/{LOST}", dict, 410, "store_reset", "store was reset"),
    ("POST", "/manipulate", lambda: edit(latent_id=LOST), 410, "store_reset", "upload the photo again"),
    ("DELETE", f"/latents/{LOST}", dict, 410, "store_reset", LOST),
    ("GET", "/jobs/nope/events", dict, 404, "unknown_job", "nope"),
    ("GET", "/images/nope-crop", dict, 404, "unknown_image", "nope-crop"),
    ("GET", "/no/such/thing", dict, 404, "not_found", "Not Found"),
    ("PUT", "/healthz", dict, 405, "method_not_allowed", "PUT is not allowed on /healthz"),
    ("POST", "/attributes", dict, 405, "method_not_allowed", "allowed: GET, HEAD, OPTIONS"),
    ("POST", "/manipulate", lambda: {**edit(), "headers": {"origin": "https://evil.example"}}, 403,
     "forbidden_origin", "https://evil.example"),
]


@pytest.mark.parametrize(
    ("method", "path", "arguments", "status", "code", "needle"),
    CASES,
    ids=[f"{status}-{code}-{path}-{i}" for i, (_, path, _, status, code, _) in enumerate(CASES)],
)
def test_every_client_error(
    api: Api, method: str, path: str, arguments: Callable[[], dict[str, Any]], status: int, code: str,
    needle: str,
) -> None:
    jobs_before = len(list(api.r.scan_iter(match="diffae:job:*")))
    message = check_error(api.client.request(method, path, **arguments()), status, code)
    assert needle in message, message
    assert api.sender.sent == []  # nothing queued
    assert len(list(api.r.scan_iter(match="diffae:job:*"))) == jobs_before  # and no job left behind


def sent(api: Api) -> list[tuple[str, dict[str, Any], str]]:
    """What was queued, each payload's secret image key checked (its own, unguessable) and dropped."""
    found = []
    for name, payload, task_id in api.sender.sent:
        rest = dict(payload)
        key = rest.pop("image_key")
        assert re.fullmatch(r"[0-9a-f]{32}", key) and key[11:] not in task_id and key[11:] not in LID
        found.append((name, rest, task_id))
    return found


def test_every_4xx_code_of_the_status_table_is_answered_by_some_case() -> None:
    from backend.http import JOB_ONLY_CODES, STATUS

    client_errors = {code for code, status in STATUS.items() if 400 <= status < 500} - JOB_ONLY_CODES
    assert {(code, STATUS[code]) for *_, status, code, _ in CASES} == {(c, STATUS[c]) for c in client_errors}
    assert {(status, code) for *_, status, code, _ in CASES} == {(STATUS[c], c) for c in client_errors}


def test_no_worker_and_no_model_are_503_with_retry_after(make_api: Callable[..., Api]) -> None:
    api = make_api(worker=False)
    answer = api.client.post("/manipulate", **edit())
    assert "no worker" in check_error(answer, 503, "queue_unavailable")
    assert answer.headers["Retry-After"] == "5"
    check_error(api.client.post("/encode", **upload(astronaut())), 503, "queue_unavailable")
    assert api.sender.sent == []
    api.r.flushdb()  # no model facts published, and MODEL_DIR does not exist
    api = make_api(facts=False, retry_after_seconds=7)
    answer = api.client.post("/manipulate", **edit())
    assert "MODEL_DIR" in check_error(answer, 503, "model_unavailable")
    assert answer.headers["Retry-After"] == "7"


def test_an_edit_is_queued_once_and_its_result_is_shown_with_urls(api: Api) -> None:
    first = api.client.post("/manipulate", **edit(edits={"Smiling": 0.2, "Young": 0.0}))
    assert first.status_code == 202, first.text
    job_id = first.json()["job_id"]
    urls = {"job_url": f"/jobs/{job_id}", "events_url": f"/jobs/{job_id}/events"}
    assert first.json() == {"job_id": job_id, **urls}
    assert sent(api) == [(MANIPULATE, {"job_id": job_id, "latent_id": LID, "edits": {"Smiling": 0.2,
                                "Young": 0.0}, **SAMPLING, **PLAIN}, job_id)]
    again = api.client.post("/manipulate", **edit(edits={"Smiling": 0.2}, **SAMPLING))
    assert again.json()["job_id"] == job_id and len(api.sender.sent) == 1  # identical: the same job

    # An older worker's result (no solver, grid or strip fields) is shown with their defaults, and
    # without the latent id it named (a job id must not lead to the upload: #16 item 8).
    result = {"latent_id": LID, "edits": {"Smiling": 0.2}, "steps": 20, "image_id": f"{job_id}-crop",
              "photo_id": f"{job_id}-photo", "photo_replaced_id": f"{job_id}-photo-replaced"}
    done = JobState(job_id=job_id, kind="manipulate", status="succeeded", progress=1.0, result=result)
    assert JobStore(api.r).save(done)
    shown = api.client.get(f"/jobs/{job_id}").json()
    assert shown["result"] == {"edits": {"Smiling": 0.2}, "keep": [], "region": None, "brush": False,
                               "steps": 20, "solver": "ddim", "grid": "uniform",
                               "image_url": f"/images/{job_id}-crop",
                               "photo_url": f"/images/{job_id}-photo",
                               "photo_replaced_url": f"/images/{job_id}-photo-replaced", "base_url": None,
                               "strip": None, "strip_urls": []}
    with api.client.stream("GET", f"/jobs/{job_id}/events") as stream:
        events = [line for line in stream.iter_lines() if line.startswith("data: ")]
    assert len(events) == 1 and httpx.Response(200, content=events[0][6:]).json() == shown


def test_interpolations_and_samples_are_queued_with_their_payloads(api: Api) -> None:
    answer = api.client.post("/interpolate", **mix(frames=3, steps=10))
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["job_id"]
    assert sent(api) == [(INTERPOLATE, {"job_id": job_id, "latent_ids": [LID, LID],
                                              "alphas": [0.0, 0.5, 1.0], **SAMPLING, "steps": 10}, job_id)]
    publish(api.storage, INFO.model_copy(update={"can_sample": True, "latent_default_steps": 10}))
    api.client.app.state.services.facts._max_age_s = 0  # type: ignore[attr-defined]  # read them again
    answer = api.client.post("/sample", json={"n": 2, "seed": 7})
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["job_id"]
    name, payload, task_id = sent(api)[1]
    faces = payload.pop("faces")  # each drawn face becomes an upload of its own (#17 item 4)
    assert (name, payload, task_id) == (SAMPLE, {"job_id": job_id, "n": 2, **SAMPLING, "latent_steps": 10,
                                                 "seed": 7, "ttl_seconds": 3600}, job_id)
    ids = [i for face in faces for i in (face["latent_id"], face["image_key"])]
    assert len(faces) == 2 and len(set(ids)) == 4 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert answer.json()["latent_ids"] == [face["latent_id"] for face in faces]  # named at once
    queued = {"job_id": job_id, "kind": "sample", "status": "queued", "progress": 0.0, "result": None,
              "error": None, "queue_position": 1}  # the interpolation waits before it
    assert api.client.get(f"/jobs/{job_id}").json() == queued


def test_solver_grid_and_strip_are_queued_and_each_is_its_own_edit(make_api: Callable[..., Api]) -> None:
    api = make_api(default_solver="dpm++2m", dpm_grid="logsnr", dpm_steps=8, dpm_encode_steps=12)
    first = api.client.post("/manipulate", **edit()).json()["job_id"]
    assert sent(api)[-1][1] | {"job_id": "-"} == {
        "job_id": "-", "latent_id": LID, "edits": {"Smiling": 0.1}, "steps": 8, "solver": "dpm++2m",
        "grid": "logsnr", **PLAIN}  # the default solver with its own grid and steps
    ddim = api.client.post("/manipulate", **edit(solver="ddim")).json()["job_id"]
    assert sent(api)[-1][1] | {"job_id": "-"} == {
        "job_id": "-", "latent_id": LID, "edits": {"Smiling": 0.1}, "steps": INFO.default_steps,
        "solver": "ddim", "grid": "uniform", **PLAIN}  # DDIM's defaults, not the solver's
    quad = api.client.post("/manipulate", **edit(grid="quadratic", steps=8)).json()["job_id"]
    strip = {"attribute": "Young", "amounts": [-0.2, 0.0, 0.2]}
    with_strip = api.client.post("/manipulate", **edit(strip=strip)).json()["job_id"]
    assert api.sender.sent[-1][1]["strip"] == strip
    kept = api.client.post("/manipulate", **edit(keep=["Young", "Smiling", "Young"])).json()["job_id"]
    assert sent(api)[-1][1]["keep"] == ["Smiling", "Young"]  # a conditional edit (#17 item 3), names once
    assert len({first, ddim, quad, with_strip, kept}) == 5 and len(api.sender.sent) == 5  # none from cache
    again = api.client.post("/manipulate", **edit(solver="dpm++2m", grid="logsnr", steps=8)).json()["job_id"]
    assert again == first and len(api.sender.sent) == 5  # the defaults spelt out: the same edit
    assert api.client.post("/manipulate", **edit(keep=["Smiling", "Young"])).json()["job_id"] == kept
    mouth = api.client.post("/manipulate", **edit(region="mouth")).json()["job_id"]  # #17 item 2
    assert sent(api)[-1][1]["region"] == "mouth" and mouth not in (first, kept)
    # A brush mask (#17 item 2): any square PNG or data URL, carried as the model's size, one digest.
    painted = api.client.post("/manipulate", **edit(brush=_png_b64((300, 300)))).json()["job_id"]
    carried = sent(api)[-1][1]["brush"]
    with Image.open(io.BytesIO(base64.b64decode(carried))) as mask:
        assert mask.size == (INFO.image_size, INFO.image_size) and mask.mode == "L"
        painted_px = np.asarray(mask)
    half = INFO.image_size // 2
    assert painted_px[:, :half].min() == 255 and painted_px[:, half:].max() == 0
    same = api.client.post("/manipulate", **edit(brush="data:image/png;base64," + _png_b64((600, 600))))
    assert same.json()["job_id"] == painted  # the same painting at another size: the same edit
    other = api.client.post("/manipulate", **edit(brush=_png_b64((300, 300), left=False))).json()["job_id"]
    both = api.client.post("/manipulate", **edit(region="mouth", brush=_png_b64((300, 300)))).json()["job_id"]
    assert len({painted, other, both, mouth, first}) == 5

    answer = api.client.post("/interpolate", **mix(frames=2, solver="ddim", grid="quadratic"))
    assert answer.status_code == 202 and api.sender.sent[-1][1]["grid"] == "quadratic"
    limits = api.client.get("/attributes").json()["limits"]
    assert (limits["default_solver"], limits["default_grid"], limits["default_steps"],
            limits["default_encode_steps"]) == ("dpm++2m", "logsnr", 8, 12)
    assert limits["solvers"]["ddim"] == {"grid": "uniform", "steps": 20, "encode_steps": 20}
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]
    assert {"solver", "grid", "strip"} <= set(schema["ManipulateRequest"]["properties"])
    assert "strip_urls" in schema["ManipulateOut"]["properties"]
    encode_form = next(v for k, v in schema.items() if k.startswith("Body_encode"))
    assert {"solver", "grid"} <= set(encode_form["properties"])


def test_the_event_stream_forwards_previews_as_named_events(api: Api) -> None:
    job_id = api.client.post("/manipulate", **edit()).json()["job_id"]
    store = JobStore(api.r)
    running = JobState(job_id=job_id, kind="manipulate", status="running", progress=0.0)
    preview = JobPreview(job_id=job_id, step=1, total=10, image="data:image/webp;base64,AAAA")
    done = running.model_copy(update={"status": "failed", "error": JobError(code="timeout", message="x")})

    def publish_later() -> None:
        time.sleep(0.5)  # after the stream has subscribed
        store.save(running)
        store.publish_preview(preview)
        store.save(done)

    worker = threading.Thread(target=publish_later, daemon=True)
    worker.start()
    with api.client.stream("GET", f"/jobs/{job_id}/events") as stream:
        lines = []
        for line in stream.iter_lines():
            if line:
                lines.append(line)
            if len(lines) > 10:  # a bug: do not hang
                break
    worker.join(timeout=5)
    sent = 'data: {"step":1,"total":10,"image":"data:image/webp;base64,AAAA"}'
    assert lines[2:4] == ["event: preview", sent]
    assert [line.startswith("data: ") for line in lines] == [True, True, False, True, True]
    assert '"status":"failed"' in lines[-1]
    assert b"preview" not in b"".join(api.r.hvals(f"diffae:job:{job_id}"))  # never stored


def test_the_event_stream_says_the_place_in_the_queue_as_it_changes(api: Api) -> None:
    """A waiting job's stream carries its `queue_position`, and a new `data:` line when the job
    ahead of it starts (which publishes nothing on this job's channel); none once it runs."""
    ahead = api.client.post("/manipulate", **edit(edits={"Smiling": 0.1})).json()["job_id"]
    job_id = api.client.post("/manipulate", **edit(edits={"Smiling": 0.2})).json()["job_id"]
    store = JobStore(api.r)

    def worker_takes_them() -> None:
        time.sleep(0.5)  # then the job ahead starts: it leaves the queue
        store.save(JobState(job_id=ahead, kind="manipulate", status="running", progress=0.0))
        time.sleep(1.5)  # the stream notices within its 1 s poll
        store.save(JobState(job_id=job_id, kind="manipulate", status="running", progress=0.5))
        store.save(JobState(job_id=job_id, kind="manipulate", status="failed", progress=0.5,
                            error=JobError(code="timeout", message="x")))

    worker = threading.Thread(target=worker_takes_them, daemon=True)
    worker.start()
    with api.client.stream("GET", f"/jobs/{job_id}/events") as stream:
        events = []
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: "):]))
            if len(events) > 6:  # a bug: do not hang
                break
    worker.join(timeout=5)
    assert [(e["status"], e["queue_position"]) for e in events] == [
        ("queued", 1), ("queued", 0), ("running", None), ("failed", None)]


def test_a_job_is_cancelled_by_delete_and_an_identical_edit_then_runs_anew(api: Api) -> None:
    job_id = api.client.post("/manipulate", **edit()).json()["job_id"]
    assert api.client.delete(f"/jobs/{job_id}").status_code == 204
    shown = api.client.get(f"/jobs/{job_id}").json()
    assert shown["status"] == "failed" and shown["error"]["code"] == "cancelled"
    assert api.client.delete(f"/jobs/{job_id}").status_code == 204  # idempotent
    again = api.client.post("/manipulate", **edit()).json()["job_id"]
    assert again != job_id and len(api.sender.sent) == 2  # a cancelled edit is no answer to reuse
    check_error(api.client.delete("/jobs/" + "0" * 32), 404, "unknown_job")
    check_error(api.client.delete(f"/jobs/{job_id}", headers={"origin": "https://elsewhere.example"}),
                403, "forbidden_origin")


def test_a_direction_is_taught_exported_imported_used_and_deleted(api: Api) -> None:
    """#17 item 1, the web tier's side: the teach job is queued with its faces (none twice), an
    exported direction imports under a new id (made unit), edits name it `custom:{id}`, and a
    deleted one is refused."""
    faces = [f"{i:032x}" for i in range(20)]
    for lid in faces:
        encoded_upload(api.storage, lid)
    answer = api.client.post("/directions", json={"name": "Freckles", "positives": faces[:10] + faces[:2],
                                                  "negatives": faces[10:]})
    assert answer.status_code == 202, answer.text
    (name, payload, _), = sent(api)
    assert name == TEACH and payload["positives"] == faces[:10] and payload["negatives"] == faces[10:]
    assert payload["name"] == "Freckles" and re.fullmatch(r"[0-9a-f]{32}", payload["direction_id"])

    imported = api.client.post("/directions/import", json={**DIRECTION, "direction": [3.0, 4.0, 0.0, 0.0]})
    assert imported.status_code == 201, imported.text
    body = imported.json()
    assert body["direction"] == [0.6, 0.8, 0.0, 0.0] and body["edit_name"] == "custom:" + body["direction_id"]
    exported = api.client.get(f"/directions/{body['direction_id']}").json()
    assert exported == body
    head = api.client.head(f"/directions/{body['direction_id']}")
    assert head.status_code == 200 and head.content == b""  # a page's cheap check of a kept slider
    edit_answer = api.client.post("/manipulate", **edit(edits={body["edit_name"]: 0.3, "Smiling": 0.1}))
    assert edit_answer.status_code == 202, edit_answer.text
    assert sent(api)[-1][1]["edits"] == {body["edit_name"]: 0.3, "Smiling": 0.1}
    assert api.client.delete(f"/directions/{body['direction_id']}").status_code == 204
    assert api.client.head(f"/directions/{body['direction_id']}").status_code == 404
    gone = api.client.post("/manipulate", **edit(edits={body["edit_name"]: 0.2}))
    check_error(gone, 404, "unknown_direction")


def test_the_bundled_labelled_faces_are_listed_served_and_can_be_taught_from(
    make_api: Callable[..., Api]
) -> None:
    """#17 item 1's third source of faces: the served model's bundled labelled faces (GET
    /examples, each face a cacheable PNG), named `example:{n}` in a teach request beside uploads;
    only the uploads are claimed. A model without them (or another model's) lists none."""
    demo = REPO / "models" / "weights" / "demo64"
    api = make_api(model_dir=demo)
    listing = api.client.get("/examples").json()
    assert listing["preset"] == INFO.preset and "drawn faces" in listing["source"]
    examples = listing["examples"]
    assert len(examples) >= 100 and examples[7]["example_id"] == "example:7"
    assert examples[7]["image_url"] == "/examples/7.png"
    assert {"Smiling", "Male"} <= set(listing["attributes"]) and set(examples[7]["labels"]) <= set(
        listing["attributes"]) and set(examples[7]["labels"].values()) <= {0, 1}
    png = api.client.get("/examples/7.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.headers["cache-control"].startswith("public")
    assert Image.open(io.BytesIO(png.content)).size == (INFO.image_size, INFO.image_size)
    n = len(examples)
    assert f"has {n}" in check_error(api.client.get(f"/examples/{n}.png"), 404, "unknown_image")

    smiling = [e["example_id"] for e in examples if e["labels"].get("Smiling") == 1][:12]
    uploads = [f"{i:032x}" for i in range(10)]
    for lid in uploads:
        encoded_upload(api.storage, lid)
    answer = api.client.post("/directions", json={"name": "Grin", "positives": smiling, "negatives": uploads})
    assert answer.status_code == 202, answer.text
    (name, payload, _), = sent(api)
    assert name == TEACH and payload["positives"] == smiling and payload["negatives"] == uploads
    straight = [e["example_id"] for e in examples if e["labels"].get("Smiling") == 0][:12]
    only_bundled = api.client.post("/directions", json={"name": "Grin", "positives": smiling,
                                                        "negatives": straight})
    assert only_bundled.status_code == 202, only_bundled.text  # no upload to claim
    for bad in ("example:99999", "example:-1", "example:x"):
        refused = api.client.post("/directions", json={"name": "Grin", "positives": [*smiling[:9], bad],
                                                       "negatives": uploads})
        assert "no bundled face" in check_error(refused, 422, "invalid_request")

    other = make_api(model_dir=demo)
    publish(other.storage, INFO.model_copy(update={"preset": "ffhq256"}))
    assert other.client.get("/examples").json()["examples"] == []  # the served model is another
    check_error(other.client.get("/examples/0.png"), 404, "unknown_image")
    bare = make_api()  # its model dir holds no such file
    assert bare.client.get("/examples").json() == {"preset": INFO.preset, "source": "", "attributes": [],
                                                   "examples": []}


def test_a_page_can_ask_whether_an_upload_is_still_there(api: Api) -> None:
    """Cheap existence check for the page's kept uploads (one Redis read, no image), and the
    uploads' lifetime in /attributes' limits."""
    assert api.client.get(f"/latents/{LID}").status_code == 204
    assert api.client.head(f"/latents/{LID}").status_code == 204
    check_error(api.client.get("/latents/" + "0" * 32), 404, "unknown_latent")
    check_error(api.client.get(f"/latents/{LOST}"), 410, "store_reset")
    assert api.client.get("/attributes").json()["limits"]["ttl_seconds"] == 3600
