"""Redis storage on a real server: round trips, TTLs on every key, delete finds everything,
the one-round-trip claim of a job (encoded uploads touched, identical edits found, live workers
required), job states published and never resurrected, heartbeats in one sorted set."""

from __future__ import annotations

import json
import time
from typing import cast

import numpy as np
import pytest
import redis

from models.errors import StoreResetError, UnknownImageError, UnknownJobError, UnknownLatentError
from worker.contracts import JobKind, JobPreview, JobState, Strip
from worker.ids import image_id, made_at, new_id
from worker.storage import (
    Composite,
    JobStore,
    Keys,
    Latent,
    RunningJob,
    Storage,
    UploadMeta,
    aligned_id,
    base_id,
    edit_digest,
    parse_message,
)

pytestmark = pytest.mark.integration

LID = "a" * 32
JID = "b" * 32
#: The secret image key of upload LID.
KEY = "c" * 32


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
        image_key=KEY,
    )


def queued(job_id: str, kind: JobKind = "manipulate") -> JobState:
    return JobState(job_id=job_id, kind=kind, status="queued", progress=0.0)


def upload(storage: Storage, lid: str = LID, job_id: str | None = None) -> None:
    """An upload with its encode job (default id: the upload's first letter, repeated)."""
    job = queued(job_id or lid[0] * 31 + "e", "encode")
    storage.create_upload(meta(lid), b"photo-bytes", b"png-bytes", job)


def encoded(storage: Storage, lid: str = LID) -> None:
    upload(storage, lid)
    storage.put_latent(lid, Latent(np.zeros(4, np.float32), np.zeros((3, 2, 2), np.float32), "demo64", 5))


def test_upload_and_latent_round_trip(r: redis.Redis) -> None:
    storage = Storage(r, ttl_s=60)
    upload(storage)
    assert storage.meta(LID) == meta() and storage.photo(LID) == b"photo-bytes"
    assert storage.image(aligned_id(meta())) == (b"png-bytes", "image/png")
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
    worker.put_latent(LID, Latent(np.zeros(4, np.float32), np.zeros((3, 2, 2), np.float32), "demo64", 5))
    worker.put_base(meta(), 5, b"base")
    backend.claim(queued(JID), [LID], edit_digest=edit_digest({"Smiling": 0.1}, 5), require_worker=False)
    worker.put_image(f"{JID}-crop", b"x", "image/png", owner_key=Keys.job(JID), lids=[LID])
    keys = {k.decode() for k in r.scan_iter(match="diffae:*")}
    assert 0 < r.pttl(Keys.QUEUED) <= 30_000
    keys -= {Keys.EPOCH, Keys.QUEUED}  # the store's, not the upload's
    # meta, photo, code, index, images, aligned, base, encode job, edit job, its edit key, its crop
    assert len(keys) == 11 and Keys.images(LID) in keys
    for key in keys:
        assert 0 < r.pttl(key) <= 30_000, key


def test_using_an_upload_gives_it_and_its_unedited_renders_a_full_ttl(r: redis.Redis) -> None:
    storage = Storage(r, ttl_s=30)
    encoded(storage)
    storage.put_base(meta(), 5, b"base")
    own = [Keys.meta(LID), Keys.photo(LID), Keys.code(LID), Keys.index(LID), Keys.image(aligned_id(meta())),
           Keys.images(LID), Keys.image(base_id(meta(), 5))]
    for key in own:
        r.pexpire(key, 1000)
    assert storage.claim(queued(JID), [LID], require_worker=False) == storage.claim(
        queued(JID), [LID], require_worker=False)
    for key in own:
        assert 29_000 < r.pttl(key) <= 30_000, key


