// Faces the model draws (POST /sample, models with a latent DPM: GET /attributes `can_sample`).
// Each drawn face is an upload of its own on the server (its id comes back in `latent_ids`, at
// once in the answer to POST /sample), so
// picking one makes it the current face exactly like a photo: it edits, mixes, downloads, and
// "Delete my data" deletes it (its id is remembered with the uploads, uploads.js). A drawn face
// has no photo around it: its "whole photo" is the face itself, and it has no landmarks, so an
// edit of it cannot be limited to a region.

import * as api from "./api.js";
import { isAbort, safeUrl } from "./api.js";
import { watchJob } from "./jobs.js";
import { idleTask } from "./store.js";
import * as uploads from "./uploads.js";

/** Faces drawn per click (at most the server's `limits.max_samples`). */
const DRAW_COUNT = 8;

/** The current-face record of drawn face `face` ({id, imageUrl}), as studio.js keeps an upload's. */
export function drawnLatent(face, model) {
  return { id: face.id, alignedUrl: face.imageUrl, reconstructionUrl: face.imageUrl, photoUrl: face.imageUrl,
    faces: [], face: 0, preset: model?.preset ?? null, drawn: true };
}

/** The "photo" of a drawn face: the face itself (a server image, no local file to send again). */
export function drawnPhoto(face, model) {
  const side = model?.imageSize ?? 64;
  return { file: null, name: "A drawn face", url: face.imageUrl, size: { width: side, height: side }, shrunk: null };
}

/** Drawing faces: `draw()` asks the server for a few more; `pick`/`mix` hand one to the studio. */
export class DrawnFaces {
  constructor(store, studio) {
    this.store = store;
    this.studio = studio;
  }

  #update(patch) {
    this.store.update({ drawn: { ...this.store.state.drawn, ...patch } });
  }

  async draw() {
    const { steps, limits } = this.store.state;
    const n = Math.min(DRAW_COUNT, limits?.maxSamples ?? DRAW_COUNT);
    const signal = this.studio.flow("draw");
    this.#update({ busy: true, status: "queued", progress: 0, ahead: null });
    this.store.update({ status: "Drawing faces…" });
    let jobId = null;
    let announced = [];
    try {
      const accepted = await api.sample(n, { steps, signal });
      jobId = accepted.job_id;
      // The faces' ids come before the faces: kept at once, "Delete my data" reaches them even
      // if this draw is abandoned (a server that does not name them: they are kept at the end).
      announced = Array.isArray(accepted.latent_ids) ? accepted.latent_ids.map(String) : [];
      for (const id of announced) uploads.remember(id);
      const result = await watchJob(jobId, {
        signal,
        onUpdate: ({ status, progress, ahead }) => this.#update({ busy: true, status, progress, ahead }),
      });
      const urls = Array.isArray(result.image_urls) ? result.image_urls : [];
      const ids = Array.isArray(result.latent_ids) ? result.latent_ids : [];
      const faces = ids.map((id, i) => ({ id: String(id), imageUrl: safeUrl(urls[i]) })).filter((f) => f.imageUrl);
      // From now on "Delete my data" must reach them, even after a reload.
      for (const face of faces) uploads.remember(face.id, face.imageUrl);
      if (signal.aborted) return;
      this.#update({ ...idleTask, faces: [...this.store.state.drawn.faces, ...faces] });
      this.store.update({ status: `${faces.length} faces drawn. Pick one to edit it.` });
    } catch (error) {
      this.#update(idleTask);
      if (isAbort(error) && jobId) this.#abandon(jobId, announced);
      this.studio.report(error, "drawing faces", { retry: () => this.draw() });
    }
  }

  /** A draw no longer wanted: cancel its job (it then stores no face) and delete any it stored. */
  async #abandon(jobId, ids) {
    await api.cancelJob(jobId).catch(() => {});
    await Promise.all(ids.map(async (id) => {
      await api.deleteLatent(id).catch(() => {}); // 404 until a face exists: nothing to delete
      uploads.forget(id);
    }));
  }

  /** Make drawn face `index` the face being edited. */
  pick(index) {
    const face = this.store.state.drawn.faces[index];
    if (face) this.studio.useFace(drawnLatent(face, this.store.state.model), drawnPhoto(face, this.store.state.model));
  }

  /** Use drawn face `index` as the mix's face B. */
  mix(index) {
    const face = this.store.state.drawn.faces[index];
    if (face) this.studio.useSecondFace(drawnLatent(face, this.store.state.model), drawnPhoto(face, this.store.state.model));
  }
}

/**
 * The gallery: one item per drawn face, its image a button that makes it the current face, and a
 * smaller "Mix" button that makes it face B. `on.pick(index)`, `on.mix(index)`.
 */
export function buildGallery(list, faces, on) {
  list.replaceChildren(...faces.map((face, index) => {
    const item = document.createElement("li");
    item.className = "drawn-face";
    const pick = document.createElement("button");
    pick.type = "button";
    pick.className = "frame";
    pick.dataset.drawnPick = face.id;
    pick.setAttribute("aria-label", `Edit drawn face ${index + 1}`);
    pick.addEventListener("click", () => on.pick(index));
    const img = document.createElement("img");
    img.src = face.imageUrl;
    img.alt = "";
    pick.append(img);
    const mix = document.createElement("button");
    mix.type = "button";
    mix.className = "link-button";
    mix.dataset.drawnMix = face.id;
    mix.textContent = "Mix";
    mix.setAttribute("aria-label", `Use drawn face ${index + 1} as face B of the mix`);
    mix.addEventListener("click", () => on.mix(index));
    item.append(pick, mix);
    return item;
  }));
}
