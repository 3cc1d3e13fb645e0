// The page's part of "Make your own slider" (teach.js): the faces to mark, the Teach button and
// its result, and the taught sliders under Edit. Like view.js it reads only the state and writes
// only its own part of the page; names typed by people and sent back by the server go in through
// textContent.

import { buildSlider, findAttribute, setSlider, sliderRange } from "./sliders.js";
import { MIN_EXAMPLES, canTeach, candidates, describeSlider, labelName, marked } from "./teach.js";

const $ = (selector, scope = document) => scope.querySelector(selector);

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

const PHASES = { queued: "Waiting in the queue…", running: "Teaching…" };

/**
 * Build once; returns `render(state)`. `on`: edit, mark, teach, rest, name, exportSlider, remove,
 * importFile, examples (show the bundled faces, or more of them), byLabel (mark them by a label).
 */
export function createTeachView(on) {
  const dom = {
    customSliders: $("[data-custom-sliders]"),
    name: $("[data-teach-name]"),
    faces: $("[data-teach-faces]"),
    count: $("[data-teach-count]"),
    rest: $("[data-teach-rest]"),
    go: $("[data-teach-go]"),
    progress: $("[data-progress=teach]"),
    result: $("[data-teach-result]"),
    importInput: $("[data-import-slider]"),
  };
  dom.name.addEventListener("input", () => on.name(dom.name.value));
  dom.rest.addEventListener("click", () => on.rest());
  dom.go.addEventListener("click", () => on.teach());
  // The model's own labelled faces: a third source of faces to mark, and a quick start by label.
  const bar = document.createElement("div");
  bar.className = "teach-examples";
  bar.dataset.teachExamples = "";
  const more = document.createElement("button");
  more.type = "button";
  more.className = "button ghost";
  more.dataset.examplesMore = "";
  more.addEventListener("click", () => on.examples());
  const pick = document.createElement("label");
  pick.className = "field inline";
  const pickText = document.createElement("span");
  pickText.textContent = "Mark example faces by label";
  const select = document.createElement("select");
  select.dataset.examplesLabel = "";
  select.addEventListener("change", () => {
    if (select.value) on.byLabel(select.value);
    select.value = "";
  });
  pick.append(pickText, select);
  const about = document.createElement("p");
  about.className = "hint";
  about.dataset.examplesAbout = "";
  bar.append(more, pick, about);
  dom.faces.before(bar);
  let builtLabels = "";

  dom.importInput.addEventListener("change", () => {
    const file = dom.importInput.files?.[0];
    dom.importInput.value = "";
    if (file) on.importFile(file);
  });

  // One tile per face that can be marked: its image and two checkboxes, "Has it" and "Doesn't".
  let builtFaces = "";
  function buildFaces(faces) {
    dom.faces.replaceChildren(...faces.map((face, index) => {
      const item = document.createElement("li");
      item.className = "teach-face";
      item.dataset.teachFace = face.id;
      const img = document.createElement("img");
      img.src = face.imageUrl;
      const name = face.example ? `Example face ${Number(face.id.split(":")[1]) + 1}` : `Face ${index + 1}`;
      img.alt = name;
      img.loading = "lazy";
      if (face.example) item.classList.add("example");
      item.append(img);
      for (const [side, text] of [["has", "Has it"], ["not", "Doesn't"]]) {
        const label = document.createElement("label");
        label.className = "check small";
        const box = document.createElement("input");
        box.type = "checkbox";
        box.dataset.mark = side;
        box.setAttribute("aria-label", `${name}: ${side === "has" ? "has it" : "doesn't have it"}`);
        box.addEventListener("change", () => on.mark(face.id, box.checked ? side : null));
        const span = document.createElement("span");
        span.textContent = text;
        span.setAttribute("aria-hidden", "true");
        label.append(box, span);
        item.append(label);
      }
      return item;
    }));
  }

  // The taught sliders, beside the built-in ones: a range like theirs, Export and Remove.
  let builtCustom = null;
  let rows = [];
  function buildCustom(custom) {
    builtCustom = custom;
    rows = custom.map((slider) => {
      const root = buildSlider({ key: slider.editName, label: slider.name, note: describeSlider(slider) });
      root.classList.add("custom-slider");
      const input = $("[data-slider-input]", root);
      input.addEventListener("input", () => on.edit(slider.editName, Number(input.value)));
      const tools = document.createElement("div");
      tools.className = "custom-tools";
      for (const [text, action] of [["Export", on.exportSlider], ["Remove", on.remove]]) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "link-button";
        button.textContent = text;
        button.setAttribute("aria-label", `${text} the slider ${slider.name}`);
        button.addEventListener("click", () => action(slider));
        tools.append(button);
      }
      root.append(tools);
      return { slider, root };
    });
    dom.customSliders.replaceChildren(...rows.map((r) => r.root));
  }

  return function render(state) {
    const ready = Boolean(state.latent) && !state.encode.busy;
    if (builtCustom !== state.custom) buildCustom(state.custom);
    // A taught slider moves the face along its direction as far as a built-in one does.
    const like = findAttribute(state.attributes, "Smiling") ?? state.attributes[0] ?? null;
    for (const { slider, root } of rows) {
      setSlider(root, { ...sliderRange(like), value: state.edits[slider.editName] ?? 0, disabled: !ready });
    }

    const teach = state.teach;
    if (dom.name.value !== teach.name) dom.name.value = teach.name;
    const faces = candidates(state);
    const key = JSON.stringify(faces);
    if (key !== builtFaces) {
      buildFaces(faces);
      builtFaces = key;
    }
    for (const item of dom.faces.children) {
      const side = teach.marks[item.dataset.teachFace] ?? null;
      for (const box of item.querySelectorAll("[data-mark]")) box.checked = box.dataset.mark === side;
      item.dataset.marked = side ?? "";
    }
    const examples = teach.examples ?? { faces: [], attributes: [], shown: 0, loading: false, none: false };
    const total = examples.faces.length;
    more.hidden = examples.none || (total > 0 && examples.shown >= total);
    more.disabled = examples.loading || teach.busy;
    setText(more, examples.loading ? "Loading example faces…" : total ? `Show more example faces (${examples.shown} of ${total})`
      : "Add example faces");
    pick.hidden = examples.attributes.length === 0;
    select.disabled = teach.busy;
    const labels = JSON.stringify(examples.attributes);
    if (labels !== builtLabels) {
      builtLabels = labels;
      const first = new Option("Choose a label…", "");
      select.replaceChildren(first, ...examples.attributes.map((a) => new Option(labelName(a), a)));
    }
    setText(about, total ? `${total} faces that come with the model, each labelled by hand or by how it was made: `
      + "mark them like your own, or let a label mark a few dozen for you." : "");

    const { positives, negatives } = marked(state);
    setText(dom.count, faces.length === 0
      ? "No faces yet: upload a photo, draw random faces above, or add the example faces."
      : `Has it: ${positives.length} · Doesn't: ${negatives.length}. At least ${MIN_EXAMPLES} of each`
        + `${state.canSample ? `, or ${MIN_EXAMPLES} that have it and none marked "Doesn't"` : ""}.`);
    dom.rest.disabled = faces.length === 0 || teach.busy;
    dom.go.disabled = !canTeach(state);

    dom.progress.hidden = !teach.busy;
    if (teach.busy) {
      const bar = $("[data-progress-bar]", dom.progress);
      if (teach.status === "running" && teach.progress > 0) bar.value = teach.progress;
      else bar.removeAttribute("value");
      setText($("[data-progress-text]", dom.progress), teach.status === "queued" && teach.ahead > 0
        ? `Waiting: ${teach.ahead} ahead of you` : PHASES[teach.status] ?? "Sending…");
    }
    const taught = state.custom.find((s) => s.id === teach.taught) ?? null;
    dom.result.hidden = !taught;
    setText(dom.result, taught ? `“${taught.name}” is ready: ${describeSlider(taught)} Its slider is under Edit, `
      + "beside the others." : "");
  };
}
