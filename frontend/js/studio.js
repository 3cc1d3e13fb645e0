// The studio's actions: upload → encode, slider edits → manipulate, two faces → interpolate,
// downloads, delete. Each action updates the store; only view.js touches the page.
//
// Superseded work is cancelled: every flow owns an AbortController (the fetch and the job watch
// share its signal), slider results also carry a sequence number so a late answer to an old
// request can never replace a newer one, and the server is told to drop a job nobody waits for
// any more (revoke.js); such a job reads failed with code `cancelled`, which is never an error.
//
// The server forgets uploads (they expire; a store reset loses them): an answer that says so
// (messages.js `isGone`) makes the page ask which upload is gone, drop it and say so, with a
// button that sends the same photo again.

import * as api from "./api.js";
import { ApiError, isAbort, safeUrl } from "./api.js";
import { watchJob } from "./jobs.js";
import { describeError, describeGone, isGone } from "./messages.js";
import { editOptions } from "./options.js";
import { imageSize, overLimits, shrinkToLimits } from "./photos.js";
import { Revoker } from "./revoke.js";
import { idleTask, initialState } from "./store.js";
import * as uploads from "./uploads.js";

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
    noRegions: result.regions === false, // no landmarks kept (a server without the flag: assume kept)
  };
}

const taskFrom = ({ status, progress, ahead = null }) => ({ busy: true, status, progress, ahead });

export class Studio {
  #controllers = new Map();
  #editTimer = null;
  #editSeq = 0;
  #uploadSeq = 0; // the photo being prepared: a newer upload (or "Delete my data") drops an older one
  #secondSeq = 0; // the same for the second photo
  #retry = null;
  #healthTimer = null;
  #deleting = new Set(); // upload ids with a DELETE in flight
  #checking = false; // asking the server whether it still has the uploads
  #jobs = new Revoker(); // the job each flow waits for, cancelled on the server when replaced

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

