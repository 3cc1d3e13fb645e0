// Attribute sliders: the four main ones (Age, Gender, Smile, Hair) mapped onto the CelebA-HQ
// attribute directions (the names the official demos use), and one per direction the server lists.
// Sliders only build DOM and report values; the edits dict lives in the store.

/** Main sliders. `sign` maps slider value → attribute amount (Age right = older = less Young). */
export const MAIN_SLIDERS = [
  { key: "age", label: "Age", attribute: "Young", sign: -1, ends: ["Younger", "Older"] },
  { key: "gender", label: "Gender", attribute: "Male", sign: 1, ends: ["More feminine", "More masculine"] },
  { key: "smile", label: "Smile", attribute: "Smiling", sign: 1, ends: ["Less smile", "More smile"] },
  { key: "hair", label: "Hair", attribute: null, sign: 1, ends: ["Less", "More"] },
];

/** Hair choices, in menu order: attribute name → label. */
export const HAIR_CHOICES = [
  ["Wavy_Hair", "Wavy"],
  ["Straight_Hair", "Straight"],
  ["Blond_Hair", "Blond"],
  ["Black_Hair", "Black"],
  ["Brown_Hair", "Brown"],
  ["Gray_Hair", "Grey"],
  ["Bangs", "Bangs"],
];

/**
 * Directions named after the absence of something (CelebA's No_Beard): their slider is flipped so
 * that right means more of what the label names, as Age is for Young.
 */
const FLIPPED = {
  No_Beard: { label: "Beard", ends: ["Less beard", "More beard"] },
};

/** Directions with a slider of their own above "All attributes" (a second slider would repeat them). */
export const MAIN_DIRECTIONS = new Set([
  ...MAIN_SLIDERS.map((spec) => spec.attribute).filter(Boolean),
  ...HAIR_CHOICES.map(([name]) => name),
]);

/**
 * How `attribute` is shown on a slider: `{label, ends, note, sign}`, `sign` mapping the slider's
 * value to the amount sent (−1: the slider runs against the direction).
 */
export function presentation(attribute) {
  const main = MAIN_SLIDERS.find((spec) => spec.attribute === attribute.name);
  if (main) return { label: main.label, ends: main.ends, note: "", sign: main.sign };
  const flipped = FLIPPED[attribute.name];
  // The server's note on a flipped direction describes its unflipped amounts: not shown.
  if (flipped) return { label: flipped.label, ends: flipped.ends, note: "", sign: -1 };
  return { label: attribute.label, ends: ["Less", "More"], note: attribute.description, sign: 1 };
}

const DEFAULT_RANGE = { min: -1, max: 1, step: 0.05 };

const finite = (value, fallback) => (Number.isFinite(Number(value)) && value !== null && value !== ""
  ? Number(value) : fallback);

/**
 * GET /attributes → `[{name, label, min, max, step, description}]`, accepting a list of names,
 * a list of objects, `{attributes: [...]}` or a map name → object.
 */
export function normalizeAttributes(body) {
  // The API answers {preset, image_size, can_sample, attributes: [{name, label, note, min, max, step}]}.
  let items = body?.attributes ?? body;
  if (items && !Array.isArray(items) && typeof items === "object") {
    items = Object.entries(items).map(([name, value]) => ({ name, ...(typeof value === "object" ? value : {}) }));
  }
  if (!Array.isArray(items)) return [];
  return items.map((item) => {
    const entry = typeof item === "string" ? { name: item } : item ?? {};
    const name = String(entry.name ?? entry.attribute ?? entry.id ?? "");
    const range = Array.isArray(entry.range) ? entry.range : [];
    const min = finite(entry.min ?? range[0], DEFAULT_RANGE.min);
    const max = finite(entry.max ?? range[1], DEFAULT_RANGE.max);
    const step = finite(entry.step, Math.min(DEFAULT_RANGE.step, (max - min) / 20));
    return {
      name,
      label: String(entry.label ?? name.replaceAll("_", " ")),
      min: Math.min(min, max),
      max: Math.max(min, max),
      step: step > 0 ? step : DEFAULT_RANGE.step,
      description: String(entry.note ?? entry.description ?? ""),
    };
  }).filter((a) => a.name !== "");
}

