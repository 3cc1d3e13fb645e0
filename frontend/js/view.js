// The one render: state → page. Reads only the store's state; writes only the DOM. Server strings
// go through textContent, server URLs through api.safeUrl (done in studio.js) and `src`/`href`.

import {
  MAIN_SLIDERS,
  buildHairSelect,
  buildSlider,
  findAttribute,
  formatAmount,
  setSlider,
  sliderRange,
} from "./sliders.js";

/** Amounts of a strip: `count` evenly spaced over the attribute's slider range. */
function stripAmounts(attribute, count = 5) {
  const { min, max } = sliderRange(attribute);
  return Array.from({ length: count }, (_, i) => Math.round((min + ((max - min) * i) / (count - 1)) * 100) / 100);
}

const $ = (selector, scope = document) => scope.querySelector(selector);
const $$ = (selector, scope = document) => [...scope.querySelectorAll(selector)];

function setSrc(img, url) {
  if (url) {
    if (img.getAttribute("src") !== url) img.src = url;
  } else if (img.hasAttribute("src")) {
    img.removeAttribute("src");
  }
  img.hidden = !url;
}

function setHref(link, url) {
  if (url) {
    if (link.getAttribute("href") !== url) link.href = url;
  } else {
    link.removeAttribute("href");
  }
  link.hidden = !url;
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** The server's samplers (`limits.default_solver` of GET /attributes), as people read them. */
const SOLVER_NAMES = { ddim: "DDIM", "dpm++2m": "DPM-Solver++(2M)" };

const PHASES = { uploading: "Uploading…", queued: "Waiting in the queue…", running: "Working" };

function renderProgress(row, task, label) {
  row.hidden = !task.busy;
  if (!task.busy) return;
  const bar = $("[data-progress-bar]", row);
  const determinate = task.status === "running" && task.progress > 0;
  if (determinate) bar.value = task.progress;
  else bar.removeAttribute("value"); // indeterminate while uploading or queued
  const phase = task.status === "running" ? `${label} ${Math.round(task.progress * 100)}%`
    : PHASES[task.status] ?? `${label}…`;
  setText($("[data-progress-text]", row), phase);
}

/** Build the page's dynamic parts once; returns `render(state)`. `on` receives UI intents. */
export function createView(on) {
  const dom = {
    health: $("[data-health]"),
    deleteData: $("[data-delete-data]"),
    status: $("[data-status]"),
    alert: $("[data-alert]"),
    alertTitle: $("[data-alert-title]"),
    alertDetail: $("[data-alert-detail]"),
    alertRetry: $("[data-alert-retry]"),
    healthBanner: $("[data-health-banner]"),
    whenEmpty: $$("[data-when=empty]"),
    whenPhoto: $$("[data-when=photo]"),
    views: $$("[data-view]"),
    pasteModes: $("[data-paste-modes]"),
    pastes: $$("[data-paste]"),
    faceCompare: $("[data-compare=face]"),
    photoCompare: $("[data-compare=photo]"),
    viewerNote: $("[data-viewer-note]"),
    downloadFace: $("[data-download=face]"),
    downloadPhoto: $("[data-download=photo]"),
    editProgress: $("[data-progress=edit]"),
    encodeProgress: $("[data-progress=encode]"),
    sources: $("[data-sources]"),
    original: $("[data-original]"),
    faceBoxes: $("[data-face-boxes]"),
    facesCaption: $("[data-faces-caption]"),
    aligned: $("[data-aligned]"),
    reconstruction: $("[data-reconstruction]"),
    controlsHint: $("[data-controls-hint]"),
    mainSliders: $("[data-main-sliders]"),
    allSliders: $("[data-all-sliders]"),
    reset: $("[data-reset]"),
    steps: $("[data-steps]"),
    encodeInfo: $("[data-encode-info]"),
    modelInfo: $("[data-model-info]"),
    mixHint: $("[data-mix-hint]"),
    mixA: $("[data-mix-a]"),
    mixB: $("[data-mix-b]"),
    mixFile: $("[data-file=secondary]"),
    mixPick: $("[data-mix-pick]"),
    mixPickText: $("[data-mix-pick-text]"),
    mixResult: $("[data-mix-result]"),
    mixFrame: $("[data-mix-frame]"),
    mixRange: $("[data-mix-range]"),
    mixOutput: $("[data-mix-output]"),
    mixStrip: $("[data-mix-strip]"),
    mixGif: $("[data-mix-gif]"),
    mixGifImg: $("[data-mix-gif-img]"),
    mixGifLink: $("[data-mix-gif-link]"),
    mixProgress: $("[data-progress=mix]"),
    stripShow: $("[data-strip-show]"),
    stripHint: $("[data-strip-hint]"),
    editStrip: $("[data-edit-strip]"),
    stripProgress: $("[data-progress=strip]"),
  };

  // The strip of the last slider moved: its attribute at several amounts, in one job.
  let stripTarget = null;
  dom.stripShow.addEventListener("click", () => {
    if (stripTarget) on.strip(stripTarget.name, stripAmounts(stripTarget));
  });
  // One frame of a strip (the edit's amounts, the mix's frames): its image as a button.
  function frameButton(url, label, onClick) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "frame";
    button.setAttribute("aria-label", label);
    button.addEventListener("click", onClick);
    const img = document.createElement("img");
    img.src = url;
    img.alt = "";
    button.append(img);
    return button;
  }

  function listItem(child) {
    const item = document.createElement("li");
    item.append(child);
    return item;
  }

  let builtStrip = null;
  function buildEditStrip(strip, label) {
    builtStrip = strip;
    dom.editStrip.replaceChildren(...strip.urls.map((url, index) => {
      const amount = strip.amounts[index];
      const button = frameButton(url, `${label} ${formatAmount(amount)}: use this amount`,
        () => on.edit(strip.attribute, amount));
      button.dataset.stripFrame = String(index);
      button.title = `${label} ${formatAmount(amount)}`;
      return listItem(button);
    }));
  }

  // Main sliders are fixed; the hair one carries the attribute menu.
  const hairSelect = buildHairSelect();
  hairSelect.addEventListener("change", () => on.hair(hairSelect.value));
  const main = MAIN_SLIDERS.map((spec) => {
    const root = buildSlider({ ...spec, extra: spec.key === "hair" ? hairSelect : null });
    dom.mainSliders.append(root);
    const input = $("[data-slider-input]", root);
    input.addEventListener("input", () => {
      const attribute = spec.attribute ?? hairSelect.value;
      on.edit(attribute, spec.sign * Number(input.value));
    });
    return { spec, root };
  });

  let builtAttributes = null;
  let allRows = [];
  // Every direction but the fixed main ones (a second, unflipped "Age" would only confuse).
  const fixed = new Set(MAIN_SLIDERS.map((spec) => spec.attribute).filter(Boolean));
  function buildAllSliders(attributes) {
    dom.allSliders.replaceChildren();
    builtAttributes = attributes;
    allRows = attributes.filter((a) => !fixed.has(a.name)).map((attribute) => {
      const root = buildSlider({ key: attribute.name, label: attribute.label, note: attribute.description });
      const input = $("[data-slider-input]", root);
      input.addEventListener("input", () => on.edit(attribute.name, Number(input.value)));
      dom.allSliders.append(root);
      return { attribute, root };
    });
  }

  let builtFrames = null;
  function buildStrip(frames) {
    dom.mixStrip.replaceChildren(...frames.map((url, index) => {
      const share = frames.length > 1 ? Math.round((index / (frames.length - 1)) * 100) : 0;
      const button = frameButton(url, `Frame ${index + 1}: ${100 - share}% A, ${share}% B`,
        () => on.mixIndex(index));
      button.dataset.frame = String(index);
      return listItem(button);
    }));
    builtFrames = frames;
  }

  let builtFacesKey = "";
  function buildFaceBoxes(latent, size) {
    const faces = latent?.faces ?? [];
    const key = JSON.stringify([faces, size, latent?.face]);
    if (key === builtFacesKey) return;
    builtFacesKey = key;
    dom.faceBoxes.replaceChildren();
    if (faces.length < 2 || !size) return;
    faces.forEach((box, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "face-box";
      button.dataset.face = String(index);
      button.style.left = `${(box.x0 / size.width) * 100}%`;
      button.style.top = `${(box.y0 / size.height) * 100}%`;
      button.style.width = `${((box.x1 - box.x0) / size.width) * 100}%`;
      button.style.height = `${((box.y1 - box.y0) / size.height) * 100}%`;
      button.setAttribute("aria-label", `Edit face ${index + 1} of ${faces.length}`);
      button.setAttribute("aria-pressed", String(index === latent.face));
      button.textContent = String(index + 1);
      button.addEventListener("click", () => on.face(index));
      dom.faceBoxes.append(button);
    });
  }

  return function render(state) {
    const { latent, photo, result, edits } = state;
    const busy = state.encode.busy || state.edit.busy || state.mix.busy || state.second.encode.busy;

    dom.health.dataset.health = state.health;
    setText(dom.health, { ok: "Ready", down: "Queue offline", checking: "Checking the server…" }[state.health]);
    dom.deleteData.hidden = !(latent || state.second.latent || busy);
    setText(dom.status, state.status);

    dom.alert.hidden = !state.alert;
    if (state.alert) {
      dom.alert.dataset.tone = state.alert.tone;
      if (state.alert.code) dom.alert.dataset.code = state.alert.code;
      else delete dom.alert.dataset.code;
      setText(dom.alertTitle, state.alert.title);
      setText(dom.alertDetail, state.alert.detail);
      dom.alertDetail.hidden = !state.alert.detail;
      dom.alertRetry.hidden = !state.alert.retry;
    }
    dom.healthBanner.hidden = state.health !== "down";

    for (const el of dom.whenEmpty) el.hidden = Boolean(photo);
    for (const el of dom.whenPhoto) el.hidden = !photo;
    dom.sources.hidden = !latent;
    for (const radio of dom.views) radio.checked = radio.value === state.view;

    // Face comparison: aligned original vs the edit (or the plain reconstruction); while an edit
    // renders, its latest preview (the step's predicted face) until the result replaces it.
    const preview = state.edit.busy ? state.preview : null;
    const afterFace = preview?.image ?? result?.imageUrl ?? latent?.reconstructionUrl ?? null;
    dom.faceCompare.hidden = state.view !== "face";
    // Until a face is encoded the upload itself is shown, alone (pulsing while it is processed).
    dom.faceCompare.classList.toggle("single", !latent);
    dom.faceCompare.classList.toggle("working", !latent && state.encode.busy);
    const faceBefore = $("[data-compare-before]", dom.faceCompare);
    const faceAfter = $("[data-compare-after]", dom.faceCompare);
    setSrc(faceBefore, latent?.alignedUrl ?? photo?.url ?? null);
    setSrc(faceAfter, latent ? afterFace : null);
    faceBefore.alt = latent ? "Original face, aligned" : "Your photo";
    faceAfter.alt = preview ? `Preview of the edit (step ${preview.step} of ${preview.total})`
      : result ? "Edited face" : "Face as reconstructed by the model";
    faceAfter.dataset.result = preview ? "preview" : result ? "edit" : "reconstruction";
    setText($("[data-compare-after-tag]", dom.faceCompare),
      preview ? "Preview" : result ? "Edited" : "Reconstruction");
    $("[data-compare-range]", dom.faceCompare).disabled = !latent;

    // Whole-photo comparison: the upload vs the edit pasted back (its change added to the photo,
    // or the face replaced, as chosen; servers without the second send only the first).
    const replacing = state.paste === "replace" && Boolean(result?.photoReplacedUrl);
    const photoEdited = replacing ? result.photoReplacedUrl : result?.photoUrl;
    const photoAfter = photoEdited ?? latent?.photoUrl ?? null;
    dom.pasteModes.hidden = state.view !== "photo" || !result?.photoReplacedUrl;
    for (const radio of dom.pastes) radio.checked = radio.value === state.paste;
    dom.photoCompare.hidden = state.view !== "photo";
    dom.photoCompare.classList.toggle("single", !photoAfter);
    const size = photo?.size ?? null;
    if (size) dom.photoCompare.style.setProperty("--ar", `${size.width / size.height}`);
    const photoBefore = $("[data-compare-before]", dom.photoCompare);
    setSrc(photoBefore, photo?.url ?? null);
    photoBefore.alt = "Your original photo";
    const photoAfterImg = $("[data-compare-after]", dom.photoCompare);
    setSrc(photoAfterImg, photoAfter);
    photoAfterImg.alt = !result ? "Your photo with the reconstructed face pasted back"
      : replacing ? "Your photo with its face replaced by the edited face"
        : "Your photo with the edit's change added";
    photoAfterImg.dataset.result = result ? "edit" : "reconstruction";
    setText($("[data-compare-after-tag]", dom.photoCompare), result ? "Edited" : "Reconstruction");
    $("[data-compare-range]", dom.photoCompare).disabled = !photoAfter;

    let note = "";
    if (state.encode.busy) note = "Finding, aligning and encoding the face…";
    else if (!latent) note = photo ? "Nothing to edit yet: try again, or choose another photo." : "";
    else if (state.view === "photo" && !photoAfter) note = "Move a slider to see the edit in the whole photo.";
    else if (!result) note = "Right of the divider: the face as the model reconstructs it. Move a slider to edit.";
    else note = "Drag the divider (or focus it and use the arrow keys) to compare.";
    setText(dom.viewerNote, note);

    setHref(dom.downloadFace, result?.imageUrl ?? null);
    setHref(dom.downloadPhoto, photoEdited ?? null);
    renderProgress(dom.editProgress, state.edit, "Rendering");
    renderProgress(dom.encodeProgress, state.encode, "Encoding");

    setSrc(dom.original, photo?.url ?? null);
    buildFaceBoxes(latent, size);
    const faces = latent?.faces.length ?? 0;
    setText(dom.facesCaption, faces > 1 ? `${faces} faces: pick one` : "Original");
    setSrc(dom.aligned, latent?.alignedUrl ?? null);
    setSrc(dom.reconstruction, latent?.reconstructionUrl ?? null);

    // Sliders.
    const ready = Boolean(latent);
    const known = state.attributes;
    setText(dom.controlsHint, ready
      ? "Sliders add up into one edit; each change renders a new face."
      : "Upload a photo to enable the sliders.");
    for (const option of hairSelect.options) {
      option.disabled = known.length > 0 && !findAttribute(known, option.value);
    }
    if (hairSelect.value !== state.hair) hairSelect.value = state.hair;
    hairSelect.disabled = !ready;
    for (const { spec, root } of main) {
      const name = spec.attribute ?? state.hair;
      const attribute = findAttribute(known, name);
      const available = known.length === 0 || Boolean(attribute);
      const range = sliderRange(attribute, spec.sign);
      const value = spec.sign * (edits[name] ?? 0) || 0;
      setSlider(root, { ...range, value, disabled: !ready || !available });
    }
    if (builtAttributes !== known) buildAllSliders(known);
    for (const { attribute, root } of allRows) {
      setSlider(root, { ...sliderRange(attribute), value: edits[attribute.name] ?? 0, disabled: !ready });
    }
    dom.reset.disabled = Object.keys(edits).length === 0;
    const strip = state.strip;
    stripTarget = state.lastAttribute ? findAttribute(known, state.lastAttribute) : null;
    dom.stripShow.disabled = !ready || !stripTarget || strip.busy;
    setText(dom.stripHint, stripTarget
      ? `${stripTarget.label}: ${stripAmounts(stripTarget).map(formatAmount).join(", ")}, with the other `
        + "sliders as they are; pick one to use it."
      : "Move a slider, then compare several amounts of it side by side.");
    if (builtStrip !== strip) buildEditStrip(strip, findAttribute(known, strip.attribute)?.label ?? "");
    dom.editStrip.hidden = strip.urls.length === 0;
    renderProgress(dom.stripProgress, strip, "Rendering");
    const serverSteps = state.limits?.defaultSteps;
    setText(dom.steps.options[0], serverSteps ? `Server default (${serverSteps})` : "Server default");
    const steps = state.steps === null ? "" : String(state.steps);
    if (![...dom.steps.options].some((o) => o.value === steps)) dom.steps.add(new Option(steps, steps));
    if (dom.steps.value !== steps) dom.steps.value = steps;

    const encodeSteps = state.limits?.defaultEncodeSteps;
    const solver = SOLVER_NAMES[state.limits?.defaultSolver] ?? null;
    setText(dom.encodeInfo, encodeSteps ? `Each face is inverted once, with ${encodeSteps} steps`
      + `${solver ? ` of ${solver}` : ""}; this setting is the step count of every render made from it.` : "");
    const model = state.model;
    setText(dom.modelInfo, model ? `Model: ${model.preset}${model.imageSize ? `, ${model.imageSize} px faces` : ""}.` : "");

    // Mixing.
    const second = state.second;
    const mix = state.mix;
    setSrc(dom.mixA, latent?.alignedUrl ?? null);
    setSrc(dom.mixB, second.latent?.alignedUrl ?? null);
    dom.mixFile.disabled = !ready || second.encode.busy;
    dom.mixPick.classList.toggle("disabled", dom.mixFile.disabled);
    setText(dom.mixPickText, second.latent ? "Change" : "Choose second photo");
    setText(dom.mixHint, !ready
      ? "Upload a first photo, then a second one: the faces are blended step by step into a strip of frames and an animated GIF."
      : "Choose or drop a second photo here to blend the two faces.");
    if (builtFrames !== mix.frames) buildStrip(mix.frames);
    dom.mixResult.hidden = mix.frames.length === 0;
    if (mix.frames.length) {
      setSrc(dom.mixFrame, mix.frames[mix.index]);
      const share = mix.frames.length > 1 ? Math.round((mix.index / (mix.frames.length - 1)) * 100) : 0;
      dom.mixFrame.alt = `Blend: ${100 - share}% face A, ${share}% face B`;
      dom.mixRange.max = String(mix.frames.length - 1);
      dom.mixRange.value = String(mix.index);
      dom.mixRange.setAttribute("aria-valuetext", `${100 - share}% A, ${share}% B`);
      setText(dom.mixOutput, `${100 - share}% A · ${share}% B`);
      for (const button of $$("[data-frame]", dom.mixStrip)) {
        const current = Number(button.dataset.frame) === mix.index;
        if (current) button.setAttribute("aria-current", "true");
        else button.removeAttribute("aria-current");
      }
    }
    dom.mixGif.hidden = !mix.gifUrl;
    setSrc(dom.mixGifImg, mix.gifUrl);
    setHref(dom.mixGifLink, mix.gifUrl);
    const mixTask = second.encode.busy ? second.encode : mix;
    renderProgress(dom.mixProgress, mixTask, second.encode.busy ? "Encoding" : "Blending");
  };
}
