"""Redis storage on a real server: round trips, TTLs on every key, delete finds everything,
job states are published and never resurrected."""

from __future__ import annotations

import json
from typing import cast

import numpy as np
import pytest
import redis

from backend.errors import UnknownJobError, UnknownLatentError
from worker.storage import (
    Composite,
    JobStore,
    Keys,
    Latent,
    Storage,
    UnknownImageError,
    UploadMeta,
    edit_digest,
)

pytestmark = pytest.mark.integration

LID = "a" * 32
JID = "b" * 32


def meta(lid: str = LID) -> UploadMeta:
    quad = [[10.0, 10.0], [10.0, 74.0], [74.0, 74.0], [74.0, 10.0]]
    return UploadMeta(
        latent_id=lid,
        quad=quad,
        faces=[(20, 20, 60, 60)],
        face=0,
        preset="demo64",
        image_size=64,
        photo_size=(100, 100),
    )


def upload(storage: Storage, lid: str = LID) -> None:
    storage.create_upload(meta(lid), b"photo-bytes", b"png-bytes")


def test_upload_and_latent_round_trip(r: redis.Redis) -> None:
    storage = Storage(r, ttl_s=60)
    upload(storage)
    assert storage.meta(LID) == meta() and storage.photo(LID) == b"photo-bytes"
    assert storage.image(f"{LID}-aligned") == (b"png-bytes", "image/png")
    with pytest.raises(UnknownLatentError, match="not encoded yet"):
        storage.latent(LID)
    rng = np.random.default_rng(0)
    z, x = rng.standard_normal(512).astype(np.float32), rng.standard_normal((3, 64, 64)).astype(np.float32)
    storage.put_latent(LID, Latent(z_sem=z, x_T=x, preset="demo64", steps=10))
    back = storage.latent(LID)
    assert np.array_equal(back.z_sem, z) and np.array_equal(back.x_T, x)  # bit-exact float32
    assert (back.preset, back.steps) == ("demo64", 10)
    with pytest.raises(UnknownLatentError, match="never existed"):
        storage.latent("c" * 32)
    with pytest.raises(UnknownImageError):
        storage.image("nope")


def test_every_key_expires_with_the_upload(r: redis.Redis) -> None:
    backend, worker = Storage(r, ttl_s=30), Storage(r, ttl_s=3600)  # the worker's own TTL is only a fallback
    upload(backend)
    JobStore(r, 30).create(JID, "encode", [LID], backend)
    worker.put_latent(LID, Latent(np.zeros(4, np.float32), np.zeros((3, 2, 2), np.float32), "demo64", 5))
    worker.put_image(f"{JID}-crop", b"x", "image/png", owner_key=Keys.job(JID), lids=[LID])
    keys = list(r.scan_iter(match="diffae:*"))
    assert len(keys) == 7
    for key in keys:
        assert 0 < r.pttl(key) <= 30_000, key


def test_a_pasted_back_photo_is_a_small_record_that_goes_with_its_upload(r: redis.Redis) -> None:
    storage = Storage(r, ttl_s=30)
    upload(storage)
    JobStore(r, 30).create(JID, "manipulate", [LID], storage)
    storage.put_image(f"{JID}-crop", b"crop-png", "image/png", owner_key=Keys.job(JID), lids=[LID])
    assert storage.put_composite(f"{JID}-photo", LID, f"{JID}-crop", owner_key=Keys.job(JID), lids=[LID]) \
        == f"{JID}-photo"
    assert storage.image(f"{JID}-photo") == Composite(latent_id=LID, crop_id=f"{JID}-crop")
    storage.put_composite(f"{JID}-photo2", LID, f"{JID}-crop", base_iid=f"{JID}-base",
                          owner_key=Keys.job(JID), lids=[LID])
    assert storage.image(f"{JID}-photo2") == Composite(LID, f"{JID}-crop", base_id=f"{JID}-base")
    assert storage.stored_bytes(f"{JID}-crop") == b"crop-png"
    with pytest.raises(UnknownImageError):  # nothing stored to hand out as bytes
        storage.stored_bytes(f"{JID}-photo")
    key = Keys.image(f"{JID}-photo")
    assert 0 < r.pttl(key) <= 30_000 and cast(int, r.memory_usage(key)) < 1000
    assert key.encode() in r.smembers(Keys.index(LID))
    storage.delete(LID)
    with pytest.raises(UnknownImageError):
        storage.image(f"{JID}-photo")


def test_delete_removes_everything_of_one_upload_only(r: redis.Redis) -> None:
    storage, jobs = Storage(r, ttl_s=60), JobStore(r, 60)
    other = "d" * 32
    for lid in (LID, other):
        upload(storage, lid)
    jobs.create(JID, "interpolate", [LID, other], storage)
    storage.put_image(f"{JID}-00", b"x", "image/png", owner_key=Keys.job(JID), lids=[LID, other])
    assert storage.claim_edit(LID, edit_digest({"Smiling": 0.1}, 5), "e" * 32) is None

    assert storage.delete(LID)
    assert not [k for k in r.scan_iter(match="diffae:*") if LID.encode() in k or JID.encode() in k]
    assert storage.meta(other).latent_id == other  # the other upload is intact
    assert not storage.delete(LID)


def test_identical_edits_share_one_digest(r: redis.Redis) -> None:
    assert edit_digest({"a": 0.1, "b": -0.2}, 5) == edit_digest({"b": -0.2, "a": 0.1, "c": 0.0}, 5)
    assert edit_digest({"a": 0.1}, 5) != edit_digest({"a": 0.1}, 6)
    assert edit_digest({"a": 0.1}, 5) != edit_digest({"a": 0.2}, 5)
    storage = Storage(r, ttl_s=60)
    upload(storage)
    digest = edit_digest({"a": 0.1}, 5)
    assert storage.claim_edit(LID, digest, "1" * 32) is None
    assert storage.claim_edit(LID, digest, "2" * 32) == "1" * 32


def test_job_states_are_published_and_not_resurrected(r: redis.Redis) -> None:
    storage, jobs = Storage(r, ttl_s=60), JobStore(r, 60)
    pubsub = r.pubsub()
    pubsub.subscribe(Keys.events(JID))
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"  # type: ignore[index]
    state = jobs.create(JID, "manipulate", [], storage)
    running = state.model_copy(update={"status": "running", "progress": 0.5})
    assert jobs.save(running)
    assert jobs.get(JID) == running
    message = pubsub.get_message(timeout=1)
    assert message is not None and json.loads(message["data"])["progress"] == 0.5

    jobs.delete(JID)
    with pytest.raises(UnknownJobError):
        jobs.get(JID)
    assert not jobs.save(running.model_copy(update={"status": "succeeded", "progress": 1.0}))
    assert not r.exists(Keys.job(JID))
    pubsub.close()


def test_heartbeats_and_published_model(r: redis.Redis) -> None:
    storage = Storage(r, ttl_s=60)
    assert storage.workers() == [] and storage.published_model() is None
    storage.heartbeat("w1@host", {"pid": 1}, ttl_s=5)
    assert storage.workers() == ["w1@host"]
    assert 0 < r.ttl(Keys.worker("w1@host")) <= 5
    storage.clear_heartbeat("w1@host")
    assert storage.workers() == []
