"""Live previews and strips in the worker: `service.manipulate` and `service.encode` under
`run_job` on a real Redis with a tiny model in the runtime (no model directory, no Celery).

Previews are the x̂0 of every k-th decoding step, published on the job's channel before the job
ends and never written to its hash; a strip's amounts are rendered in the edit's batch."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import redis
import torch
from PIL import Image

from models.classifier import AttributeClassifier
from models.images import to_uint8
from models.pipeline import DiffAEPipeline
from models.unet import DiffAEUNet
from tests.models.nets import TINY_CONFIG, TINY_SIZE, TINY_Z, perturbed
from tests.service.stack import RedisServer
from worker import service
from worker.contracts import EncodeJob, JobState, ManipulateJob, Strip
from worker.ids import image_id
from worker.runtime import Runtime
from worker.settings import WorkerSettings
from worker.storage import Keys, Latent, UploadMeta, base_id

pytestmark = pytest.mark.integration

LID = "a" * 32
JID = "b" * 32
UPLOAD_KEY, JOB_KEY = "c" * 32, "d" * 32  # the upload's and the job's secret image keys


@pytest.fixture(scope="module")
def pipe() -> DiffAEPipeline:
    torch.manual_seed(0)
    classifier = AttributeClassifier(["Smiling", "Young"], TINY_Z)
    with torch.no_grad():
        classifier.weight.normal_()
    unet = perturbed(DiffAEUNet(TINY_CONFIG.autoencoder), 1)
    return DiffAEPipeline(TINY_CONFIG, unet, classifier=classifier, device="cpu", dtype=torch.float32)


def runtime(redis_server: RedisServer, pipe: DiffAEPipeline, **settings: Any) -> Runtime:
    rt = Runtime(WorkerSettings(redis_url=redis_server.url(), **settings))
    rt._pipeline = pipe  # the model a worker would have loaded from MODEL_DIR
    meta = UploadMeta(latent_id=LID, quad=[[0, 0], [0, 16], [16, 16], [16, 0]], faces=[(0, 0, 16, 16)],
                      face=0, preset="tiny", image_size=TINY_SIZE, photo_size=(16, 16), image_key=UPLOAD_KEY)
    aligned = io.BytesIO()
    Image.fromarray(np.full((TINY_SIZE, TINY_SIZE, 3), 128, np.uint8)).save(aligned, format="PNG")
    rt.storage.create_upload(meta, aligned.getvalue(), aligned.getvalue())
    return rt


def encoded(rt: Runtime) -> None:
    g = torch.Generator().manual_seed(1)
    latent = Latent(torch.randn(TINY_Z, generator=g).numpy(),
                    torch.randn(3, TINY_SIZE, TINY_SIZE, generator=g).numpy(), "tiny", 10)
    rt.storage.put_latent(LID, latent)


def claimed(rt: Runtime, kind: str) -> None:
    queued = JobState(job_id=JID, kind=kind, status="queued", progress=0.0)  # type: ignore[arg-type]
    assert rt.storage.claim(queued, require_worker=False) is not None


class Channel:
    """Every message of the job's channel, with its arrival time."""

    def __init__(self, client: redis.Redis) -> None:
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self._pubsub = client.pubsub()
        self._pubsub.subscribe(Keys.events(JID))
        self._pubsub.get_message(timeout=1)  # the subscription's confirmation
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._stop = threading.Event()
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            message = self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
            if message is not None:
                self.messages.append((time.monotonic(), json.loads(message["data"])))

    def close(self) -> list[tuple[float, dict[str, Any]]]:
        time.sleep(0.2)
        self._stop.set()
        self._thread.join()
        self._pubsub.close()
        return self.messages


@pytest.fixture
def channel(r: redis.Redis) -> Iterator[Channel]:
    ch = Channel(r)
    yield ch
    ch._stop.set()


