// The studio's actions: upload → encode, slider edits → manipulate, two faces → interpolate,
// delete. Each action updates the store; only view.js touches the page.
//
// Superseded work is cancelled: every flow owns an AbortController (the fetch and the job watch
// share its signal), and slider results also carry a sequence number so a late answer to an old
// request can never replace a newer one.

import * as api from "./api.js";
import { ApiError, isAbort, safeUrl } from "./api.js";
import { watchJob } from "./jobs.js";
import { describeError } from "./messages.js";
import { idleTask, initialState } from "./store.js";

const EDIT_DEBOUNCE_MS = 250;
const MIX_FRAMES = 7;
const HEALTH_RETRY_MS = 15000;
/** Error codes worth a "Try again" button: the same request may well succeed later. */
const TRANSIENT = new Set(["queue_unavailable", "network", "unknown_job", "job_failed", "timeout"]);

/** Fetch and decode an image so swapping it into the page shows it at once. */
function preload(url) {
  if (!url) return Promise.resolve();
  const img = new Image();
  img.src = url;
  return img.decode().catch(() => {});
}

/** Natural (EXIF-oriented) size of a local image URL, or null if the browser can't decode it. */
async function imageSize(url) {
  const img = new Image();
  img.src = url;
  try {
    await img.decode();
    return { width: img.naturalWidth, height: img.naturalHeight };
  } catch {
    return null;
  }
}

/** A face of the encode result (`{box: [left, top, right, bottom]}`) as `{x0, y0, x1, y1}`. */
function faceBox({ box: [x0, y0, x1, y1] }) {
  return { x0, y0, x1, y1 };
}

function latentFrom(result) {
  return {
    id: String(result.latent_id),
    alignedUrl: safeUrl(result.aligned_url),
    reconstructionUrl: safeUrl(result.reconstruction_url),
    photoUrl: safeUrl(result.photo_url), // the reconstruction pasted back
    faces: result.faces.map(faceBox),
    face: result.face,
    preset: result.preset,
  };
}

const taskFrom = ({ status, progress }) => ({ busy: true, status, progress });

export class Studio {
  #controllers = new Map();
  #editTimer = null;
  #editSeq = 0;
  #uploadSeq = 0;
  #retry = null;
  #healthTimer = null;

  constructor(store) {
    this.store = store;
  }

  get state() {
    return this.store.state;
  }

