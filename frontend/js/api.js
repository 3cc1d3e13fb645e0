// HTTP client for the studio API (docs/service.md). Every failure becomes an `ApiError` with the
// server's stable `code` (every error answer is `{"error": {"code", "message"}}`); an aborted
// request rejects with the DOMException "AbortError" untouched so callers can tell "superseded"
// from "failed".

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the server could not be reached)
   * @param {string} code the server's error code, e.g. "no_face"; "network" when it could not be
   *   reached; "" when the answer was not the server's own (e.g. a proxy's error page)
   * @param {string} message the server's message, meant for people (render with textContent)
   * @param {number|null} retryAfter seconds from a Retry-After header, if any
   */
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export const isAbort = (error) => error?.name === "AbortError";

function errorFromBody(response, body) {
  const retry = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  const retryAfter = Number.isFinite(retry) ? retry : null;
  const error = body?.error;
  if (error && typeof error === "object") {
    return new ApiError(response.status, String(error.code), String(error.message), retryAfter);
  }
  return new ApiError(response.status, "", response.statusText, retryAfter);
}

async function request(method, path, { json, form, signal } = {}) {
  const init = { method, signal, headers: { Accept: "application/json" } };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new ApiError(0, "network", "The server could not be reached.");
  }
  if (response.status === 204) return null;
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    if (isAbort(error)) throw error;
  }
  if (!response.ok) throw errorFromBody(response, body);
  return body;
}

/**
 * POST /encode: the photo (and which face, the inversion's steps and the reconstruction's
 * renderSteps; null = the server's defaults) → `{job_id}`.
 */
export function encode(file, { face = null, steps = null, renderSteps = null, signal } = {}) {
  const form = new FormData();
  form.append("image", file, file.name || "photo");
  if (face !== null) form.append("face", String(face));
  if (steps !== null) form.append("steps", String(steps));
  if (renderSteps !== null) form.append("render_steps", String(renderSteps));
  return request("POST", "/encode", { form, signal });
}

/**
 * POST /manipulate: `edits` maps attribute name → amount; `strip` ({attribute, amounts}) also
 * renders several amounts of one attribute in the same job; `keep`: attribute names held fixed
 * (a conditional edit); `region` ("mouth" | "eyes" | "face" | "hair"): the only part of the face
 * that changes; `brush` (a PNG data URL painted on the aligned face, its alpha where the edit
 * applies): alone, the only part that changes, with `region` both do; `solver` ("ddim" | "dpm++2m").
 */
export function manipulate(latentId, edits, {
  steps = null, strip = null, keep = [], region = null, brush = null, solver = null, signal,
} = {}) {
  const json = { latent_id: latentId, edits };
  if (steps !== null) json.steps = steps;
  if (strip !== null) json.strip = strip;
  if (keep.length) json.keep = keep;
  if (region !== null) json.region = region;
  if (brush !== null) json.brush = brush;
  if (solver !== null) json.solver = solver;
  return request("POST", "/manipulate", { json, signal });
}

/** POST /interpolate between two latents, `frames` evenly spaced mixes including both ends. */
export function interpolate(latentIds, { frames, steps = null, signal } = {}) {
  const json = { latent_ids: latentIds, frames };
  if (steps !== null) json.steps = steps;
  return request("POST", "/interpolate", { json, signal });
}

/** POST /sample: `n` new faces drawn by the model, each an upload of its own → `{job_id}`. */
export function sample(n, { steps = null, signal } = {}) {
  const json = { n };
  if (steps !== null) json.steps = steps;
  return request("POST", "/sample", { json, signal });
}

/** POST /directions: teach a slider from example faces → `{job_id}`. */
export const teach = ({ name, positives, negatives }, { signal } = {}) =>
  request("POST", "/directions", { json: { name, positives, negatives }, signal });

/** GET /examples: the model's bundled labelled faces (`example:<n>` ids to teach from, image URLs, labels). */
export const examples = ({ signal } = {}) => request("GET", "/examples", { signal });

/**
 * HEAD /directions/{id}: whether the server still has a taught slider (false: it expired, was
 * deleted, or a face it was taught from was); throws when the server cannot say.
 */
export async function directionExists(id, { signal } = {}) {
  try {
    await request("HEAD", `/directions/${encodeURIComponent(id)}`, { signal });
    return true;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 410)) return false;
    throw error;
  }
}

/** GET /directions/{id}: a taught slider as its exported file. */
export const direction = (id) => request("GET", `/directions/${encodeURIComponent(id)}`);

/** POST /directions/import: an exported slider again, under a new id (201, as GET answers). */
export const importDirection = (body) => request("POST", "/directions/import", { json: body });

export const deleteDirection = (id) => request("DELETE", `/directions/${encodeURIComponent(id)}`);

export const job = (jobId, { signal } = {}) =>
  request("GET", `/jobs/${encodeURIComponent(jobId)}`, { signal });

/** DELETE /jobs/{id}: cancel a job that has not ended (it then reads failed, code `cancelled`). */
export const cancelJob = (jobId) => request("DELETE", `/jobs/${encodeURIComponent(jobId)}`);

export const jobEventsUrl = (jobId) => `/jobs/${encodeURIComponent(jobId)}/events`;

export const attributes = ({ signal } = {}) => request("GET", "/attributes", { signal });

export const health = ({ signal } = {}) => request("GET", "/healthz", { signal });

export const deleteLatent = (latentId) =>
  request("DELETE", `/latents/${encodeURIComponent(latentId)}`);

/**
 * GET an image the server made (a `safeUrl`): its bytes as a Blob, or the server's error (e.g.
 * unknown_image once it has expired). `fresh` skips the browser's cache, to ask whether the server
 * still has it.
 */
export async function image(url, { fresh = false, signal } = {}) {
  let response;
  try {
    response = await fetch(url, { signal, cache: fresh ? "no-store" : "default" });
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new ApiError(0, "network", "The server could not be reached.");
  }
  if (response.ok) return response.blob();
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    if (isAbort(error)) throw error;
  }
  throw errorFromBody(response, body);
}

/**
 * A URL from the server, made safe to put in `src`/`href`: only same-origin http(s) URLs pass,
 * anything else (javascript:, data:, other hosts) becomes null.
 */
export function safeUrl(url) {
  if (typeof url !== "string" || url === "") return null;
  try {
    const parsed = new URL(url, window.location.href);
    if (parsed.origin !== window.location.origin) return null;
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
    return parsed.pathname + parsed.search;
  } catch {
    return null;
  }
}
