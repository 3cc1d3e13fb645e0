// Entry point: one store, one studio (actions), one render; DOM events become studio calls.

import { initCompares } from "./compare.js";
import { normalizeAttributes } from "./sliders.js";
import { Store } from "./store.js";
import { Studio } from "./studio.js";
import { DrawnFaces } from "./drawn.js";
import { Teacher } from "./teach.js";
import { createTeachView } from "./teachview.js";
import { createView } from "./view.js";

const store = new Store();
const studio = new Studio(store);
const drawn = new DrawnFaces(store, studio);
const teacher = new Teacher(store, studio);
studio.onDirectionGone = (error, edits) => teacher.gone(error, edits);

const render = createView({
  edit: (attribute, amount) => studio.setEdit(attribute, amount),
  hair: (attribute) => studio.setHair(attribute),
  face: (index) => studio.pickFace(index),
  view: (view) => studio.setView(view),
  mixIndex: (index) => studio.setMixIndex(index),
  strip: (attribute, amounts) => studio.showStrip(attribute, amounts),
  pickDrawn: (index) => drawn.pick(index),
  mixDrawn: (index) => drawn.mix(index),
  brush: (mask) => studio.setBrush(mask),
  paint: (patch) => studio.setPaint(patch),
});

// Downloads are fetched first, so that one that fails says why instead of leaving a broken file.
const save = (blob, name) => {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
};

const renderTeach = createTeachView({
  edit: (name, amount) => studio.setEdit(name, amount),
  name: (name) => teacher.setName(name),
  mark: (id, side) => teacher.mark(id, side),
  rest: () => teacher.markRestNot(),
  teach: () => teacher.teach(),
  exportSlider: async (slider) => {
    const blob = await teacher.exportSlider(slider.id);
    if (blob) save(blob, `slider-${slider.name.replace(/[^\w-]+/g, "_")}.json`);
  },
  remove: (slider) => teacher.remove(slider.id),
  importFile: (file) => teacher.importFile(file),
  examples: () => teacher.loadExamples(),
  byLabel: (attribute) => teacher.markByLabel(attribute),
});

let frame = 0;
store.addEventListener("change", () => {
  if (!frame) frame = requestAnimationFrame(() => {
    frame = 0;
    render(store.state);
    renderTeach(store.state);
  });
});
render(store.state);
renderTeach(store.state);
initCompares();

// Files: pickers, and drops on the two cards.
const takeFile = (slot, file) => {
  if (!file) return;
  if (slot === "secondary") {
    if (store.state.latent && !store.state.second.encode.busy) studio.uploadSecond(file);
  } else {
    studio.upload(file);
  }
};

for (const input of document.querySelectorAll("[data-file]")) {
  input.addEventListener("change", () => {
    takeFile(input.dataset.file, input.files?.[0]);
    input.value = ""; // choosing the same file again must fire "change" again
  });
}

for (const zone of document.querySelectorAll("[data-drop]")) {
  let depth = 0;
  zone.addEventListener("dragenter", (event) => {
    event.preventDefault();
    depth += 1;
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.classList.remove("dragging");
  });
  zone.addEventListener("dragover", (event) => event.preventDefault());
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    zone.classList.remove("dragging");
    takeFile(zone.dataset.drop, event.dataTransfer?.files?.[0]);
  });
}
// A photo dropped anywhere else must not make the browser navigate away from the page.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());

for (const radio of document.querySelectorAll("[data-view]")) {
  radio.addEventListener("change", () => radio.checked && studio.setView(radio.value));
}
for (const radio of document.querySelectorAll("[data-paste]")) {
  radio.addEventListener("change", () => radio.checked && studio.setPaste(radio.value));
}
document.querySelector("[data-reset]").addEventListener("click", () => studio.reset());
document.querySelector("[data-steps]").addEventListener("change", (event) => {
  const value = event.target.value;
  studio.setSteps(value === "" ? null : Number(value));
});
document.querySelector("[data-keep]").addEventListener("change", (event) => studio.setKeep(event.target.checked));
document.querySelector("[data-region]").addEventListener("change", (event) =>
  studio.setRegion(event.target.value === "" ? null : event.target.value));
document.querySelector("[data-draw]").addEventListener("click", () => drawn.draw());
// Taught sliders first: one taught from a face goes with it, and would then answer 404.
document.querySelector("[data-delete-data]").addEventListener("click", async () => {
  await teacher.deleteAll();
  studio.deleteData();
});
document.querySelector("[data-delete-earlier]").addEventListener("click", () => studio.deleteEarlier());
document.querySelector("[data-alert-dismiss]").addEventListener("click", () => studio.dismissAlert());
document.querySelector("[data-alert-retry]").addEventListener("click", () => studio.retry());
const mixRange = document.querySelector("[data-mix-range]");
mixRange.addEventListener("input", () => studio.setMixIndex(Number(mixRange.value)));

// The download links: fetched first (the server may have forgotten the photo, the network may be
// down); the link's href stays for "Save link as".
for (const link of document.querySelectorAll("[data-download], [data-mix-gif-link]")) {
  link.addEventListener("click", async (event) => {
    event.preventDefault();
    const blob = await studio.download(link.dataset.download ?? "gif", link.getAttribute("href"));
    if (blob) save(blob, link.download);
  });
}

// A server image that fails to load (e.g. a whole photo asked for after the upload expired):
// the studio asks the server why and says it. Earlier uploads' faces were checked already.
document.addEventListener("error", (event) => {
  const img = event.target;
  const src = img instanceof HTMLImageElement ? img.getAttribute("src") : null;
  if (src?.startsWith("/images/") && !img.closest("[data-earlier]")) {
    studio.imageFailed(src);
  }
}, true);
// Back on the page after a while: the server may have forgotten the photo meanwhile.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") studio.checkStillThere();
});

// Tests (and curious people) can pin the step count: /?steps=10.
const steps = Number.parseInt(new URLSearchParams(window.location.search).get("steps") ?? "", 10);
if (Number.isInteger(steps) && steps > 0) studio.setSteps(steps);

studio.checkHealth();
studio.loadAttributes(normalizeAttributes);
studio.loadEarlier();
