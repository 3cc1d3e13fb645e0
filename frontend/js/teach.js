// "Make your own slider": faces marked as having a property or not (the session's uploads, drawn
// faces, and the model's bundled labelled faces: GET /examples, sent as "example:<n>") teach the
// server a direction (POST /directions → a job: direction_id, edit_name
// "custom:<id>", held-out accuracy); it then edits like a built-in attribute, on a slider of its
// own. Sliders are exported as small JSON files (GET /directions/{id}) and imported again (POST
// /directions/import). They are kept in this browser (localStorage, like the uploads) and
// deleted by "Delete my data"; one the server no longer has (404 unknown_direction: it expired,
// or a face it was taught from was deleted) is said and dropped.

import * as api from "./api.js";
import { ApiError } from "./api.js";
import { watchJob } from "./jobs.js";
import { idleTask } from "./store.js";

/** Faces needed on each side (the server's MIN_EXAMPLES). */
export const MIN_EXAMPLES = 10;
/** No bundled faces loaded (yet). */
const NO_EXAMPLES = Object.freeze({ faces: [], attributes: [], shown: 0, loading: false, none: false });
/** Bundled faces shown at first, and added by each "Show more". */
export const EXAMPLES_SHOWN = 24;
/** Bundled faces "Mark by label" marks on each side (a few dozen, as in the paper's Table 3). */
export const BY_LABEL = 30;
const KEY = "diffae-studio.sliders";
/** What POST /directions/import takes of an exported slider (it refuses any other field). */
const IMPORTED = ["name", "preset", "direction", "method", "accuracy", "auroc", "positives", "negatives"];

/** A taught slider from the server's answer (a teach result or an export). */
function sliderFrom(body) {
  const id = String(body.direction_id);
  return {
    id,
    name: String(body.name),
    editName: String(body.edit_name ?? `custom:${id}`),
    accuracy: Number.isFinite(body.accuracy) ? body.accuracy : null,
    auroc: Number.isFinite(body.auroc) ? body.auroc : null,
  };
}

const validSlider = (s) => typeof s?.id === "string" && typeof s.name === "string" && typeof s.editName === "string";

/** The sliders kept in this browser. */
export function rememberedSliders() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(list) ? list.filter(validSlider) : [];
  } catch {
    return [];
  }
}

function keep(list) {
  try {
    if (list.length) localStorage.setItem(KEY, JSON.stringify(list));
    else localStorage.removeItem(KEY);
  } catch {
    // Storage full or disabled: the sliders last until the page is reloaded.
  }
}

/** How well a slider tells the faces apart, in words (held out: faces it was not taught from). */
export function describeSlider(slider) {
  if (slider.accuracy !== null) return `Right on ${Math.round(slider.accuracy * 100)} % of faces it was not taught from.`;
  if (slider.auroc !== null) return `Tells faces that have it from others ${Math.round(slider.auroc * 100)} % of the time.`;
  return "";
}

/**
 * The faces that can be marked (`{id, imageUrl, example}`): the drawn ones, the photos being
 * edited, then the bundled faces shown (and any bundled face marked, shown or not).
 */
export function candidates(state) {
  const faces = [...state.drawn.faces];
  for (const latent of [state.latent, state.second.latent]) {
    if (latent && !latent.drawn && !faces.some((f) => f.id === latent.id)) {
      faces.push({ id: latent.id, imageUrl: latent.alignedUrl });
    }
  }
  const { examples } = state.teach;
  const list = examples?.faces ?? [];
  list.forEach((face, index) => {
    if (index < examples.shown || state.teach.marks[face.id]) faces.push({ id: face.id, imageUrl: face.imageUrl, example: true });
  });
  return faces;
}

/**
 * A label's name in words ("No_Beard" → "No beard"): the label says which side has it, so not the
 * slider's name ("Gender" would not say which side "has it").
 */
