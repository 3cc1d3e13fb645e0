// Following a job to its end: server-sent events from GET /jobs/{id}/events, falling back to
// polling GET /jobs/{id} when the stream cannot be opened or drops before a final status. The
// stream also carries the worker's previews (named "preview" events; polling has none). While
// the job waits in the queue, the stream's events carry its place (`queue_position`, sent again
// as it changes); a server whose stream does not is asked GET /jobs/{id} once a second instead.

import { ApiError, job as getJob, jobEventsUrl } from "./api.js";

const FINAL = new Set(["succeeded", "failed"]);
const POLL_FIRST_MS = 250;
const POLL_MAX_MS = 1500;
const QUEUE_POLL_MS = 1000;

/** A job that ended with status "failed": carries the job's error `{code, message}`. */
export class JobFailedError extends ApiError {
  constructor(error) {
    super(200, String(error.code), String(error.message));
    this.name = "JobFailedError";
  }
}

function abortError() {
  return new DOMException("The job is no longer wanted", "AbortError");
}

const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener("abort", () => {
    clearTimeout(timer);
    reject(abortError());
  }, { once: true });
});

/** A preview's image, if it is what the server sends: a base64 WebP or PNG data URL. */
const PREVIEW_IMAGE = /^data:image\/(?:webp|png);base64,[A-Za-z0-9+/]+={0,2}$/;

/**
 * Resolve with the job's `result` once it succeeds; reject with `JobFailedError` when it fails,
 * with `ApiError` when the server refuses (e.g. unknown_job), with an AbortError on `signal`.
 * `onUpdate({status, progress, ahead})` is called for every update seen, progress in 0..1, ahead:
 * while queued, how many jobs queued before it still wait (null when not known);
 * `onPreview({step, total, image})` for every preview (image: a checked data URL).
 */
export async function watchJob(jobId, { signal, onUpdate = () => {}, onPreview = () => {} } = {}) {
  if (signal?.aborted) throw abortError();
  const stop = new AbortController();
  const stopped = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  let status = "queued";
  let ahead = null;
  let streamedPlace = false; // the stream carries the place in the queue: no need to ask
  const update = (u) => {
    if (u.streamed && Number.isInteger(u.ahead)) streamedPlace = true;
    // The stream says "queued" without the place; the last one polled still holds.
    ahead = u.status === "queued" ? u.ahead ?? ahead : null;
    status = u.status;
    onUpdate({ ...u, ahead });
  };
  const waiting = () => (streamedPlace ? "streamed" : status);
  watchQueue(jobId, stopped, waiting, update).catch(() => {}); // the place in the queue is a nicety
  try {
    if (typeof EventSource === "function") {
      const outcome = await streamJob(jobId, signal, update, onPreview);
      if (outcome.done) return settle(outcome.job);
    }
    return settle(await pollJob(jobId, signal, update));
  } finally {
    stop.abort();
  }
}

/** While the job is queued (`status()`) and the stream does not say, its place in the queue once a second. */
async function watchQueue(jobId, signal, status, onUpdate) {
  for (;;) {
    await sleep(QUEUE_POLL_MS, signal);
    if (status() !== "queued") return;
    const job = await getJob(jobId, { signal });
    if (job.status !== "queued" || status() !== "queued") return; // the other watch reports the rest
    onUpdate({ status: "queued", progress: 0, ahead: Number.isInteger(job.queue_position) ? job.queue_position : null });
  }
}

function settle(job) {
  if (job.status === "succeeded") return job.result ?? {};
  throw new JobFailedError(job.error);
}

/** `{done: true, job}` on a final status; `{done: false}` when the stream gave up early. */
function streamJob(jobId, signal, onUpdate, onPreview) {
  return new Promise((resolve, reject) => {
    const source = new EventSource(jobEventsUrl(jobId));
    const close = () => {
      source.close();
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      close();
      reject(abortError());
    };
    // Every event is the job as GET /jobs/{id} shows it, of the default type; the server's
    // keep-alive comments never reach this handler.
    const onData = (event) => {
      const job = JSON.parse(event.data);
      const ahead = Number.isInteger(job.queue_position) ? job.queue_position : null;
      onUpdate({ status: job.status, progress: Number(job.progress) || 0, ahead, streamed: true });
      if (FINAL.has(job.status)) {
        close();
        resolve({ done: true, job });
      }
    };
    // A preview: the image the job's current step predicts, shown until the result replaces it.
    const onPreviewEvent = (event) => {
      let preview;
      try {
        preview = JSON.parse(event.data);
      } catch {
        return;
      }
      if (typeof preview?.image !== "string" || !PREVIEW_IMAGE.test(preview.image)) return;
      onPreview({ step: Number(preview.step) || 0, total: Number(preview.total) || 0, image: preview.image });
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    source.addEventListener("message", onData);
    source.addEventListener("preview", onPreviewEvent);
    source.onerror = () => {
      // The browser would reconnect by itself; polling is simpler to reason about and also
      // covers servers (or proxies) that do not stream.
      close();
      resolve({ done: false });
    };
  });
}

async function pollJob(jobId, signal, onUpdate) {
  let delay = POLL_FIRST_MS;
  for (;;) {
    const job = await getJob(jobId, { signal });
    const ahead = Number.isInteger(job.queue_position) ? job.queue_position : null;
    onUpdate({ status: job.status, progress: Number(job.progress) || 0, ahead });
    if (FINAL.has(job.status)) return job;
    await sleep(delay, signal);
    delay = Math.min(POLL_MAX_MS, delay * 1.5);
  }
}