  #begin(name) {
    this.#controllers.get(name)?.abort();
    const controller = new AbortController();
    this.#controllers.set(name, controller);
    return controller.signal;
  }

  #cancel(name) {
    this.#controllers.get(name)?.abort();
    this.#controllers.delete(name);
  }

  /** Show `error`; `retry` (a function) is offered as "Try again" when the failure may pass. */
  #fail(error, doing, retry = null) {
    if (isAbort(error)) return;
    const { title, detail, code } = describeError(error, doing);
    this.#retry = TRANSIENT.has(code) || error?.status >= 500 ? retry : null;
    this.store.update({ alert: { title, detail, code, tone: "error", retry: Boolean(this.#retry) }, status: title });
    if (code === "queue_unavailable") this.#markDown();
  }

  retry() {
    const again = this.#retry;
    this.#retry = null;
    this.store.update({ alert: null });
    again?.();
  }

  dismissAlert() {
    this.#retry = null;
    this.store.update({ alert: null });
  }

  // --- server ---------------------------------------------------------------------------------

  async checkHealth() {
    clearTimeout(this.#healthTimer);
    try {
      await api.health();
      this.store.update({ health: "ok" });
    } catch {
      this.#markDown();
    }
  }

  #markDown() {
    this.store.update({ health: "down" });
    clearTimeout(this.#healthTimer);
    this.#healthTimer = setTimeout(() => this.checkHealth(), HEALTH_RETRY_MS);
  }

  async loadAttributes(normalize) {
    try {
      const body = await api.attributes();
      const model = typeof body?.preset === "string"
        ? { preset: body.preset, imageSize: Number(body.image_size) || null } : null;
      const l = body?.limits ?? {};
      const limits = {
        maxUploadBytes: Number(l.max_upload_bytes) || null,
        maxPixels: Number(l.max_pixels) || null,
        defaultSteps: Number(l.default_steps) || null,
        defaultEncodeSteps: Number(l.default_encode_steps) || null,
        defaultSolver: typeof l.default_solver === "string" ? l.default_solver : null,
      };
      this.store.update({ attributes: normalize(body), model, limits });
    } catch (error) {
      this.#fail(error, "loading the list of attributes");
    }
  }

  /** The server's own too_large answer, given before sending when its limits are known. */
  #tooLarge(file, size) {
    const limits = this.state.limits;
    const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
    if (limits?.maxUploadBytes && file.size > limits.maxUploadBytes) {
      return new ApiError(413, "too_large", `the file is ${mib(file.size)} MiB; `
        + `this server accepts up to ${mib(limits.maxUploadBytes)} MiB (limit ${limits.maxUploadBytes.toLocaleString("en")} bytes)`);
    }
    const pixels = size ? size.width * size.height : 0;
    if (limits?.maxPixels && pixels > limits.maxPixels) {
      return new ApiError(413, "too_large", `the photo is ${size.width}×${size.height} pixels; `
        + `this server accepts up to ${(limits.maxPixels / 1e6).toFixed(0)} megapixels`);
    }
    return null;
  }

  setSteps(steps) {
    this.store.update({ steps });
    if (Object.keys(this.state.edits).length) this.#scheduleEdit();
  }

  setView(view) {
    this.store.update({ view });
  }

  setPaste(paste) {
    this.store.update({ paste });
  }

  // --- encoding -------------------------------------------------------------------------------

  async upload(file) {
    this.#cancel("edit");
    this.#cancel("strip");
    this.#cancel("mix");
    clearTimeout(this.#editTimer);
    this.#forget(this.state.latent);
    if (this.state.photo?.url) URL.revokeObjectURL(this.state.photo.url);
    const token = ++this.#uploadSeq;
    this.#retry = null;
    let url = URL.createObjectURL(file);
    const size = await imageSize(url);
    if (token !== this.#uploadSeq) return; // another file was chosen meanwhile
    if (!size) {
      // Not displayable here (maybe not an image at all): the server still gets to say why.
      URL.revokeObjectURL(url);
      url = null;
    }
    const refusal = this.#tooLarge(file, size);
    this.store.update({
      photo: { url, name: file.name, file, size },
      latent: null,
      result: null,
      edit: idleTask,
      preview: null,
      strip: initialState().strip,
      mix: initialState().mix,
      alert: null,
      status: refusal ? "" : "Uploading your photo…",
    });
    if (refusal) {
      this.#fail(refusal, "checking the photo");
      return;
    }
    await this.#encodePrimary(file, null);
  }

  /** Re-encode the same photo with another of its faces. */
  async pickFace(index) {
    const { photo, latent, encode } = this.state;
    if (!photo || encode.busy || latent?.face === index) return;
    this.#cancel("edit");
    this.#cancel("strip");
    this.#forget(latent);
    this.store.update({ result: null, edit: idleTask, preview: null, strip: initialState().strip,
      status: `Encoding face ${index + 1}…` });
    await this.#encodePrimary(photo.file, index);
  }

  async #encodePrimary(file, face) {
    const retry = () => this.#encodePrimary(file, face);
    const latent = await this.#encode(file, face, "encode-primary", (encode) => this.store.update({ encode }), retry);
    if (!latent) return;
    const many = latent.faces.length > 1;
    this.store.update({
      latent,
      status: many ? `Face ready. ${latent.faces.length} faces found; pick another on the photo.`
        : "Face ready. Move a slider to edit it.",
    });
    if (Object.keys(this.state.edits).length) this.#scheduleEdit(0);
    this.#runMix();
  }

  async uploadSecond(file) {
    const { second } = this.state;
    this.#cancel("mix");
    this.#forget(second.latent);
    const update = (patch) => this.store.update({ second: { ...this.state.second, ...patch } });
    update({ photo: { name: file.name }, latent: null });
    this.store.update({ mix: initialState().mix, alert: null, status: "Encoding the second face…" });
    const retry = () => this.uploadSecond(file);
    const latent = await this.#encode(file, null, "encode-secondary", (encode) => update({ encode }), retry);
    if (!latent) return;
    update({ latent });
    this.#runMix();
  }

  /** POST /encode and follow the job; `setTask` records its progress in the slot's state. */
  async #encode(file, face, name, setTask, retry) {
    const signal = this.#begin(name);
    setTask({ busy: true, status: "uploading", progress: 0 });
    let latentId = null;
    try {
      // The inversion uses the server's encode steps (once per face); the chosen steps are the
      // renders' T, so the reconstruction is what an edit at amount 0 looks like.
      const accepted = await api.encode(file, { face, renderSteps: this.state.steps, signal });
      latentId = accepted.latent_id;
      const result = await watchJob(accepted.job_id, {
        signal,
        onUpdate: (u) => setTask(taskFrom(u)),
      });
      const latent = latentFrom(result);
      await Promise.all([latent.alignedUrl, latent.reconstructionUrl, latent.photoUrl].map(preload));
      if (signal.aborted) {
        this.#forget(latent);
        return null;
      }
      setTask(idleTask);
      return latent;
    } catch (error) {
      if (isAbort(error)) {
        // Abandoned after the server accepted it: the upload exists (or soon will); delete it.
        if (latentId) this.#forget({ id: latentId });
        return null;
      }
      setTask(idleTask);
      this.#fail(error, "encoding the photo", retry);
      return null;
    }
  }

  // --- editing --------------------------------------------------------------------------------

  setEdit(attribute, amount) {
    const edits = { ...this.state.edits };
    if (Math.abs(amount) < 1e-9) delete edits[attribute];
    else edits[attribute] = amount;
    this.store.update({ edits, lastAttribute: attribute });
    this.#scheduleEdit();
  }

  /** Switch the hair slider to another attribute, carrying its amount over. */
  setHair(attribute) {
    const { hair, edits } = this.state;
    if (attribute === hair) return;
    const amount = edits[hair] ?? 0;
    const next = { ...edits };
    delete next[hair];
    if (amount) next[attribute] = amount;
    this.store.update({ hair: attribute, edits: next });
    if (amount) this.#scheduleEdit();
  }

  reset() {
    this.store.update({ edits: {}, status: "Sliders reset." });
    this.#scheduleEdit(0);
  }

  #scheduleEdit(delay = EDIT_DEBOUNCE_MS) {
    clearTimeout(this.#editTimer);
    this.#editTimer = setTimeout(() => this.#runEdit(), delay);
  }

  async #runEdit() {
    const { latent, edits, steps } = this.state;
    if (!latent) return;
    const seq = ++this.#editSeq;
    if (Object.keys(edits).length === 0) {
      this.#cancel("edit");
      this.store.update({ edit: idleTask, result: null, preview: null });
      return;
    }
    const signal = this.#begin("edit");
    this.store.update({ edit: { busy: true, status: "queued", progress: 0 }, preview: null });
    try {
      const { job_id: jobId } = await api.manipulate(latent.id, edits, { steps, signal });
      const result = await watchJob(jobId, {
        signal,
        onUpdate: (u) => seq === this.#editSeq && this.store.update({ edit: taskFrom(u) }),
        // The step's predicted image, shown in place of the result until the result is ready.
        onPreview: (preview) => seq === this.#editSeq && this.store.update({ preview }),
      });
      const imageUrl = safeUrl(result.image_url);
      const photoUrl = safeUrl(result.photo_url);
      const photoReplacedUrl = safeUrl(result.photo_replaced_url);
      // The previous result stays on screen until the new one can be shown whole (the photo the
      // paste mode shows; the other one is made by the server only if it is asked for).
      const shown = this.state.paste === "replace" && photoReplacedUrl ? photoReplacedUrl : photoUrl;
      await Promise.all([preload(imageUrl), preload(shown)]);
      if (seq !== this.#editSeq) return;
      const done = { imageUrl, photoUrl, photoReplacedUrl, edits };
      this.store.update({ edit: idleTask, result: done, preview: null, status: "Edit ready." });
    } catch (error) {
      if (isAbort(error) || seq !== this.#editSeq) return;
      this.store.update({ edit: idleTask, preview: null });
      this.#fail(error, "editing the face", () => this.#scheduleEdit(0));
    }
  }

  // --- strips ---------------------------------------------------------------------------------

  /**
   * Render `amounts` of one attribute (on top of the other sliders) in one job: a row of faces
   * to pick from. Picking one sets that slider.
   */
  async showStrip(attribute, amounts) {
    const { latent, edits, steps } = this.state;
    if (!latent || !attribute || !amounts.length) return;
    const signal = this.#begin("strip");
    const update = (patch) => this.store.update({ strip: { ...this.state.strip, ...patch } });
    update({ busy: true, status: "queued", progress: 0, attribute, amounts, urls: [] });
    try {
      const { job_id: jobId } = await api.manipulate(latent.id, edits, { steps, strip: { attribute, amounts }, signal });
      const result = await watchJob(jobId, { signal, onUpdate: (u) => update(taskFrom(u)) });
      const urls = (Array.isArray(result.strip_urls) ? result.strip_urls : []).map(safeUrl).filter(Boolean);
      await Promise.all(urls.map(preload));
      if (signal.aborted) return;
      update({ ...idleTask, urls });
      this.store.update({ status: `${urls.length} amounts ready.` });
    } catch (error) {
      if (isAbort(error)) return;
      update(idleTask);
      this.#fail(error, "rendering the strip", () => this.showStrip(attribute, amounts));
    }
  }

  // --- mixing two faces -----------------------------------------------------------------------

  async #runMix() {
    const a = this.state.latent;
    const b = this.state.second.latent;
    if (!a || !b) return;
    const signal = this.#begin("mix");
    const update = (patch) => this.store.update({ mix: { ...this.state.mix, ...patch } });
    update({ busy: true, status: "queued", progress: 0 });
    try {
      const { job_id: jobId } = await api.interpolate([a.id, b.id], {
        frames: MIX_FRAMES,
        steps: this.state.steps,
        signal,
      });
      const result = await watchJob(jobId, { signal, onUpdate: (u) => update(taskFrom(u)) });
      const frames = (Array.isArray(result.image_urls) ? result.image_urls : []).map(safeUrl).filter(Boolean);
      const gifUrl = safeUrl(result.gif_url);
      await Promise.all(frames.map(preload));
      if (signal.aborted) return;
      update({ ...idleTask, frames, gifUrl, index: Math.floor(frames.length / 2), pair: [a.id, b.id] });
      this.store.update({ status: `${frames.length} frames ready.` });
    } catch (error) {
      if (isAbort(error)) return;
      update(idleTask);
      this.#fail(error, "mixing the two faces", () => this.#runMix());
    }
  }

  setMixIndex(index) {
    this.store.update({ mix: { ...this.state.mix, index } });
  }

  // --- privacy --------------------------------------------------------------------------------

  /** Best-effort removal of a latent that is being replaced. */
  #forget(latent) {
    if (latent) api.deleteLatent(latent.id).catch(() => {});
  }

  async deleteData() {
    for (const name of [...this.#controllers.keys()]) this.#cancel(name);
    clearTimeout(this.#editTimer);
    const { latent, second, photo } = this.state;
    const ids = [latent?.id, second.latent?.id].filter(Boolean);
    try {
      await Promise.all(ids.map((id) => api.deleteLatent(id).catch((error) => {
        if (error.code !== "unknown_latent") throw error; // already expired: nothing left to delete
      })));
    } catch (error) {
      this.#fail(error, "deleting your data");
      return;
    }
    if (photo?.url) URL.revokeObjectURL(photo.url);
    const fresh = initialState();
    const text = "Your photos, their codes and all edited images were deleted from the server.";
    this.store.update({
      ...fresh,
      health: this.state.health,
      attributes: this.state.attributes,
      model: this.state.model,
      limits: this.state.limits,
      steps: this.state.steps,
      hair: this.state.hair,
      alert: { title: "Deleted.", detail: text, tone: "info" },
      status: `Deleted. ${text}`,
    });
  }
}
