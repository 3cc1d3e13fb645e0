"""Issue #16, item 4: a frozen Redis (the process stopped, its socket open) costs a request about
REDIS_TIMEOUT_SECONDS before its 503 `queue_unavailable`, not timeout × retries (it was ~31 s),
and the API serves again as soon as Redis does."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from tests.backend.studio_fixtures import RecordingSender, encoded_upload, publish, settings
from tests.http_errors import check_error
from tests.service.stack import REPO, RedisServer
from worker.storage import Storage

LID = "0123456789abcdef0123456789abcdef"


@pytest.fixture(params=["no-model-dir", "model-dir"])
def frozen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[RedisServer, TestClient]]:
    """With MODEL_DIR readable (as deployed) the model facts come from it while Redis is frozen,
    and the next Redis call times out instead; without it, the facts' own read does."""
    server = RedisServer(tmp_path).start()
    storage = Storage(server.client(), 600)
    publish(storage, worker=True)
    encoded_upload(storage, LID)
    model = {"model_dir": REPO / "models" / "weights" / "demo64"} if request.param == "model-dir" else {}
    app = create_app(settings(server.url(), tmp_path, frontend_dir=REPO / "frontend", **model),
                     sender=RecordingSender())
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200  # connections made while Redis answers
        try:
            yield server, client
        finally:
            server.signal(signal.SIGCONT)
            server.stop()


def test_a_frozen_redis_answers_503_within_about_a_second(frozen: tuple[RedisServer, TestClient]) -> None:
    server, client = frozen
    server.signal(signal.SIGSTOP)
    for method, path, body in (("GET", "/healthz", None),
                               ("POST", "/manipulate", {"latent_id": LID, "edits": {}})):
        start = time.monotonic()
        answer = client.request(method, path, json=body)
        took = time.monotonic() - start
        if path == "/healthz":  # its own body: the health report, with the error in it
            assert answer.status_code == 503 and answer.json()["redis"] is False
            assert answer.json()["error"]["code"] == "queue_unavailable"
        else:
            check_error(answer, 503, "queue_unavailable")
        assert int(answer.headers["retry-after"]) > 0
        # one REDIS_TIMEOUT_SECONDS (1 s), not one for the model facts and one for the job (2 s)
        assert took < 1.8, f"{method} {path} took {took:.1f} s against a frozen Redis"
    server.signal(signal.SIGCONT)
    deadline = time.monotonic() + 10
    while client.get("/healthz").status_code != 200:
        assert time.monotonic() < deadline, "the API did not recover when Redis did"
        time.sleep(0.1)
