"""What an edit request costs in Redis round trips before its 202 (`-s` prints them): a new edit
at most 3 (the model facts when not kept yet, the claim script, the task's LPUSH), an identical
earlier one at most 2, and neither grows with the database (no SCAN of the keyspace)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from backend.app import create_app
from tests.backend.redis_calls import counting
from tests.backend.studio_fixtures import encoded_upload, publish, settings
from tests.service.stack import RedisServer
from worker.storage import Storage

pytestmark = pytest.mark.integration

LID = "a" * 32


@pytest.fixture
def client(redis_server: RedisServer, r: redis.Redis, tmp_path: Path) -> Iterator[TestClient]:
    """The app with its real Celery producer against the private Redis (nothing consumes)."""
    storage = Storage(r, 600)
    publish(storage)
    encoded_upload(storage, LID)
    for i in range(1000):  # unrelated keys: a request's cost must not grow with them
        r.set(f"other:{i}", b"x")
    with TestClient(create_app(settings(redis_server.url(), tmp_path))) as c:
        edit = c.post("/manipulate", json={"latent_id": LID, "edits": {"Young": 0.3}})  # connections, scripts
        assert edit.status_code == 202, edit.text
        yield c


def trips(client: TestClient, edits: dict[str, float]) -> tuple[str, list[str]]:
    """(job id, the round trips of one POST /manipulate)."""
    with counting() as sent:
        answer = client.post("/manipulate", json={"latent_id": LID, "edits": edits})
    assert answer.status_code == 202, answer.text
    return answer.json()["job_id"], sent.calls


def test_an_edit_costs_at_most_three_round_trips(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    facts = client.app.state.services.facts  # type: ignore[attr-defined]
    measured: dict[str, tuple[str, list[str]]] = {}
    monkeypatch.setattr(facts, "_max_age_s", 0.0)  # the model facts are read on every request
    measured["new edit, model facts read"] = trips(client, {"Smiling": 0.1})
    measured["identical edit, model facts read"] = trips(client, {"Smiling": 0.1})
    monkeypatch.setattr(facts, "_max_age_s", 60.0)  # ... or kept (the service keeps them 5 s)
    measured["new edit, model facts kept"] = trips(client, {"Smiling": 0.2})
    measured["identical edit, model facts kept"] = trips(client, {"Smiling": 0.2})
    for name, (_, calls) in measured.items():
        print(f"\n{name}: {len(calls)} round trips: {calls}")
    (new, cold_new), (same, cold_same), (new2, warm_new), (same2, warm_same) = measured.values()
    assert same == new and same2 == new2 != new  # identical edits answer with the earlier job
    assert len(cold_new) <= 3 and len(cold_same) <= 2
    assert len(warm_new) <= 2 and len(warm_same) <= 1
    assert not any("SCAN" in c or "KEYS" in c for _, calls in measured.values() for c in calls)


def test_healthz_and_a_new_upload_find_workers_without_scanning(client: TestClient) -> None:
    """#16 item 5: /healthz and every new job found the workers by SCANning the keyspace (3 ms →
    700 ms with 200k unrelated keys). Now one sorted set: a fixed number of round trips, none a
    scan, whatever else the database holds."""
    import skimage.data
    from PIL import Image

    from tests.backend.test_routes import image_bytes

    photo = image_bytes(Image.fromarray(skimage.data.astronaut()), "JPEG", quality=90)
    client.get("/healthz")  # loads the live-workers script into Redis once
    with counting() as health:
        assert client.get("/healthz").status_code == 200
    with counting() as upload:
        answer = client.post("/encode", files={"image": ("a.jpg", photo, "image/jpeg")})
        assert answer.status_code == 202, answer.text
    print(f"\n/healthz: {health.calls}\nPOST /encode: {upload.calls}")
    assert len(health) <= 2 and len(upload) <= 4
    assert not any("SCAN" in c or "KEYS" in c for c in [*health.calls, *upload.calls])
