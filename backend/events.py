"""Server-sent events of one job: its state now, then every change until a final status.

Each event is the job as `GET /jobs/{id}` shows it, as a `data:` line of the default event type
(so `EventSource.onmessage` gets it); after `keepalive_s` of silence the job is read again (a
change whose message was lost is sent, else a `: keep-alive` comment). While the job renders, the
worker's previews come as named events, `event: preview` with `data: {"step", "total", "image"}`
(a data URL): clients that listen only to the default type never see them.

While the job waits in the queue its `queue_position` is sent too, and sent again (a new `data:`
line) whenever it changes: the place is looked up every `queue_poll_s` (one ZRANK), since jobs
ahead of it starting publish nothing on its channel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from backend.results import present
from worker.contracts import JobPreview, JobState
from worker.storage import AsyncJobStore

KEEP_ALIVE = ": keep-alive\n\n"


def _data(state: JobState, queue_position: int | None = None) -> str:
    return f"data: {present(state, queue_position).model_dump_json()}\n\n"


def _preview(preview: JobPreview) -> str:
    return f"event: preview\ndata: {preview.model_dump_json(include={'step', 'total', 'image'})}\n\n"


async def _position(store: AsyncJobStore, state: JobState) -> int | None:
    return await store.queue_position(state.job_id) if state.status == "queued" else None


async def job_events(store: AsyncJobStore, job_id: str, keepalive_s: float = 15.0,
                     queue_poll_s: float = 1.0) -> AsyncIterator[str]:
    """The event stream's chunks; ends at a final status, or when the job is gone (expired or
    deleted). Subscribes before reading the job, so no change between the two is lost."""
    async with store.subscribe(job_id) as changes:
        last = await store.get(job_id)
        if last is None:
            return
        position = await _position(store, last)
        yield _data(last, position)
        quiet = 0.0
        while not last.final:
            wait = min(queue_poll_s, keepalive_s) if last.status == "queued" else keepalive_s
            state = await changes.next(wait)
            if isinstance(state, JobPreview):
                yield _preview(state)
                continue
            if state is None:
                quiet += wait
                if last.status == "queued":
                    now = await store.queue_position(job_id)
                    if now != position and now is not None:  # None: it started (its message follows)
                        position = now
                        yield _data(last, position)
                        continue
                    if quiet < keepalive_s:
                        continue
                quiet = 0.0
                state = await store.get(job_id)
                if state is None:
                    return
                if state == last:
                    yield KEEP_ALIVE
                    continue
            quiet = 0.0
            last = state
            position = await _position(store, state)
            yield _data(state, position)
