"""Server-sent events of one job: its state now, then every change until a final status.

Each event is the job as `GET /jobs/{id}` shows it, as a `data:` line of the default event type
(so `EventSource.onmessage` gets it); after `keepalive_s` of silence the job is read again (a
change whose message was lost is sent, else a `: keep-alive` comment). While the job renders, the
worker's previews come as named events, `event: preview` with `data: {"step", "total", "image"}`
(a data URL): clients that listen only to the default type never see them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from backend.results import present
from worker.contracts import JobPreview, JobState
from worker.storage import AsyncJobStore

KEEP_ALIVE = ": keep-alive\n\n"


def _data(state: JobState) -> str:
    return f"data: {present(state).model_dump_json()}\n\n"


def _preview(preview: JobPreview) -> str:
    return f"event: preview\ndata: {preview.model_dump_json(include={'step', 'total', 'image'})}\n\n"


async def job_events(store: AsyncJobStore, job_id: str, keepalive_s: float = 15.0) -> AsyncIterator[str]:
    """The event stream's chunks; ends at a final status, or when the job is gone (expired or
    deleted). Subscribes before reading the job, so no change between the two is lost."""
    async with store.subscribe(job_id) as changes:
        last = await store.get(job_id)
        if last is None:
            return
        yield _data(last)
        while not last.final:
            state = await changes.next(keepalive_s)
            if isinstance(state, JobPreview):
                yield _preview(state)
                continue
            if state is None:
                state = await store.get(job_id)
                if state is None:
                    return
                if state == last:
                    yield KEEP_ALIVE
                    continue
            last = state
            yield _data(state)
