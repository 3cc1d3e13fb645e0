"""The API's cache of composed photos: bounded by bytes, least recently used out, and an
upload's photos forgotten when it is deleted."""

from __future__ import annotations

from backend.photos import ComposedCache


def test_keeps_the_most_recently_used_within_its_bytes() -> None:
    cache = ComposedCache(max_bytes=10)
    cache.put("a", "L1", b"aaaa")
    cache.put("b", "L1", b"bbbb")
    assert cache.get("a") == b"aaaa"  # a is now the most recent
    cache.put("c", "L2", b"cccc")  # 12 bytes > 10: the least recent (b) goes
    assert cache.get("b") is None and cache.get("a") == b"aaaa" and cache.get("c") == b"cccc"
    cache.put("a", "L1", b"A" * 6)  # replacing an entry counts its new size only: 6 + 4 fit
    assert len(cache) == 2 and cache.get("c") == b"cccc"
    cache.put("a", "L1", b"A" * 7)  # 7 + 4 do not: c, now the least recent, goes
    assert len(cache) == 1 and cache.get("a") == b"A" * 7 and cache.get("c") is None
    cache.put("huge", "L3", b"x" * 11)  # bigger than the whole cache: not kept, nothing evicted
    assert cache.get("huge") is None and cache.get("a") == b"A" * 7


def test_drop_forgets_every_photo_of_one_upload() -> None:
    cache = ComposedCache(max_bytes=100)
    cache.put("j1-photo", "L1", b"1")
    cache.put("j1-photo-replaced", "L1", b"2")
    cache.put("j2-photo", "L2", b"3")
    cache.drop("L1")
    assert cache.get("j1-photo") is None and cache.get("j1-photo-replaced") is None
    assert cache.get("j2-photo") == b"3" and len(cache) == 1
    cache.put("j3-photo", "L2", b"x" * 99)  # the freed bytes are free again: j2 (1 byte) still fits
    assert cache.get("j2-photo") == b"3"


def test_zero_bytes_keeps_nothing() -> None:
    cache = ComposedCache(max_bytes=0)
    cache.put("a", "L", b"a")
    assert cache.get("a") is None and len(cache) == 0