def test_a_pasted_back_photo_is_a_small_record_that_goes_with_its_upload(r: redis.Redis) -> None:
    storage = Storage(r, ttl_s=30)
    upload(storage, job_id=JID)
    storage.put_image(f"{JID}-crop", b"crop-png", "image/png", owner_key=Keys.job(JID), lids=[LID])
    assert storage.put_composite(f"{JID}-photo", LID, f"{JID}-crop", owner_key=Keys.job(JID), lids=[LID]) \
        == f"{JID}-photo"
    assert storage.image(f"{JID}-photo") == Composite(latent_id=LID, crop_id=f"{JID}-crop")
    storage.put_composite(f"{JID}-photo2", LID, f"{JID}-crop", base_iid=base_id(meta(), 5),
                          owner_key=Keys.job(JID), lids=[LID])
    assert storage.image(f"{JID}-photo2") == Composite(LID, f"{JID}-crop", base_id=base_id(meta(), 5))
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
    storage = Storage(r, ttl_s=60)
    other = "d" * 32
    for lid in (LID, other):
        encoded(storage, lid)
    storage.put_base(meta(), 5, b"base")
    assert storage.claim(queued(JID, "interpolate"), [LID, other], require_worker=False)
    storage.put_image(f"{JID}-00", b"x", "image/png", owner_key=Keys.job(JID), lids=[LID, other])
    assert storage.claim(queued("e" * 32), [LID], edit_digest=edit_digest({"Smiling": 0.1}, 5),
                         require_worker=False)

    assert storage.delete(LID)
    assert not [k for k in r.scan_iter(match="diffae:*") if LID.encode() in k or JID.encode() in k]
    assert not r.exists(Keys.image(aligned_id(meta())), Keys.image(base_id(meta(), 5)))
    assert storage.meta(other).latent_id == other  # the other upload is intact
    assert not storage.delete(LID)


def test_identical_edits_share_one_digest() -> None:
    assert edit_digest({"a": 0.1, "b": -0.2}, 5) == edit_digest({"b": -0.2, "a": 0.1, "c": 0.0}, 5)
    assert edit_digest({"a": 0.1}, 5) != edit_digest({"a": 0.1}, 6)
    assert edit_digest({"a": 0.1}, 5) != edit_digest({"a": 0.2}, 5)


def test_a_claim_answers_an_identical_edit_with_its_earlier_job_unless_that_failed(r: redis.Redis) -> None:
    storage, jobs = Storage(r, ttl_s=60), JobStore(r)
    encoded(storage)
    digest = edit_digest({"a": 0.1}, 5)

    def claim(job_id: str) -> tuple[str, bool]:
        found = storage.claim(queued(job_id), [LID], edit_digest=digest, require_worker=False)
        assert found is not None
        return found.job_id, found.created

    assert claim("1" * 32) == ("1" * 32, True)
    assert jobs.get("1" * 32) == queued("1" * 32)
    assert claim("2" * 32) == ("1" * 32, False)  # queued, running or succeeded: the same job
    assert not r.exists(Keys.job("2" * 32))
    jobs.save(queued("1" * 32).model_copy(update={"status": "failed"}))
    assert claim("3" * 32) == ("3" * 32, True)  # a failed edit is computed again
    jobs.delete("3" * 32)
    assert claim("4" * 32) == ("4" * 32, True)  # so is one whose job is gone
    storage.abandon("4" * 32, LID, digest)  # its task could not be queued
    assert not r.exists(Keys.job("4" * 32)) and not r.exists(Keys.edit(LID, digest))


def test_a_claim_needs_encoded_uploads_and_a_live_worker(r: redis.Redis) -> None:
    storage = Storage(r, ttl_s=60)
    with pytest.raises(UnknownLatentError, match="never existed"):
        storage.claim(queued(JID), [LID], require_worker=False)
    upload(storage)
    with pytest.raises(UnknownLatentError, match="not encoded yet"):
        storage.claim(queued(JID), [LID], require_worker=False)
    encoded(storage)
    other = "d" * 32
    with pytest.raises(UnknownLatentError, match=repr(other)):
        storage.claim(queued(JID, "interpolate"), [LID, other], require_worker=False)
    assert storage.claim(queued(JID), [LID]) is None  # no heartbeat: nothing written
    assert storage.claim(queued(JID, "sample"), []) is None
    assert not r.exists(Keys.job(JID))
    storage.heartbeat("w1@host", ttl_s=5)
    assert storage.claim(queued(JID, "sample"), []) is not None
    assert JobStore(r).get(JID).kind == "sample"


