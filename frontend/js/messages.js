// Error codes → a sentence for people. The server's own message is shown underneath as detail
// (always through textContent).
//
// SERVER_TITLES has one entry for every code the server can send (models/errors.py `CODES` and the
// web tier's own codes in backend/http.py; tests/backend/test_http_codes.py keeps the lists equal);
// CLIENT_TITLES has the codes this page makes up itself.

const SERVER_TITLES = {
  no_face: "No face found in this photo. Try one where a face is clearly visible, "
    + "looking roughly at the camera and not too small.",
  unsupported_image: "This file can't be read as a photo. Please use a JPEG, PNG or WebP image.",
  too_large: "This photo is too large. Please choose a smaller one.",
  queue_unavailable: "The editing queue is down right now, so nothing can be processed.",
  unknown_latent: "This photo has expired on the server. Please upload it again.",
  unknown_job: "The server lost track of this job (it may have restarted). Please try again.",
  unknown_image: "This image has expired on the server. Please upload the photo again.",
  unknown_attribute: "The model has no direction for one of these attributes.",
  invalid_request: "The server did not accept these settings.",
  sampling_unavailable: "This model can't draw new faces.",
  alignment_unavailable: "The server's face finder isn't working right now, so photos can't be read.",
  model_unavailable: "The face model isn't available on the server yet.",
  job_failed: "The server could not finish this job.",
  cancelled: "This edit was cancelled: a newer one replaced it.",
  unknown_direction: "This slider is gone from the server (it expired, or a face it was taught from was "
    + "deleted). Teach it again or import it.",
  worker_lost: "The server's worker kept stopping on this job, so it was given up. Try a smaller photo "
    + "or fewer diffusion steps.",
  store_reset: "The server was restarted and forgot this photo. Please upload it again.",
  timeout: "This took too long on the server. Try fewer diffusion steps (under Quality).",
  not_found: "The server doesn't know this address.",
  method_not_allowed: "The server doesn't accept this kind of request here.",
  forbidden_origin: "The server only accepts changes from its own page. Open the studio at the server's own address.",
  internal_error: "The server had a problem with this request.",
};

const CLIENT_TITLES = {
  network: "The server can't be reached. Check your connection and try again.",
  not_a_slider: "This file isn't a slider saved from this page (use its Export).",
};

const TITLES = { ...SERVER_TITLES, ...CLIENT_TITLES };

/**
 * Codes that mean the server no longer has the photo (or a picture made from it). Their detail
 * is the page's own: the server's message names internal ids, which mean nothing to people.
 */
const GONE_DETAILS = {
  unknown_latent: "The server keeps photos, and every picture made from them, for a limited time only.",
  unknown_image: "The server keeps photos, and every picture made from them, for a limited time only.",
  store_reset: "The server's storage was emptied when it restarted.",
};

export const isGone = (error) => Object.hasOwn(GONE_DETAILS, error?.code ?? "");

/**
 * `{title, detail, code}` once the page knows which upload the server forgot: the first photo
 * (`primary`), the second (the mix's face B) or both; `reset`: lost in a store reset, not expired.
 */
export function describeGone({ reset, primary, second }) {
  const code = reset ? "store_reset" : "unknown_latent";
  const detail = GONE_DETAILS[code];
  if (primary && !second) return { title: TITLES[code], detail, code };
  const which = primary ? "both photos" : "the second photo";
  const title = reset ? `The server was restarted and forgot ${which}.`
    : `${primary ? "Both photos have" : "The second photo has"} expired on the server.`;
  return { title: `${title} Please upload ${primary ? "them" : "it"} again.`, detail, code };
}

/** `{title, detail}` for an error from api.js or jobs.js (or anything thrown). */
export function describeError(error, doing = "") {
  const code = error?.code ?? "";
  let title = TITLES[code];
  if (!title) {
    title = error?.status >= 500 ? "The server had a problem" : "Something went wrong";
    title += doing ? ` while ${doing}.` : ".";
  }
  if (code === "queue_unavailable") {
    title += error.retryAfter ? ` Please try again in ${error.retryAfter} s.` : " Please try again shortly.";
  }
  const detail = GONE_DETAILS[code]
    ?? (typeof error?.message === "string" && error.message !== title ? error.message : "");
  return { title, detail, code };
}
