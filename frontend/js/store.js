// The one store: plain state, replaced (never mutated) by `update`, announced by a "change"
// event. Renders are batched to one per animation frame by whoever listens.

// A task: busy, status ("preparing" | "uploading" | "queued" | "running"), progress 0..1, and
// while queued `ahead`, how many jobs wait before it (null: not known yet).
export const idleTask = Object.freeze({ busy: false, status: "", progress: 0, ahead: null });

export function initialState() {
  return {
    health: "checking", // "checking" | "ok" | "down"
    serving: null, // the model the workers serve (GET /healthz `model`), null until they say
    attributes: [], // [{name, label, min, max, step, description}]
    model: null, // {preset, imageSize} of the served model (GET /attributes)
    canSample: false, // the model can draw new faces (GET /attributes `can_sample`)
    drawn: { ...idleTask, faces: [] }, // faces drawn by the model (drawn.js): [{id, imageUrl}]
    // "Make your own slider" (teach.js): marks: face id → "has" | "not"; taught: the id just taught
    // examples: the model's bundled labelled faces once asked for (GET /examples), `shown` of them
    teach: { ...idleTask, name: "", marks: {}, taught: null,
      examples: { faces: [], attributes: [], shown: 0, loading: false, none: false } },
    custom: [], // taught sliders kept in this browser: [{id, name, editName, accuracy, auroc}]
    limits: null, // {maxUploadBytes, maxPixels, defaultSteps, defaultEncodeSteps, maxSamples}: what the server says
    steps: null, // diffusion steps sent with requests; null = the server's default
    earlier: [], // [{id, alignedUrl}]: this browser's uploads from before the page was loaded, maybe still on the server
    view: "face", // what the viewer shows: "face" | "photo" (before/after) | "faces" (the face picker)
    paste: "change", // how an edit goes into the whole photo: "change" (added) | "replace" (face swapped)
    pasteShown: "change", // the paste mode on screen: differs from `paste` while the chosen one loads
    // {file, name, url, size, shrunk}: the upload (made smaller here when over the server's limits:
    // shrunk = {from: {width, height}, bytes}); url is a local object URL (null if undecodable)
    photo: null,
    encode: idleTask,
    // {id, alignedUrl, reconstructionUrl, photoUrl, faces: [{x0, y0, x1, y1}], face, preset, drawn}
    // (drawn: a face the model drew, drawn.js; its photo is the face itself)
    latent: null,
    expired: null, // {face}: the server forgot the photo (it expired, was deleted elsewhere, a store reset)
    edits: {}, // attribute name → amount; zero amounts are dropped
    hair: "Wavy_Hair",
    keep: false, // "Keep age and gender fixed": edits sent with keep (options.js)
    region: null, // "Change only": "mouth" | "eyes" | "face" | "hair", null = the whole face
    // "Paint where to change" (brush.js): the mask painted on this face, a PNG data URL whose
    // alpha is where the edit applies (null: nothing painted); belongs to the face, gone with it
    brush: null,
    paint: { on: false, size: "medium", erase: false }, // the paint tools: painting on, brush size, erasing
    edit: idleTask,
    preview: null, // {image, step, total}: the running edit's latest preview (a data URL), null otherwise
    result: null, // {imageUrl, photoUrl, photoReplacedUrl, edits}: the last finished edit, kept while a new one runs
    lastAttribute: null, // the attribute of the slider moved last (the strip's)
    strip: { ...idleTask, attribute: null, amounts: [], urls: [] }, // several amounts of one attribute
    second: { photo: null, encode: idleTask, latent: null }, // photo: {file, name, url}
    mix: { ...idleTask, frames: [], gifUrl: null, index: 0, pair: null },
    download: null, // the download link being fetched ("face" | "photo" | "gif"), null otherwise
    alert: null, // {title, detail, code, tone, retry, retryLabel}
    status: "", // one short sentence for the aria-live region
  };
}

export class Store extends EventTarget {
  #state;

  constructor(state = initialState()) {
    super();
    this.#state = state;
  }

  get state() {
    return this.#state;
  }

  /** Merge `patch` (an object, or a function of the state returning one) into the state. */
  update(patch) {
    const next = typeof patch === "function" ? patch(this.#state) : patch;
    this.#state = { ...this.#state, ...next };
    this.dispatchEvent(new Event("change"));
  }
}
