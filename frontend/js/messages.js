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
};

const TITLES = { ...SERVER_TITLES, ...CLIENT_TITLES };

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
  const detail = typeof error?.message === "string" && error.message !== title ? error.message : "";
  return { title, detail, code };
}
