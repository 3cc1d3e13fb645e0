"""Shared fixtures: where the reference material lives (a skip when it is absent), one torch
thread for every test (autouse), and a private redis-server for the tests that talk to Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.service.stack import RedisServer

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIFFAE_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """`../shared/reference` (third-party material, never committed); skip when absent."""
    ref = SHARED / "reference"
    if not ref.is_dir():
        pytest.skip(f"reference material not found at {ref} (set DIFFAE_SHARED to ../shared)")
    return ref


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> Iterator[None]:
    """torch on one thread for the whole run, restored after: the two cores are shared with
    training jobs, and two threads oversubscribe them and run ~10x slower. Session-scoped so that
    it is in place before any module-scoped fixture builds or trains a model."""
    try:
        import torch
    except ImportError:  # an environment without torch (the web tier's own): nothing to set
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server for the session, started on first use (`r` flushes it per test)."""
    server = RedisServer(Path(tmp_path_factory.mktemp("redis"))).start()
    yield server
    server.stop()


@pytest.fixture
def r(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client of the private redis-server, its database empty."""
    client = redis_server.client()
    client.flushdb()
    yield client
    client.close()
