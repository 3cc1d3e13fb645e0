"""The worker's compiled engine: chosen at worker start in the background while eager serves, its
export cached on disk (MODEL_CACHE_DIR) and reused by the next worker, a broken cache served eager.
A real worker process, Redis and API of their own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.service.conftest import encode
from tests.service.stack import Api, RedisServer, Worker, stack_env, stop_all, wait_until

pytestmark = pytest.mark.integration

READY = "engine onnxruntime-float32 (per step:"


@dataclass
class Own:
    redis: RedisServer
    api: Api
    logs: Path
    model_dir: Path

    def worker(self, name: str, cache: Path, engine: str = "onnxruntime") -> Worker:
        env = stack_env(self.redis.url(), self.model_dir, engine=engine, model_cache_dir=cache)
        return Worker(env, self.logs, name).start().wait_ready(self.redis.client())


@pytest.fixture(scope="module")
def own(model_dir: Path, logs: Path) -> Iterator[Own]:
    server = RedisServer(logs).start()
    api = Api(stack_env(server.url(), model_dir), logs, "api-engine").start()
    try:
        api.wait_ready()
        yield Own(server, api, logs, model_dir)
    finally:
        stop_all(api)
        server.stop()


def test_engine_warms_in_the_background_and_its_export_is_reused(
        own: Own, astronaut_jpeg: bytes, tmp_path: Path) -> None:
    cache = tmp_path / "engines"
    first = own.worker("warm1", cache)
    with own.api.client() as client:
        encode(client, astronaut_jpeg)  # sent at once: served, eager or not, never refused
        wait_until(lambda: READY in first.log.read_text(), 180, "the engine to be chosen")
        log = first.log.read_text()
        assert "exported step" in log and "exported encode" in log
        (step,) = cache.rglob("step.onnx")
        stamp = step.stat().st_mtime_ns
        encode(client, astronaut_jpeg)  # now on the engine
        first.stop()

        second = own.worker("warm2", cache)
        wait_until(lambda: READY in second.log.read_text(), 180, "the second worker's engine")
        assert "exported" not in second.log.read_text()  # loaded from the cache, not exported again
        assert step.stat().st_mtime_ns == stamp
        encode(client, astronaut_jpeg)
        second.stop()


def test_a_corrupt_engine_cache_serves_eager_with_a_log_line(
        own: Own, astronaut_jpeg: bytes, tmp_path: Path) -> None:
    cache = tmp_path / "engines"
    worker = own.worker("warm3", cache)
    wait_until(lambda: READY in worker.log.read_text(), 180, "the engine to be chosen")
    worker.stop()
    for path in cache.rglob("*.onnx"):
        path.write_bytes(b"garbage")
    broken = own.worker("warm4", cache)
    wait_until(lambda: "engine eager" in broken.log.read_text(), 180, "the fallback to eager")
    assert "not usable" in broken.log.read_text()
    with own.api.client() as client:
        encode(client, astronaut_jpeg)
    broken.stop()