def test_job_states_are_published_and_not_resurrected(r: redis.Redis) -> None:
    storage, jobs = Storage(r, ttl_s=60), JobStore(r)
    pubsub = r.pubsub()
    pubsub.subscribe(Keys.events(JID))
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"  # type: ignore[index]
    state = queued(JID)
    assert storage.claim(state, require_worker=False)
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


def test_heartbeats_are_members_of_one_sorted_set_that_expire(r: redis.Redis) -> None:
    storage = Storage(r, ttl_s=60)
    assert storage.workers() == [] and storage.published_model() is None
    storage.heartbeat("w1@host", ttl_s=5)
    storage.heartbeat("w2@host", ttl_s=0.3)
    assert storage.workers() == ["w1@host", "w2@host"]
    assert 0 < r.ttl(Keys.WORKERS) <= 5  # the set itself goes when its last member does
    time.sleep(0.4)
    assert storage.workers() == ["w1@host"]  # expired: no longer alive, though still a member
    storage.heartbeat("w1@host", ttl_s=5)  # every heartbeat drops the expired members
    assert r.zrange(Keys.WORKERS, 0, -1) == [b"w1@host"]
    storage.clear_heartbeat("w1@host")
    assert storage.workers() == []


def test_the_digest_and_the_base_id_name_the_sampler() -> None:
    strip = Strip(attribute="a", amounts=[0.1, 0.2])
    digests = {edit_digest({"a": 0.1}, 5), edit_digest({"a": 0.1}, 5, "dpm++2m"),
               edit_digest({"a": 0.1}, 5, "ddim", "quadratic"), edit_digest({"a": 0.1}, 5, strip=strip),
               edit_digest({"a": 0.1}, 5, strip=Strip(attribute="a", amounts=[0.2, 0.1]))}
    assert len(digests) == 5  # each is another request, never answered from another's job
    assert edit_digest({"a": 0.1}, 5) == edit_digest({"a": 0.1}, 5, "ddim", "uniform")
    bases = {base_id(meta(), 20), base_id(meta(), 10), base_id(meta(), 10, "dpm++2m", "quadratic"),
             base_id(meta(), 10, "ddim", "quadratic"), aligned_id(meta())}
    assert len(bases) == 5


def test_previews_are_published_and_never_stored(r: redis.Redis) -> None:
    storage, jobs = Storage(r, 60), JobStore(r)
    assert storage.claim(queued(JID), require_worker=False) is not None
    pubsub = r.pubsub()
    pubsub.subscribe(Keys.events(JID))
    pubsub.get_message(timeout=1)
    jobs.publish_preview(JobPreview(job_id=JID, step=3, total=10, image="data:image/png;base64,AA"))
    message = pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
    assert message is not None and parse_message(message["data"]) == JobPreview(
        job_id=JID, step=3, total=10, image="data:image/png;base64,AA")
    assert isinstance(parse_message(queued(JID).model_dump_json()), JobState)
    assert b"base64" not in b"".join(r.hvals(Keys.job(JID)))
    pubsub.close()


