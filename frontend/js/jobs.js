// Following a job to its end: server-sent events from GET /jobs/{id}/events, falling back to
// polling GET /jobs/{id} when the stream cannot be opened or drops before a final status. The
// stream also carries the worker's previews (named "preview" events; polling has none).

import { ApiError, job as getJob, jobEventsUrl } from "./api.js";

const FINAL = new Set(["succeeded", "failed"]);
const POLL_FIRST_MS = 250;
const POLL_MAX_MS = 1500;

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
 * `onUpdate({status, progress})` is called for every update seen, progress in 0..1;
 * `onPreview({step, total, image})` for every preview (image: a checked data URL).
 */
export async function watchJob(jobId, { signal, onUpdate = () => {}, onPreview = () => {} } = {}) {
  if (signal?.aborted) throw abortError();
  if (typeof EventSource === "function") {
    const outcome = await streamJob(jobId, signal, onUpdate, onPreview);
    if (outcome.done) return settle(outcome.job);
  }
  return settle(await pollJob(jobId, signal, onUpdate));
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
      onUpdate({ status: job.status, progress: Number(job.progress) || 0 });
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
    onUpdate({ status: job.status, progress: Number(job.progress) || 0 });
    if (FINAL.has(job.status)) return job;
    await sleep(delay, signal);
    delay = Math.min(POLL_MAX_MS, delay * 1.5);
  }
}
