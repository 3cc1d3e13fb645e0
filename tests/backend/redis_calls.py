"""Counting Redis round trips: every request a client writes to a Redis socket goes through
`send_packed_command` (a pipeline or a script call is one), sync or asyncio, redis-py or kombu."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis.asyncio.connection as aconnection
import redis.connection as connection


class RoundTrips:
    """The commands sent while `counting()` is active, one entry per round trip."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def record(self, command: Any) -> None:
        with self._lock:
            self.calls.append(_describe(command))

    def __len__(self) -> int:
        return len(self.calls)


def _describe(command: Any) -> str:
    """The command names in one packed write (`*2\\r\\n$3\\r\\nGET...` or a list of such chunks)."""
    chunks = command if isinstance(command, list | tuple) else [command]
    data = b"".join(c if isinstance(c, bytes) else bytes(c) if isinstance(c, memoryview) else str(c).encode()
                    for c in chunks)
    names, lines = [], data.split(b"\r\n")
    for i, line in enumerate(lines):
        if line.startswith(b"*") and i + 2 < len(lines):
            names.append(lines[i + 2].decode(errors="replace").upper())
    return "+".join(names)


@contextmanager
def counting() -> Iterator[RoundTrips]:
    """Count round trips of every Redis client in this process while the block runs."""
    trips = RoundTrips()
    sync_send = connection.AbstractConnection.send_packed_command
    async_send = aconnection.AbstractConnection.send_packed_command

    def send(self: Any, command: Any, check_health: bool = True) -> None:
        trips.record(command)
        sync_send(self, command, check_health)

    async def asend(self: Any, command: Any, check_health: bool = True) -> None:
        trips.record(command)
        await async_send(self, command, check_health)

    connection.AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
    aconnection.AbstractConnection.send_packed_command = asend  # type: ignore[method-assign]
    try:
        yield trips
    finally:
        connection.AbstractConnection.send_packed_command = sync_send  # type: ignore[method-assign]
        aconnection.AbstractConnection.send_packed_command = async_send  # type: ignore[method-assign]