  /**
   * Show `error` met while `doing` something: `retry` (a function) is offered as "Try again"
   * when the failure may pass; `lead` comes before the sentence. An error saying the server
   * forgot something goes to #whenGone (`gone`: which upload, when the caller knows).
   */
  #fail(error, doing, { retry = null, gone = null, lead = "" } = {}) {
    if (isAbort(error) || error?.code === "cancelled") return; // replaced by a newer request
    if (isGone(error)) {
      this.#whenGone(error, { gone, lead });
      return;
    }
    const { title, detail, code } = describeError(error, doing);
    const again = TRANSIENT.has(code) || error?.status >= 500 ? retry : null;
    this.#alert(`${lead}${title}`, detail, code, again);
    if (code === "queue_unavailable") this.#markDown();
  }

  /** #fail for the studio's helpers (drawn.js, …). */
  report(error, doing, options) {
    this.#fail(error, doing, options);
  }

  /** A new flow `name` for a helper: the previous one's signal is aborted (also by "Delete my data"). */
  flow(name) {
    return this.#begin(name);
  }

  #alert(title, detail, code, retry = null, retryLabel = "Try again") {
    this.#retry = retry;
    this.store.update({
      alert: { title, detail, code, tone: "error", retry: Boolean(retry), retryLabel },
      status: title,
    });
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
      const body = await api.health();
      this.store.update({ health: "ok", serving: typeof body?.model === "string" ? body.model : null });
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
        maxSamples: Number(l.max_samples) || null,
      };
      this.store.update({ attributes: normalize(body), model, limits, canSample: body?.can_sample === true });
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

  /**
   * The photo to send: `file` itself, or a smaller copy when it is over the server's limits.
   * `{file, url, size, shrunk}` (url: a local object URL of what is sent, null when the browser
   * cannot show it; shrunk: `{from, bytes}` of the chosen file when a copy is sent). Throws the
   * too_large refusal when a photo over the limits cannot be shrunk here.
   */
  async #prepare(file) {
    let url = URL.createObjectURL(file);
    const size = await imageSize(url);
    if (!size) {
      // Not displayable here (maybe not an image at all): the server still gets to say why.
      URL.revokeObjectURL(url);
      url = null;
    }
    if (!overLimits(file.size, size, this.state.limits)) return { file, url, size, shrunk: null };
    if (size) {
      try {
        const small = await shrinkToLimits(file, this.state.limits);
        URL.revokeObjectURL(url);
        return { file: small.file, url: URL.createObjectURL(small.file), size: small.size,
          shrunk: { from: size, bytes: file.size } };
      } catch {
        // The browser could not make a smaller copy: refused below, as the server would.
      }
    }
    if (url) URL.revokeObjectURL(url);
    throw this.#tooLarge(file, size);
  }

  setSteps(steps) {
    this.store.update({ steps });
    if (Object.keys(this.state.edits).length) this.#scheduleEdit();
  }

  setView(view) {
    this.store.update({ view });
  }

  /** Show the edit added to the photo or its face replaced; the old one stays until the new one loads. */
  async setPaste(paste) {
    this.store.update({ paste });
    const { result } = this.state;
    await preload(paste === "replace" ? result?.photoReplacedUrl : result?.photoUrl);
    if (this.state.paste === paste) this.store.update({ pasteShown: paste });
  }

  // --- encoding -------------------------------------------------------------------------------

  async upload(file) {
    this.#cancel("encode-primary");
    this.#cancel("edit");
    this.#cancel("strip");
    this.#cancel("mix");
    clearTimeout(this.#editTimer);
    this.#jobs.forget("edit", "strip", "mix");
    this.#forget(this.state.latent);
    if (this.state.photo?.url) URL.revokeObjectURL(this.state.photo.url);
    const token = ++this.#uploadSeq;
    this.#retry = null;
    const fresh = initialState();
    // A new photo starts with every slider at 0 and nothing painted: amounts (or a painting)
    // meant for another face, applied silently to this one, would surprise.
    this.store.update({
      photo: { url: null, name: file.name, file, size: null, shrunk: null },
      latent: null,
      expired: null,
      edits: {},
      ...this.#noBrush(),
      lastAttribute: null,
      result: null,
      edit: idleTask,
      preview: null,
      view: "face",
      pasteShown: this.state.paste,
      strip: fresh.strip,
      mix: fresh.mix,
      encode: { busy: true, status: "preparing", progress: 0 },
      alert: null,
      status: "Preparing your photo…",
    });
    let photo;
    try {
      photo = await this.#prepare(file);
    } catch (refusal) {
      if (token !== this.#uploadSeq) return;
      this.store.update({ encode: idleTask, status: "" });
      this.#fail(refusal, "checking the photo");
      return;
    }
    if (token !== this.#uploadSeq) { // another file was chosen meanwhile
      if (photo.url) URL.revokeObjectURL(photo.url);
      return;
    }
    this.store.update({
      photo: { ...photo, name: file.name },
      status: photo.shrunk ? `Your photo was made smaller (${photo.size.width} × ${photo.size.height} pixels); `
        + "uploading it…" : "Uploading your photo…",
    });
    await this.#encodePrimary(photo.file, null);
  }

  /**
   * Edit a face the server already has (a drawn one, drawn.js): `latent` as an encode gives it,
   * `photo` what stands for the photo. As a new upload does, every slider goes back to 0.
   */
  useFace(latent, photo) {
    if (this.state.encode.busy || this.state.latent?.id === latent.id) return;
    for (const name of ["encode-primary", "edit", "strip", "mix"]) this.#cancel(name);
    clearTimeout(this.#editTimer);
    this.#jobs.forget("edit", "strip", "mix");
    this.#forget(this.state.latent);
    if (this.state.photo?.url?.startsWith("blob:")) URL.revokeObjectURL(this.state.photo.url);
    this.#uploadSeq += 1; // a photo still being prepared is not sent
    const fresh = initialState();
    this.store.update({
      photo, latent, expired: null, edits: {}, ...this.#noBrush(), lastAttribute: null, result: null,
      edit: idleTask, preview: null,
      view: "face", pasteShown: this.state.paste, strip: fresh.strip, mix: fresh.mix, encode: idleTask,
      alert: null, status: "Face ready. Move a slider to edit it.",
    });
    this.#runMix();
  }

  /** The same for the mix's face B. */
  useSecondFace(latent, photo) {
    const { second } = this.state;
    if (second.encode.busy || second.latent?.id === latent.id) return;
    this.#cancel("encode-secondary");
    this.#cancel("mix");
    this.#jobs.forget("mix");
    this.#forget(second.latent);
    if (second.photo?.url?.startsWith("blob:")) URL.revokeObjectURL(second.photo.url);
    this.#secondSeq += 1;
    this.store.update({ second: { photo, encode: idleTask, latent }, mix: initialState().mix, alert: null });
    this.#runMix();
  }

  /** Re-encode the same photo with another of its faces. */
  async pickFace(index) {
    const { photo, latent, encode } = this.state;
    if (!photo || !latent || encode.busy) return;
    if (latent.face === index) {
      this.store.update({ view: "face" });
      return;
    }
    this.#cancel("edit");
    this.#cancel("strip");
    clearTimeout(this.#editTimer);
    this.#jobs.forget("edit", "strip", "mix");
    this.#forget(latent);
    this.store.update({ view: "face", edits: {}, ...this.#noBrush(), lastAttribute: null, result: null,
      edit: idleTask, preview: null, strip: initialState().strip, status: `Reading face ${index + 1}…` });
    await this.#encodePrimary(photo.file, index);
  }

  async #encodePrimary(file, face) {
    const retry = () => this.#encodePrimary(file, face);
    const latent = await this.#encode(file, face, "encode-primary", (encode) => this.store.update({ encode }), retry);
    if (!latent) return;
    const many = latent.faces.length > 1;
    // A photo with several faces opens the picker (the largest face is ready meanwhile).
    const view = many && face === null ? "faces" : this.state.view === "faces" ? "face" : this.state.view;
    this.store.update({
      latent,
      expired: null,
      view,
      status: many ? `Face ready. ${latent.faces.length} faces found; pick the one to edit.`
        : "Face ready. Move a slider to edit it.",
    });
    // Only a photo sent again after the server forgot it still has amounts: its own.
    if (Object.keys(this.state.edits).length) this.#scheduleEdit(0);
    this.#runMix();
  }

  async uploadSecond(file) {
    const { second } = this.state;
    this.#cancel("mix");
    this.#jobs.forget("mix");
    this.#forget(second.latent);
    if (second.photo?.url) URL.revokeObjectURL(second.photo.url);
    const token = ++this.#secondSeq;
    const update = (patch) => this.store.update({ second: { ...this.state.second, ...patch } });
    update({ photo: { name: file.name, file, url: null }, latent: null,
      encode: { busy: true, status: "preparing", progress: 0 } });
    this.store.update({ mix: initialState().mix, alert: null, status: "Reading the second face…" });
    let photo;
    try {
      photo = await this.#prepare(file);
    } catch (refusal) {
      if (token !== this.#secondSeq) return;
      update({ photo: null, encode: idleTask });
      this.#fail(refusal, "checking the second photo");
      return;
    }
    if (token !== this.#secondSeq) { // deleted meanwhile
      if (photo.url) URL.revokeObjectURL(photo.url);
      return;
    }
    update({ photo: { name: file.name, file: photo.file, url: photo.url } });
    const retry = () => this.uploadSecond(photo.file);
    const latent = await this.#encode(photo.file, null, "encode-secondary", (encode) => update({ encode }), retry);
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
      latentId = accepted.latent_id ?? null;
      if (latentId) uploads.remember(latentId); // from now on "Delete my data" must reach it, even after a reload
      const result = await watchJob(accepted.job_id, {
        signal,
        onUpdate: (u) => setTask(taskFrom(u)),
      });
      const latent = latentFrom(result);
      uploads.remember(latent.id, latent.alignedUrl);
      await Promise.all([latent.alignedUrl, latent.reconstructionUrl, latent.photoUrl].map(preload));
      if (signal.aborted) {
        this.#forget(latent);
        return null;
      }
      setTask(idleTask);
      return latent;
    } catch (error) {
      // Abandoned or failed after the server accepted it: the upload exists (or soon will) and
      // serves nothing; delete it.
      if (latentId) this.#forget({ id: latentId });
      if (isAbort(error)) return null;
      setTask(idleTask);
      this.#fail(error, "reading the photo", { retry });
      return null;
    }
  }

  // --- editing --------------------------------------------------------------------------------

  setEdit(attribute, amount) {
    const edits = { ...this.state.edits };
    if (Math.abs(amount) < 1e-9) delete edits[attribute];
    else edits[attribute] = amount;
    // A slider moved while the face picker is open: show the face it edits.
    const view = this.state.view === "faces" ? "face" : this.state.view;
    this.store.update({ edits, lastAttribute: attribute, view });
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

  /** "Keep age and gender fixed" on or off: the current edit is made again the new way. */
  setKeep(keep) {
    this.store.update({ keep });
    if (Object.keys(this.state.edits).length) this.#scheduleEdit(0);
  }

  /** "Change only" one part of the face (null: the whole face); the current edit is made again. */
  setRegion(region) {
    this.store.update({ region });
    if (Object.keys(this.state.edits).length) this.#scheduleEdit(0);
  }

  /**
   * The mask painted on the face (a PNG data URL; null: nothing painted, the edit is not limited
   * by it): the current edit is made again, after the same pause as a slider move.
   */
  setBrush(brush) {
    if (brush === this.state.brush) return;
    this.store.update(brush ? { brush }
      : { brush, status: "Nothing painted: the edit is no longer limited by paint." });
    if (Object.keys(this.state.edits).length) this.#scheduleEdit();
  }

  /** The paint tools: `patch` of `{on, size, erase}`. Painting is done on the face view. */
  setPaint(patch) {
    const paint = { ...this.state.paint, ...patch };
    this.store.update(patch.on ? { paint, view: "face" } : { paint });
  }

  /** What a new face starts with: nothing painted, painting off (a mask is one face's). */
  #noBrush() {
    return { brush: null, paint: { ...this.state.paint, on: false, erase: false } };
  }

  reset() {
    this.store.update({ edits: {}, status: "Sliders reset." });
    this.#scheduleEdit(0);
  }

  #scheduleEdit(delay = EDIT_DEBOUNCE_MS) {
    clearTimeout(this.#editTimer);
    this.#editTimer = setTimeout(() => this.#runEdit(), delay);
  }

  /**
   * POST a job for `flow` and wait for it (`start()` → `{job_id}`); the job it replaces is
   * cancelled on the server. The POST itself is not aborted, so that the page always learns the
   * id of a job the server made, and can cancel it when it was replaced meanwhile.
   */
  async #follow(flow, signal, start, options) {
    const ticket = this.#jobs.ticket(flow);
    const { job_id: jobId } = await start();
    if (signal.aborted) {
      this.#jobs.drop(flow, jobId, ticket);
      throw new DOMException("Replaced by a newer request", "AbortError");
    }
    this.#jobs.adopt(flow, jobId);
    try {
      const result = await watchJob(jobId, { signal, ...options });
      this.#jobs.ended(flow, jobId);
      return result;
    } catch (error) {
      if (!isAbort(error)) this.#jobs.ended(flow, jobId);
      throw error;
    }
  }

  async #runEdit(again = false) {
    const { latent, edits, steps } = this.state;
    if (!latent) return;
    const seq = ++this.#editSeq;
    if (Object.keys(edits).length === 0) {
      this.#cancel("edit");
      this.#jobs.revoke("edit");
      this.store.update({ edit: idleTask, result: null, preview: null });
      return;
    }
    const signal = this.#begin("edit");
    this.store.update({ edit: { busy: true, status: "queued", progress: 0 }, preview: null });
    try {
      const options = { steps, ...editOptions(this.state) };
      const result = await this.#follow("edit", signal, () => api.manipulate(latent.id, edits, options), {
        onUpdate: (u) => seq === this.#editSeq && this.store.update({ edit: taskFrom(u) }),
        // The step's predicted image, shown in place of the result until the result is ready.
        onPreview: (preview) => seq === this.#editSeq && this.store.update({ preview }),
      });
      const imageUrl = safeUrl(result.image_url);
      const photoUrl = safeUrl(result.photo_url);
      const photoReplacedUrl = safeUrl(result.photo_replaced_url);
      // The previous result stays on screen until the new one can be shown whole (the photo the
      // paste mode shows; the other one is made by the server only if it is asked for).
      const paste = this.state.paste === "replace" && photoReplacedUrl ? "replace" : "change";
      await Promise.all([preload(imageUrl), preload(paste === "replace" ? photoReplacedUrl : photoUrl)]);
      if (seq !== this.#editSeq) return;
      const done = { imageUrl, photoUrl, photoReplacedUrl, edits };
      this.store.update({ edit: idleTask, result: done, preview: null, pasteShown: paste, status: "Edit ready." });
      if (this.state.paste !== paste && photoReplacedUrl) this.setPaste(this.state.paste); // switched meanwhile
    } catch (error) {
      if (isAbort(error) || seq !== this.#editSeq) return;
      if (error?.code === "unknown_direction") this.onDirectionGone?.(error, edits); // teach.js drops it
      // The edit still wanted was cancelled: a race with the cancel of an identical earlier one
      // (the server answered with that job), or another tab. Asked once more, else let go.
      if (error?.code === "cancelled" && !again) {
        this.#runEdit(true);
        return;
      }
      this.store.update({ edit: idleTask, preview: null });
      this.#fail(error, "editing the face", { retry: () => this.#scheduleEdit(0),
        gone: { primary: { id: latent.id, error }, second: null } });
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
      const result = await this.#follow("strip", signal,
        () => api.manipulate(latent.id, edits, { steps, strip: { attribute, amounts }, ...editOptions(this.state) }),
        { onUpdate: (u) => update(taskFrom(u)) });
      const urls = (Array.isArray(result.strip_urls) ? result.strip_urls : []).map(safeUrl).filter(Boolean);
      await Promise.all(urls.map(preload));
      if (signal.aborted) return;
      update({ ...idleTask, urls });
      this.store.update({ status: `${urls.length} amounts ready.` });
    } catch (error) {
      if (isAbort(error)) return;
      update(idleTask);
      this.#fail(error, "rendering the strip", { retry: () => this.showStrip(attribute, amounts),
        gone: { primary: { id: latent.id, error }, second: null } });
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
      const result = await this.#follow("mix", signal,
        () => api.interpolate([a.id, b.id], { frames: MIX_FRAMES, steps: this.state.steps }),
        { onUpdate: (u) => update(taskFrom(u)) });
      const frames = (Array.isArray(result.image_urls) ? result.image_urls : []).map(safeUrl).filter(Boolean);
      const gifUrl = safeUrl(result.gif_url);
      await Promise.all(frames.map(preload));
      if (signal.aborted) return;
      update({ ...idleTask, frames, gifUrl, index: Math.floor(frames.length / 2), pair: [a.id, b.id] });
      this.store.update({ status: `${frames.length} frames ready.` });
    } catch (error) {
      if (isAbort(error)) return;
      update(idleTask);
      this.#fail(error, "mixing the two faces", { retry: () => this.#runMix() });
    }
  }

  setMixIndex(index) {
    this.store.update({ mix: { ...this.state.mix, index } });
  }

  // --- downloads ------------------------------------------------------------------------------

  /**
   * The bytes behind a download link (`kind`: "face" | "photo" | "gif"), or null after saying why
   * they could not be had (e.g. the server has forgotten the photo).
   */
  async download(kind, url) {
    if (!url || this.state.download) return null;
    this.store.update({ download: kind });
    try {
      return await api.image(url);
    } catch (error) {
      this.#fail(error, "downloading the image", { lead: "The download failed. " });
      return null;
    } finally {
      this.store.update({ download: null });
    }
  }

  // --- when the server forgets ----------------------------------------------------------------

  /**
   * Which of the current uploads the server no longer has: `{primary, second}`, each
   * `{id, error}` or null. Asked with the aligned face (a small image that lives as long as its
   * upload), bypassing the browser's cache.
   */
  async #probe() {
    const check = async (latent) => {
      if (!latent?.alignedUrl) return null;
      try {
        await api.image(latent.alignedUrl, { fresh: true });
        return null;
      } catch (error) {
        return isGone(error) ? { id: latent.id, error } : null;
      }
    };
    const [primary, second] = await Promise.all([check(this.state.latent), check(this.state.second.latent)]);
    return { primary, second };
  }

  /**
   * `error` says the server forgot something: find which upload (`gone`, else ask), drop it and
   * what was made from it, and say so with a button that sends the same photo again.
   */
  async #whenGone(error, { gone = null, lead = "" } = {}) {
    const found = gone ?? await this.#probe();
    const { latent, second } = this.state;
    const primary = Boolean(found.primary && latent?.id === found.primary.id);
    const other = Boolean(found.second && second.latent?.id === found.second.id);
    if (!primary && !other) { // a picture is gone, not the upload it came from
      const { title, detail, code } = describeError(error);
      this.#alert(`${lead}${title}`, detail, code);
      return;
    }
    const fresh = initialState();
    if (primary) {
      uploads.forget(latent.id);
      for (const name of ["edit", "strip", "mix"]) this.#cancel(name);
      this.#jobs.forget("edit", "strip", "mix");
      clearTimeout(this.#editTimer);
      // The photo (a local copy) and the slider amounts stay: sending it again carries on.
      this.store.update({
        latent: null, expired: { face: latent.face }, result: null, edit: idleTask, preview: null,
        strip: fresh.strip, mix: fresh.mix, view: this.state.view === "faces" ? "face" : this.state.view,
      });
    }
    if (other) {
      uploads.forget(second.latent.id);
      this.#cancel("mix");
      this.#jobs.forget("mix");
      this.store.update({ second: { ...this.state.second, latent: null }, mix: fresh.mix });
    }
    const reset = [error, found.primary?.error, found.second?.error].some((e) => e?.code === "store_reset");
    const { title, detail, code } = describeGone({ reset, primary, second: other });
    // A drawn face has no photo here to send again.
    const again = (primary && this.state.photo?.file) || (other && this.state.second.photo?.file);
    this.#alert(`${lead}${title}`, detail, code, again ? () => this.#sendAgain(primary, other) : null,
      primary && other ? "Upload them again" : "Upload it again");
  }

  async #sendAgain(primary, other) {
    const { photo, second, expired } = this.state;
    if (primary && photo?.file) await this.#encodePrimary(photo.file, expired?.face ?? null);
    if (other && second.photo?.file) await this.uploadSecond(second.photo.file);
  }

  /** Ask the server whether it still has the photos being edited (e.g. back on this tab after a while). */
  async checkStillThere() {
    const { latent, second, encode } = this.state;
    if (this.#checking || encode.busy || second.encode.busy || (!latent && !second.latent)) return;
    this.#checking = true;
    try {
      const gone = await this.#probe();
      const error = gone.primary?.error ?? gone.second?.error;
      if (error) await this.#whenGone(error, { gone });
    } finally {
      this.#checking = false;
    }
  }

  /** An image of the page failed to load: ask the server why, and say it. */
  async imageFailed(url) {
    if (this.#checking) return;
    this.#checking = true;
    try {
      await api.image(url, { fresh: true });
    } catch (error) {
      this.#fail(error, "showing a picture");
    } finally {
      this.#checking = false;
    }
  }

  // --- privacy --------------------------------------------------------------------------------

  /** Delete upload `id` on the server; one that is already gone counts as deleted. */
  async #delete(id) {
    this.#deleting.add(id);
    try {
      await api.deleteLatent(id);
    } catch (error) {
      if (!isGone(error)) throw error;
    } finally {
      this.#deleting.delete(id);
    }
    uploads.forget(id);
  }

  /**
   * Best-effort removal of an upload that is being replaced or was abandoned. A drawn face is
   * kept: it is still in the gallery of drawn faces ("Delete my data" deletes it).
   */
  #forget(latent) {
    if (latent && !latent.drawn && !this.#deleting.has(latent.id)) this.#delete(latent.id).catch(() => {});
  }

  /**
   * This browser's uploads from before the page was loaded (uploads.js) that the server may still
   * have: offered for deletion. Those the server says are gone are forgotten.
   */
  async loadEarlier() {
    const checked = await Promise.all(uploads.remembered().map(async ({ id, alignedUrl }) => {
      const url = safeUrl(alignedUrl);
      if (url) {
        try {
          await api.image(url, { fresh: true });
        } catch (error) {
          if (isGone(error)) {
            uploads.forget(id);
            return null;
          }
        }
      }
      return { id, alignedUrl: url };
    }));
    const current = new Set([this.state.latent?.id, this.state.second.latent?.id]);
    this.store.update({ earlier: checked.filter((e) => e && !current.has(e.id)) });
  }

  async deleteEarlier() {
    const { earlier } = this.state;
    try {
      await Promise.all(earlier.map(({ id }) => this.#delete(id)));
    } catch (error) {
      this.#fail(error, "deleting your earlier photos");
      return;
    }
    const text = earlier.length > 1
      ? "Your earlier photos and every picture made from them were deleted from the server."
      : "Your earlier photo and every picture made from it were deleted from the server.";
    this.store.update({ earlier: [], alert: { title: "Deleted.", detail: text, tone: "info" },
      status: `Deleted. ${text}` });
  }

  async deleteData() {
    for (const name of [...this.#controllers.keys()]) this.#cancel(name);
    this.#jobs.forget("edit", "strip", "mix");
    clearTimeout(this.#editTimer);
    this.#uploadSeq += 1; // a photo still being prepared is not sent
    this.#secondSeq += 1;
    const { latent, second, photo, earlier } = this.state;
    // Every upload this browser made that may still be there, also one still being encoded.
    const ids = new Set([latent?.id, second.latent?.id, ...earlier.map((e) => e.id),
      ...uploads.remembered().map((e) => e.id)].filter(Boolean));
    try {
      await Promise.all([...ids].map((id) => this.#delete(id)));
    } catch (error) {
      this.#fail(error, "deleting your data");
      return;
    }
    if (photo?.url) URL.revokeObjectURL(photo.url);
    if (second.photo?.url) URL.revokeObjectURL(second.photo.url);
    const fresh = initialState();
    const text = "Your photos, what the model made of them and every edited picture were deleted from the server.";
    this.store.update({
      ...fresh,
      health: this.state.health,
      serving: this.state.serving,
      attributes: this.state.attributes,
      model: this.state.model,
      limits: this.state.limits,
      canSample: this.state.canSample,
      steps: this.state.steps,
      hair: this.state.hair,
      keep: this.state.keep,
      region: this.state.region,
      paint: { ...fresh.paint, size: this.state.paint.size },
      alert: { title: "Deleted.", detail: text, tone: "info" },
      status: `Deleted. ${text}`,
    });
  }
}
