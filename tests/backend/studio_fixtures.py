"""The web tier in-process for route tests: `create_app` on a private Redis, with the model facts
and a worker heartbeat published the way a worker publishes them, and encoded uploads made the way
the worker stores them, so that no model and no worker process is needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from backend.settings import Settings
from worker.contracts import JobState, ModelInfo
from worker.storage import Latent, Storage, UploadMeta

#: The served model: two directions, no latent DPM, the official 1000 timesteps.
INFO = ModelInfo(
    model_dir="demo", preset="demo64", image_size=64, num_timesteps=1000, default_steps=20,
    latent_default_steps=None, can_sample=False, attributes=["Smiling", "Young"],
)
WORKER = "w@test"


class RecordingSender:
    """A `TaskSender` that records what would have been queued."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], str]] = []

    def send(self, name: str, kwargs: dict[str, Any], task_id: str) -> None:
        self.sent.append((name, kwargs, task_id))

    def close(self) -> None:
        pass


def settings(redis_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """The web tier's settings for a test: no frontend unless asked, a model dir that does not exist
    (the facts come from Redis)."""
    values: dict[str, Any] = {"redis_url": redis_url, "model_dir": tmp_path / "no-model",
                              "frontend_dir": tmp_path / "no-frontend", **overrides}
    return Settings(**values)


def publish(storage: Storage, info: ModelInfo = INFO, worker: bool = True) -> None:
    """What a live worker's heartbeat publishes: its model facts and its heartbeat."""
    storage.publish_model(info, 600)
    if worker:
        storage.heartbeat(WORKER, 600)


def encoded_upload(storage: Storage, lid: str, *, encoded: bool = True) -> None:
    """An upload as the web tier stores it (with its encode job), encoded as the worker stores it."""
    meta = UploadMeta(latent_id=lid, quad=[[0, 0], [0, 64], [64, 64], [64, 0]], faces=[(0, 0, 64, 64)],
                      face=0, preset=INFO.preset, image_size=INFO.image_size, photo_size=(64, 64),
                      image_key="c" * 32)
    job = JobState(job_id="e" * 32, kind="encode", status="succeeded", progress=1.0)
    storage.create_upload(meta, b"photo", b"aligned-png", job)
    if encoded:
        latent = Latent(np.zeros(4, np.float32), np.zeros((3, 2, 2), np.float32), INFO.preset, 10)
        storage.put_latent(lid, latent)