def test_image_ids_cannot_be_derived_from_other_ids() -> None:
    """#16 item 8: image ids were "{latent id}-aligned", "{job id}-crop": whoever saw one id could
    name the others. Now each is a keyed hash under a secret no client sees."""
    key = new_id()
    names = ["aligned", "crop", "photo", "photo-replaced", "gif", "00", "base5-dpm++2m-quadratic"]
    ids = {image_id(key, name) for name in names}
    assert len(ids) == len(names)
    for iid in ids:
        assert made_at(iid) == made_at(key) and iid[11:] not in key  # only the time is shared
    assert image_id(key, "crop") == image_id(key, "crop")  # a redelivered job names it alike
    assert image_id(new_id(), "crop") != image_id(key, "crop")
    assert aligned_id(meta()) != aligned_id(meta().model_copy(update={"image_key": "d" * 32}))
    assert LID not in aligned_id(meta()) and LID not in base_id(meta(), 5)
    a, b = new_id(), new_id()
    assert a != b and abs(cast(float, made_at(a)) - time.time()) < 5 and made_at("x") is None


def running(job_id: str, worker: str) -> RunningJob:
    payload = {"job_id": job_id, "image_key": KEY, "n": 1, "steps": 2, "latent_steps": 2, "seed": 0}
    return RunningJob(worker=worker, task="diffae.sample", payload=payload)


def test_the_running_job_of_a_dead_worker_is_handed_back_once(r: redis.Redis) -> None:
    """#16 item 2: a job whose worker died was "running" until the visibility timeout (2 h). Who
    runs each job is recorded; once that worker's heartbeat expires, one reaper takes it back."""
    storage, jobs = Storage(r, ttl_s=60), JobStore(r)
    other = "d" * 32
    for jid in (JID, other):
        assert storage.claim(queued(jid, "sample"), require_worker=False)
    storage.heartbeat("alive/1", ttl_s=30)
    storage.heartbeat("doomed/1", ttl_s=0.3)
    started = queued(JID, "sample").model_copy(update={"status": "running"})
    assert jobs.save(started, running(JID, "doomed/1"))
    assert jobs.save(started.model_copy(update={"job_id": other}), running(other, "alive/1"))
    assert jobs.reap() == []  # both workers alive
    time.sleep(0.4)
    lost = jobs.reap()
    assert [(j.job_id, j.running.worker, j.losses) for j in lost] == [(JID, "doomed/1", 1)]
    assert lost[0].running == running(JID, "doomed/1")  # what to queue again
    assert jobs.reap() == []  # handed to one reaper only
    assert r.hkeys(Keys.RUNNING) == [other.encode()]
    jobs.finish(other)
    assert r.hlen(Keys.RUNNING) == 0

    # a job that ended before its worker died is not handed back
    assert jobs.save(started, running(JID, "gone/1"))
    jobs.save(started.model_copy(update={"status": "succeeded", "progress": 1.0}))
    assert jobs.reap() == [] and r.hlen(Keys.RUNNING) == 0
    # a second loss is counted (the job queued again, as a hand-back leaves it, and run again)
    r.hset(Keys.job(JID), "status", "queued")
    assert jobs.save(started, running(JID, "gone/2"))
    assert [j.losses for j in jobs.reap()] == [2]


def test_an_id_lost_with_the_store_says_store_reset(r: redis.Redis) -> None:
    """#16 item 11: after Redis restarted without persistence every id read as "never existed or
    expired". An id made before the store began (and not long before) now says what happened."""
    storage, jobs = Storage(r, ttl_s=60), JobStore(r)
    assert storage.claim(queued(JID, "sample"), require_worker=False)  # the first writer sets the epoch
    began = int(r.get(Keys.EPOCH))  # type: ignore[arg-type]
    before = new_id(began / 1000 - 60)  # made a minute before the store began
    fresh, ancient = new_id(), new_id(began / 1000 - 30 * 86400)
    with pytest.raises(StoreResetError, match="store was reset"):
        storage.meta(before)
    with pytest.raises(StoreResetError):
        jobs.get(before)
    with pytest.raises(StoreResetError):
        storage.image(before)
    with pytest.raises(StoreResetError):
        storage.claim(queued(JID), [before], require_worker=False)
    for unknown in (fresh, ancient, "0" * 32, "not-an-id"):  # made since, or long before: plain unknown
        with pytest.raises(UnknownLatentError):
            storage.meta(unknown)
        with pytest.raises(UnknownJobError):
            jobs.get(unknown)
    r.flushdb()  # the store restarts empty: the next writer (or reader) sets a new epoch
    with pytest.raises(StoreResetError):
        jobs.get(new_id(time.time() - 5))