def test_an_edit_publishes_previews_before_it_ends_and_stores_none(
    redis_server: RedisServer, r: redis.Redis, pipe: DiffAEPipeline, channel: Channel
) -> None:
    rt = runtime(redis_server, pipe, preview_every=2)
    encoded(rt)
    claimed(rt, "manipulate")
    job = ManipulateJob(job_id=JID, image_key=JOB_KEY, latent_id=LID, edits={"Smiling": 0.3}, steps=10,
                        solver="dpm++2m", grid="quadratic")
    result = service.run_job(rt, job, service.manipulate)
    assert result is not None
    messages = channel.close()
    previews = [m for _, m in messages if m.get("type") == "preview"]
    states = [m for _, m in messages if "status" in m]
    assert [p["step"] for p in previews] == [1, 3, 5, 7, 9] and {p["total"] for p in previews} == {10}
    assert all(p["image"].startswith(("data:image/webp;base64,", "data:image/png;base64,")) for p in previews)
    assert all(len(p["image"]) < 8000 for p in previews)  # a few KB
    order = [m.get("type") or m["status"] for _, m in messages]
    assert order.index("preview") < order.index("succeeded") and order[-1] == "succeeded"
    assert states[0]["status"] == "running"
    # The last preview is close to the result (x̂0 converges to it), the first much less so.
    final = np.asarray(Image.open(io.BytesIO(rt.storage.stored_bytes(image_id(JOB_KEY, "crop")))), np.float32)

    def gap(p: dict[str, Any]) -> float:
        data = p["image"].split(",", 1)[1]
        image = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"), np.float32)
        return float(np.abs(image - final).mean())

    assert gap(previews[-1]) < gap(previews[0])
    stored = r.hgetall(Keys.job(JID))
    assert b"preview" not in b"".join(stored.values()) and b"base64" not in b"".join(stored.values())
    assert result["solver"] == "dpm++2m" and result["grid"] == "quadratic"
    # the base of this sampler
    assert rt.storage.has_image(base_id(rt.storage.meta(LID), 10, "dpm++2m", "quadratic"))


def test_no_previews_when_turned_off(
    redis_server: RedisServer, pipe: DiffAEPipeline, channel: Channel
) -> None:
    rt = runtime(redis_server, pipe, preview_every=0)
    encoded(rt)
    claimed(rt, "manipulate")
    job = ManipulateJob(job_id=JID, image_key=JOB_KEY, latent_id=LID, edits={"Smiling": 0.3}, steps=4)
    assert service.run_job(rt, job, service.manipulate) is not None
    assert not [m for _, m in channel.close() if m.get("type") == "preview"]


def test_an_encode_previews_its_reconstruction(
    redis_server: RedisServer, pipe: DiffAEPipeline, channel: Channel
) -> None:
    rt = runtime(redis_server, pipe, preview_every=1)
    claimed(rt, "encode")
    job = EncodeJob(job_id=JID, image_key=JOB_KEY, latent_id=LID, steps=6, render_steps=4, solver="dpm++2m",
                    grid="logsnr")
    result = service.run_job(rt, job, service.encode)
    assert result is not None and (result["solver"], result["grid"]) == ("dpm++2m", "logsnr")
    assert result["reconstruction_id"] == base_id(rt.storage.meta(LID), 4, "dpm++2m", "logsnr")
    previews = [m for _, m in channel.close() if m.get("type") == "preview"]
    assert [(p["step"], p["total"]) for p in previews] == [(7, 10), (8, 10), (9, 10)]  # the render's steps


def test_a_strip_is_rendered_in_the_edits_batch(redis_server: RedisServer, pipe: DiffAEPipeline) -> None:
    rt = runtime(redis_server, pipe, preview_every=0)
    encoded(rt)
    claimed(rt, "manipulate")
    batches: list[int] = []
    real = pipe.decode

    def spy(z_sem: torch.Tensor, x_T: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        batches.append(len(z_sem))
        return real(z_sem, x_T, *args, **kwargs)

    pipe.decode = spy  # type: ignore[method-assign]
    try:
        strip = Strip(attribute="Young", amounts=[-0.4, 0.0, 0.4])
        job = ManipulateJob(job_id=JID, image_key=JOB_KEY, latent_id=LID,
                            edits={"Smiling": 0.3, "Young": 0.1}, steps=4, strip=strip)
        result = service.run_job(rt, job, service.manipulate)
    finally:
        del pipe.decode
    assert result is not None and batches == [1 + 3 + 1]  # the edit, the strip, the unedited base
    assert result["strip_ids"] == [image_id(JOB_KEY, f"strip{i:02d}") for i in range(3)]
    crops = [np.asarray(Image.open(io.BytesIO(rt.storage.stored_bytes(iid))), np.float32)
             for iid in result["strip_ids"]]
    assert np.abs(crops[0] - crops[2]).mean() > 1  # different amounts, different faces
    # Frame i is the edits with Young at amounts[i]: decoded alone, the same image.
    z_0 = torch.from_numpy(rt.storage.latent(LID).z_sem.copy())[None]
    x_T = torch.from_numpy(rt.storage.latent(LID).x_T.copy())[None]
    alone = real(pipe.manipulate(z_0, {"Smiling": 0.3, "Young": 0.4}), x_T, 4)
    assert np.abs(to_uint8(alone[0]).astype(np.float32) - crops[2]).max() <= 2  # batched kernels round