export const findAttribute = (attributes, name) => attributes.find((a) => a.name === name) ?? null;

/** The slider range for `attribute` seen through `sign` (a flipped slider flips its range). */
export function sliderRange(attribute, sign = 1) {
  const a = attribute ?? { ...DEFAULT_RANGE };
  return sign < 0 ? { min: -a.max, max: -a.min, step: a.step } : { min: a.min, max: a.max, step: a.step };
}

export function formatAmount(value) {
  const rounded = Math.round(value * 100) / 100;
  if (rounded === 0) return "0";
  return `${rounded > 0 ? "+" : "−"}${Math.abs(rounded).toFixed(2)}`;
}

let uid = 0;

/**
 * One labelled native range input with its value and end labels. Returns the root element;
 * the input carries `data-slider-input` and the root `data-slider=key`.
 */
export function buildSlider({ key, label, ends = ["Less", "More"], extra = null, note = "" }) {
  const id = `slider-${key}-${++uid}`;
  const root = document.createElement("div");
  root.className = "slider";
  root.dataset.slider = key;

  const top = document.createElement("div");
  top.className = "slider-top";
  const labelEl = document.createElement("label");
  labelEl.htmlFor = id;
  labelEl.className = "slider-label";
  labelEl.textContent = label;
  top.append(labelEl);
  if (extra) top.append(extra);
  const output = document.createElement("output");
  output.htmlFor = id;
  output.dataset.sliderOutput = "";
  output.textContent = "0";
  top.append(output);

  const input = document.createElement("input");
  input.type = "range";
  input.id = id;
  input.value = "0";
  input.dataset.sliderInput = key;
  input.disabled = true;

  const endsEl = document.createElement("div");
  endsEl.className = "slider-ends";
  endsEl.id = `${id}-ends`;
  endsEl.setAttribute("aria-hidden", "true");
  for (const text of ends) {
    const span = document.createElement("span");
    span.textContent = text;
    endsEl.append(span);
  }
  input.dataset.ends = JSON.stringify(ends);

  root.append(top, input, endsEl);
  if (note) {
    const noteEl = document.createElement("p");
    noteEl.className = "slider-note";
    noteEl.id = `${id}-note`;
    noteEl.textContent = note;
    input.setAttribute("aria-describedby", noteEl.id);
    root.append(noteEl);
  }
  return root;
}

/** Set range, value and the spoken value of a slider built by `buildSlider`. */
export function setSlider(root, { min, max, step, value, disabled }) {
  const input = root.querySelector("[data-slider-input]");
  const output = root.querySelector("[data-slider-output]");
  // Attributes before value: the browser clamps value to the current min/max.
  if (input.min !== String(min)) input.min = String(min);
  if (input.max !== String(max)) input.max = String(max);
  if (input.step !== String(step)) input.step = String(step);
  if (Number(input.value) !== value) input.value = String(value);
  input.disabled = disabled;
  const ends = JSON.parse(input.dataset.ends);
  const shown = formatAmount(value);
  output.textContent = shown;
  const direction = value > 0 ? ends[1] : value < 0 ? ends[0] : "unchanged";
  input.setAttribute("aria-valuetext", shown === "0" ? "0, unchanged" : `${shown}, ${direction}`);
  root.classList.toggle("moved", shown !== "0");
}

/** `<select>` of the hair attributes the server knows (all of them before it answers). */
export function buildHairSelect() {
  const select = document.createElement("select");
  select.dataset.hair = "";
  select.setAttribute("aria-label", "Hair attribute");
  select.className = "hair-select";
  for (const [name, label] of HAIR_CHOICES) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = label;
    select.append(option);
  }
  return select;
}
