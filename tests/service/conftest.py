"""One shared stack for the service tests: private redis-server, one solo Celery worker on the
test model (small T), uvicorn on a free port. Tests that break processes start their own."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import skimage.data
from PIL import Image

from tests.service.stack import Api, RedisServer, Worker, model_dir_for_tests, stack_env, stop_all, wait_job

#: Upload limits of the shared API, small enough to test 413 cheaply.
MAX_UPLOAD_BYTES = 1_500_000
MAX_PIXELS = 3_000_000
#: Upload lifetime on the second API (`Stack.short_ttl_api`), for the expiry test.
SHORT_TTL = 8


@dataclass
class Stack:
    redis: RedisServer
    worker: Worker
    api: Api
    short_ttl_api: Api  # same Redis and worker, uploads expire after SHORT_TTL seconds
    model_dir: Path


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return model_dir_for_tests()


@pytest.fixture(scope="session")
def stack(model_dir: Path, logs: Path) -> Iterator[Stack]:
    server = RedisServer(logs).start()
    worker = Worker(stack_env(server.url(), model_dir), logs, "main").start()
    env = stack_env(server.url(), model_dir, max_upload_bytes=MAX_UPLOAD_BYTES, max_pixels=MAX_PIXELS)
    api = Api(env, logs).start()
    short_ttl_api = Api(stack_env(server.url(), model_dir, ttl_seconds=SHORT_TTL), logs, "api-ttl").start()
    try:
        api.wait_ready()
        short_ttl_api.wait_ready()
        worker.wait_ready(server.client())
        yield Stack(server, worker, api, short_ttl_api, model_dir)
    finally:
        stop_all(api, short_ttl_api, worker)
        server.stop()


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    with stack.api.client() as c:
        yield c


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    """skimage's astronaut (512×512, one face)."""
    return Image.fromarray(skimage.data.astronaut())


@pytest.fixture(scope="session")
def astronaut_jpeg(astronaut: Image.Image) -> bytes:
    return jpeg(astronaut)


def encode(client: httpx.Client, photo: bytes, steps: int = 10, **form: Any) -> dict[str, Any]:
    """POST /encode and wait; the succeeded job's result."""
    answer = client.post(
        "/encode",
        files={"image": ("photo.jpg", photo, "image/jpeg")},
        data={"steps": str(steps), **{k: str(v) for k, v in form.items()}},
    )
    assert answer.status_code == 202, answer.text
    job = wait_job(client, answer.json()["job_id"])
    assert job["status"] == "succeeded", job
    result: dict[str, Any] = job["result"]
    assert result["latent_id"] == answer.json()["latent_id"]
    return result


@pytest.fixture(scope="session")
def encoded(stack: Stack, astronaut_jpeg: bytes) -> dict[str, Any]:
    """The astronaut, encoded once for the session (inversion and reconstruction T=10)."""
    with stack.api.client() as c:
        return encode(c, astronaut_jpeg, steps=10, render_steps=10)