export function labelName(name) {
  const words = String(name).replaceAll("_", " ").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** `{positives, negatives}`: the ids marked on each side, of the faces that can still be marked. */
export function marked(state) {
  const ids = new Set(candidates(state).map((f) => f.id));
  const side = (value) => Object.entries(state.teach.marks).filter(([id, v]) => v === value && ids.has(id)).map(([id]) => id);
  return { positives: side("has"), negatives: side("not") };
}

/** Whether "Teach" can be asked: a name, enough faces with it, and none or enough without it. */
export function canTeach(state) {
  const { positives, negatives } = marked(state);
  return state.teach.name.trim() !== "" && positives.length >= MIN_EXAMPLES
    && (negatives.length >= MIN_EXAMPLES || (negatives.length === 0 && state.canSample)) && !state.teach.busy;
}

export class Teacher {
  constructor(store, studio) {
    this.store = store;
    this.studio = studio;
    store.update({ custom: rememberedSliders() });
    this.checkKept();
  }

  /** Drop the kept sliders the server no longer has (asked once, on load; one HEAD each). */
  async checkKept() {
    const kept = this.store.state.custom;
    const answers = await Promise.all(kept.map((s) => api.directionExists(s.id).catch(() => true)));
    const gone = kept.filter((_, i) => !answers[i]);
    if (!gone.length) return;
    this.#drop(gone.map((s) => s.id));
    const names = gone.map((s) => `“${s.name}”`).join(", ");
    this.store.update({ status: `${names}: no longer on the server (it expired, or a face it was taught from was `
      + "deleted), so its slider is gone." });
  }

  #update(patch) {
    this.store.update({ teach: { ...this.store.state.teach, ...patch } });
  }

  #setCustom(custom) {
    keep(custom);
    this.store.update({ custom });
  }

  #add(slider) {
    this.#setCustom([...this.store.state.custom.filter((s) => s.id !== slider.id), slider]);
  }

  setName(name) {
    this.#update({ name });
  }

  /** Mark face `id` as having the property ("has"), not having it ("not"), or neither (null). */
  mark(id, side) {
    const marks = { ...this.store.state.teach.marks };
    if (side) marks[id] = side;
    else delete marks[id];
    this.#update({ marks });
  }

  /** Every face not marked yet: "doesn't have it". */
  markRestNot() {
    const marks = { ...this.store.state.teach.marks };
    for (const face of candidates(this.store.state)) marks[face.id] ??= "not";
    this.#update({ marks });
  }

  /** Show the model's bundled labelled faces among the faces to mark (GET /examples, once). */
  async loadExamples() {
    const current = this.store.state.teach.examples ?? NO_EXAMPLES;
    if (current.faces.length) {
      this.#update({ examples: { ...current, shown: current.shown + EXAMPLES_SHOWN } });
      return;
    }
    this.#update({ examples: { ...current, loading: true } });
    try {
      const body = await api.examples();
      const faces = (Array.isArray(body.examples) ? body.examples : []).map((e) => ({
        id: String(e.example_id), imageUrl: api.safeUrl(e.image_url), labels: e.labels ?? {},
      })).filter((face) => face.imageUrl);
      const attributes = (body.attributes ?? []).filter((a) => faces.some((f) => f.labels[a] === 1)
        && faces.some((f) => f.labels[a] === 0));
      this.#update({ examples: { faces, attributes, shown: EXAMPLES_SHOWN, loading: false, none: faces.length === 0 } });
      if (!faces.length) this.store.update({ status: "This model comes with no example faces." });
    } catch (error) {
      this.#update({ examples: { ...(this.store.state.teach.examples ?? NO_EXAMPLES), loading: false } });
      this.studio.report(error, "loading the example faces", { retry: () => this.loadExamples() });
    }
  }

  /**
   * Mark bundled faces by their label `attribute`: the first BY_LABEL that have it "Has it", the
   * first BY_LABEL labelled without it "Doesn't" (other bundled marks cleared; the person's own
   * faces keep theirs). Returns the counts marked.
   */
  markByLabel(attribute) {
    const state = this.store.state;
    const current = state.teach.examples ?? NO_EXAMPLES;
    const { faces } = current;
    const marks = Object.fromEntries(Object.entries(state.teach.marks).filter(([id]) => !id.startsWith("example:")));
    const has = faces.filter((f) => f.labels[attribute] === 1).slice(0, BY_LABEL);
    const not = faces.filter((f) => f.labels[attribute] === 0).slice(0, BY_LABEL);
    for (const face of has) marks[face.id] = "has";
    for (const face of not) marks[face.id] = "not";
    const name = state.teach.name.trim() ? state.teach.name : labelName(attribute);
    // Shown: every face up to the last one marked, so what is marked is in view and in order.
    const last = Math.max(-1, ...[...has, ...not].map((face) => faces.indexOf(face)));
    const examples = { ...current, shown: Math.max(current.shown, last + 1) };
    this.#update({ marks, name, examples });
    this.store.update({ status: `Marked ${has.length} example faces labelled “${labelName(attribute)}” `
      + `and ${not.length} labelled without it. Change any mark before teaching.` });
    return { has: has.length, not: not.length };
  }

  async teach() {
    const state = this.store.state;
    if (!canTeach(state)) return;
    const name = state.teach.name.trim();
    const { positives, negatives } = marked(state);
    const signal = this.studio.flow("teach");
    this.#update({ busy: true, status: "queued", progress: 0, ahead: null, taught: null });
    this.store.update({ status: `Teaching “${name}”…` });
    try {
      const { job_id: jobId } = await api.teach({ name, positives, negatives }, { signal });
      const result = await watchJob(jobId, {
        signal,
        onUpdate: ({ status, progress, ahead }) => this.#update({ busy: true, status, progress, ahead }),
      });
      const slider = sliderFrom(result);
      this.#add(slider);
      this.#update({ ...idleTask, taught: slider.id });
      this.store.update({ status: `“${slider.name}” taught. ${describeSlider(slider)} Its slider is under Edit.` });
    } catch (error) {
      this.#update(idleTask);
      this.studio.report(error, "teaching the slider", { retry: () => this.teach() });
    }
  }

  /** The slider's file (GET /directions/{id}) as a Blob, or null after saying why not. */
  async exportSlider(id) {
    try {
      const body = await api.direction(id);
      return new Blob([JSON.stringify(body, null, 2)], { type: "application/json" });
    } catch (error) {
      if (error?.code === "unknown_direction") this.#drop([id]);
      this.studio.report(error, "exporting the slider", { lead: "The export failed. " });
      return null;
    }
  }

  /** A slider file (as exported) sent to POST /directions/import: a slider of its own. */
  async importFile(file) {
    let body;
    try {
      const parsed = JSON.parse(await file.text());
      body = Object.fromEntries(IMPORTED.filter((k) => parsed?.[k] !== undefined).map((k) => [k, parsed[k]]));
    } catch {
      this.studio.report(new ApiError(0, "not_a_slider", "The file is not a slider exported from this page."),
        "reading the slider file");
      return;
    }
    try {
      const slider = sliderFrom(await api.importDirection(body));
      this.#add(slider);
      this.store.update({ status: `“${slider.name}” imported. Its slider is under Edit.` });
    } catch (error) {
      this.studio.report(error, "importing the slider");
    }
  }

  /** Forget slider `id` here and on the server. */
  async remove(id) {
    this.#drop([id]);
    try {
      await api.deleteDirection(id);
    } catch {
      // Already gone: nothing to delete.
    }
  }

  /** The server no longer has the sliders of `edits` that `error` (unknown_direction) names. */
  gone(error, edits) {
    const used = this.store.state.custom.filter((s) => Object.hasOwn(edits, s.editName));
    const named = used.filter((s) => String(error.message).includes(s.id));
    this.#drop((named.length ? named : used).map((s) => s.id));
  }

  #drop(ids) {
    const { custom, edits } = this.store.state;
    const dropped = custom.filter((s) => ids.includes(s.id));
    const nextEdits = { ...edits };
    for (const s of dropped) delete nextEdits[s.editName];
    this.#setCustom(custom.filter((s) => !ids.includes(s.id)));
    this.store.update({ edits: nextEdits });
  }

  /** "Delete my data": every kept slider is deleted on the server (before the faces it was taught from). */
  async deleteAll() {
    const ids = rememberedSliders().map((s) => s.id);
    await Promise.all(ids.map((id) => api.deleteDirection(id).catch(() => {})));
    keep([]);
  }
}