def test_an_upload_stored_by_an_older_version_is_unknown_not_a_crash(r: redis.Redis) -> None:
    """A persistent Redis may keep uploads across an upgrade that changed their meta (this one
    added the image key): such an upload is refused with its reason, never a 500."""
    storage = Storage(r, ttl_s=60)
    upload(storage)
    old = meta().model_dump(mode="json")
    del old["image_key"]
    r.set(Keys.meta(LID), json.dumps(old))
    with pytest.raises(UnknownLatentError, match="older version"):
        storage.meta(LID)


def test_a_cancelled_job_reads_cancelled_and_takes_no_more_writes(r: redis.Redis) -> None:
    """#17 item 6: a superseded edit is cancelled: a queued one is never run, a running one's
    next save is refused (the worker stops), a finished one is left as it was."""
    storage, jobs = Storage(r, ttl_s=60), JobStore(r)
    assert storage.claim(queued(JID), require_worker=False)
    pubsub = r.pubsub()
    pubsub.subscribe(Keys.events(JID))
    pubsub.get_message(timeout=1)
    running = queued(JID).model_copy(update={"status": "running", "progress": 0.3})
    assert jobs.save(running)
    state = jobs.cancel(JID, "replaced by a newer edit")
    assert state.status == "failed" and state.error is not None and state.error.code == "cancelled"
    assert jobs.get(JID) == state
    published = [json.loads(m["data"]) for m in iter(lambda: pubsub.get_message(timeout=0.5), None)
                 if m["type"] == "message"]
    assert published[-1]["error"]["code"] == "cancelled"  # event streams end with it
    assert not jobs.save(running.model_copy(update={"progress": 0.6}))  # the worker's next step
    assert not jobs.save(running.model_copy(update={"status": "succeeded", "progress": 1.0}))
    assert jobs.get(JID) == state
    done = "d" * 32
    assert storage.claim(queued(done), require_worker=False)
    assert jobs.save(queued(done).model_copy(update={"status": "running"}))
    assert jobs.save(queued(done).model_copy(update={"status": "succeeded", "progress": 1.0}))
    assert jobs.cancel(done, "too late").status == "succeeded"  # ended: left as it is
    with pytest.raises(UnknownJobError):
        jobs.cancel("e" * 32, "never existed")
    pubsub.close()


def test_a_queued_job_knows_how_many_wait_before_it(r: redis.Redis) -> None:
    """#17 (a rough edge): no queue position while waiting behind another user."""
    storage, jobs = Storage(r, ttl_s=60), JobStore(r)
    ids = [f"{i:032x}" for i in range(1, 4)]
    for jid in ids:
        assert storage.claim(queued(jid, "sample"), require_worker=False)
    assert [jobs.queue_position(j) for j in ids] == [0, 1, 2]
    first = queued(ids[0], "sample").model_copy(update={"status": "running"})
    assert jobs.save(first, running(ids[0], "w/1"))  # a worker takes the first
    assert [jobs.queue_position(j) for j in ids] == [None, 0, 1]
    jobs.cancel(ids[1], "replaced")
    assert jobs.queue_position(ids[2]) == 0
    jobs.save(first.model_copy(update={"status": "queued", "progress": 0.0}))  # handed back: waits again
    assert jobs.queue_position(ids[0]) == 1
    jobs.delete(ids[2])  # its upload was deleted: the worker that takes its message drops it
    jobs.finish(ids[2])
    assert jobs.queue_position(ids[2]) is None and jobs.queue_position(ids[0]) == 0
