// The one render: state → page. Reads only the store's state; writes only the DOM. Server strings
// go through textContent, server URLs through api.safeUrl (done in studio.js) and `src`/`href`.

import { BRUSH_RADII, Painter } from "./brush.js";
import { buildFaceButtons, buildFaceMarks, framePhoto } from "./faces.js";
import { buildGallery } from "./drawn.js";
import { describeModel } from "./model.js";
import { hasRegions, keptAvailable } from "./options.js";
import {
  MAIN_DIRECTIONS,
  MAIN_SLIDERS,
  buildHairSelect,
  buildSlider,
  findAttribute,
  formatAmount,
  presentation,
  setSlider,
  sliderRange,
} from "./sliders.js";

/**
 * A strip of `count` amounts of `attribute`, evenly spaced over its slider (left to right):
 * `{values, amounts}`, the slider's values and the amounts sent (they differ in sign on a flipped
 * slider such as Age or Beard).
 */
function stripAmounts(attribute, count = 5) {
  const { sign } = presentation(attribute);
  const { min, max } = sliderRange(attribute, sign);
  const values = Array.from({ length: count }, (_, i) => Math.round((min + ((max - min) * i) / (count - 1)) * 100) / 100);
  return { values, amounts: values.map((v) => sign * v || 0) };
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

const PHASES = {
  preparing: "Preparing the photo…",
  uploading: "Uploading…",
  queued: "Waiting in the queue…",
  running: "Working",
};

function progressText(task, label) {
  if (task.status === "running") return `${label} ${Math.round(task.progress * 100)}%`;
  // The place in the queue, polled once a second while the job waits (jobs.js).
  if (task.status === "queued" && task.ahead > 0) return `Waiting: ${task.ahead} ahead of you`;
  if (task.status === "queued" && task.ahead === 0) return "Next in the queue…";
  return PHASES[task.status] ?? `${label}…`;
}

function renderProgress(row, task, label) {
  row.hidden = !task.busy;
  if (!task.busy) return;
  const bar = $("[data-progress-bar]", row);
  const determinate = task.status === "running" && task.progress > 0;
  if (determinate) bar.value = task.progress;
  else bar.removeAttribute("value"); // indeterminate while preparing, uploading or queued
  setText($("[data-progress-text]", row), progressText(task, label));
}

const DOWNLOADS = {
  face: ["Download face (PNG)", "Getting the face…"],
  photo: ["Download photo (PNG)", "Getting the photo…"],
  gif: ["Download GIF", "Getting the GIF…"],
};

function renderDownload(link, kind, url, fetching) {
  setHref(link, url);
  const busy = fetching === kind;
  setText(link, DOWNLOADS[kind][busy ? 1 : 0]);
  if (busy) link.setAttribute("aria-busy", "true");
  else link.removeAttribute("aria-busy");
}

/** What "Change only" does, per choice. */
const REGION_HINTS = {
  "": "",
  mouth: "Only the mouth and around it change; the rest of the face stays exactly as it was.",
  eyes: "Only the eyes and eyebrows change; the rest of the face stays exactly as it was.",
  face: "Only the face from chin to forehead changes; hair and background stay as they were.",
  hair: "Everything but the face changes (hair, ears, neck, background); the face stays as it was.",
};

/** The part "Change only" names, for the sentence that says a painting is added to it. */
const REGION_PARTS = {
  mouth: "The mouth",
  eyes: "The eyes and eyebrows",
  face: "The face from chin to forehead",
  hair: "Everything but the face (hair, ears, neck, background)",
};

/** What the brush does now, in plain words. */
function brushHint({ painting, painted, region, drawn, edits }) {
  const rest = drawn ? "the rest of the face stays as it was" : "the rest keeps the photo's own look";
  const move = edits ? "" : " Move a slider to make the edit.";
  if (painted && region) {
    return `The edit applies to both: what you painted and ${REGION_PARTS[region].toLowerCase()}.${move}`;
  }
  if (painted) return `Only what you painted changes; ${rest}.${move}`;
  if (painting) return `Paint over the part of the face to change; ${rest}.`;
  return `Or paint over the part of the face to change, on the face itself; ${rest}.`;
}

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const DRAG_NOTE = "Drag the divider to compare.";

/** Build the page's dynamic parts once; returns `render(state)`. `on` receives UI intents. */
export function createView(on) {
  const dom = {
    health: $("[data-health]"),
    deleteData: $("[data-delete-data]"),
    status: $("[data-status]"),
    modelNotice: $("[data-model-notice]"),
    modelNoticeTitle: $("[data-model-notice-title]"),
    modelNoticeDetail: $("[data-model-notice-detail]"),
    earlier: $("[data-earlier]"),
    earlierFaces: $("[data-earlier-faces]"),
    earlierText: $("[data-earlier-text]"),
    deleteEarlier: $("[data-delete-earlier]"),
    alert: $("[data-alert]"),
    alertTitle: $("[data-alert-title]"),
    alertDetail: $("[data-alert-detail]"),
    alertRetry: $("[data-alert-retry]"),
    healthBanner: $("[data-health-banner]"),
    whenEmpty: $$("[data-when=empty]"),
    whenPhoto: $$("[data-when=photo]"),
    viewChoice: $("[data-views]"),
    views: $$("[data-view]"),
    facesView: $("[data-faces-view]"),
    facesViewText: $("[data-faces-view-text]"),
    pasteModes: $("[data-paste-modes]"),
    pastes: $$("[data-paste]"),
    viewer: $("[data-viewer]"),
    faceCompare: $("[data-compare=face]"),
    photoCompare: $("[data-compare=photo]"),
    photoLoading: $("[data-photo-loading]"),
    photoLoadingText: $("[data-photo-loading-text]"),
    picker: $("[data-face-picker]"),
    pickerHint: $("[data-face-picker-hint]"),
    pickerPhoto: $("[data-face-picker-photo]"),
    pickerImg: $("[data-face-picker-img]"),
    faceBoxes: $("[data-face-boxes]"),
    viewerNote: $("[data-viewer-note]"),
    keysHint: $("[data-keys-hint]"),
    photoNote: $("[data-photo-note]"),
    downloadFace: $("[data-download=face]"),
    downloadPhoto: $("[data-download=photo]"),
    editProgress: $("[data-progress=edit]"),
    encodeProgress: $("[data-progress=encode]"),
    sources: $("[data-sources]"),
    original: $("[data-original]"),
    faceMarks: $("[data-face-marks]"),
    facesCaption: $("[data-faces-caption]"),
    pickFace: $("[data-pick-face]"),
    aligned: $("[data-aligned]"),
    reconstruction: $("[data-reconstruction]"),
    sticky: $("[data-sticky-preview]"),
    stickyBefore: $("[data-sticky-before]"),
    stickyAfter: $("[data-sticky-after]"),
    stickyAfterTag: $("[data-sticky-after-tag]"),
    stickyStatus: $("[data-sticky-status]"),
    controls: $("[data-controls]"),
    controlsHint: $("[data-controls-hint]"),
    mainSliders: $("[data-main-sliders]"),
    allSliders: $("[data-all-sliders]"),
    reset: $("[data-reset]"),
    keep: $("[data-keep]"),
    keepHint: $("[data-keep-hint]"),
    region: $("[data-region]"),
    regionHint: $("[data-region-hint]"),
    paint: $("[data-paint]"),
    paintCanvas: $("[data-paint-canvas]"),
    brushClear: $("[data-brush-clear]"),
    brushOptions: $("[data-brush-options]"),
    brushSizes: $$("[data-brush-size]"),
    brushErase: $("[data-brush-erase]"),
    brushHint: $("[data-brush-hint]"),
    steps: $("[data-steps]"),
    encodeInfo: $("[data-encode-info]"),
    modelInfo: $("[data-model-info]"),
    mixHint: $("[data-mix-hint]"),
    mixA: $("[data-mix-a]"),
    mixB: $("[data-mix-b]"),
    mixBSlot: $("[data-mix-b-slot]"),
    mixBStatus: $("[data-mix-b-status]"),
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
    drawn: $("[data-drawn]"),
    draw: $("[data-draw]"),
    drawnFaces: $("[data-drawn-faces]"),
    drawProgress: $("[data-progress=draw]"),
  };

  // The strip of the last slider moved: its attribute at several amounts, in one job.
  let stripTarget = null;
  dom.stripShow.addEventListener("click", () => {
    if (stripTarget) on.strip(stripTarget.name, stripAmounts(stripTarget).amounts);
  });
  dom.pickFace.addEventListener("click", () => {
    on.view("faces");
    dom.viewer.scrollIntoView({ block: "nearest" });
  });

  // The brush: painting on the face view; each finished stroke hands the painting on.
  const painter = new Painter(dom.paintCanvas, (url) => on.brush(url));
  let paintState = null;
  let paintingShown = false;
  dom.paint.addEventListener("click", () => {
    const start = !paintingShown;
    on.paint({ on: start });
    if (start) dom.viewer.scrollIntoView({ block: "nearest" });
  });
  dom.brushErase.addEventListener("click", () => on.paint({ erase: !(paintState?.erase ?? false) }));
  for (const radio of dom.brushSizes) {
    radio.addEventListener("change", () => radio.checked && on.paint({ size: radio.value }));
  }
  dom.brushClear.addEventListener("click", () => on.brush(null));

  // On a narrow screen the sliders sit below the face: while they are on screen and the face is
  // not, a bar fixed at the top shows it (before and after). Which is on screen is the layout's
  // business, not the store's (like the divider's position).
  const seen = new Map();
  const watch = new IntersectionObserver((entries) => {
    for (const entry of entries) seen.set(entry.target, entry.intersectionRatio);
    const faceSeen = Math.max(seen.get(dom.faceCompare) ?? 0, seen.get(dom.photoCompare) ?? 0,
      seen.get(dom.picker) ?? 0);
    dom.sticky.classList.toggle("away", faceSeen < 0.5 && (seen.get(dom.controls) ?? 0) > 0);
  }, { threshold: [0, 0.5, 1] });
  for (const el of [dom.faceCompare, dom.photoCompare, dom.picker, dom.controls]) watch.observe(el);

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
  function buildEditStrip(strip, known) {
    builtStrip = strip;
    const attribute = findAttribute(known, strip.attribute);
    const { label, sign } = attribute ? presentation(attribute) : { label: "", sign: 1 };
    dom.editStrip.replaceChildren(...strip.urls.map((url, index) => {
      const amount = strip.amounts[index];
      const shown = `${label} ${formatAmount(sign * amount)}`;
      const button = frameButton(url, `${shown}: use this amount`, () => on.edit(strip.attribute, amount));
      button.dataset.stripFrame = String(index);
      button.title = shown;
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
  // Every direction without a slider above (a second Age, or a second Wavy hair beside the Hair
  // menu, would only confuse), each the way round its label reads.
  function buildAllSliders(attributes) {
    dom.allSliders.replaceChildren();
    builtAttributes = attributes;
    allRows = attributes.filter((a) => !MAIN_DIRECTIONS.has(a.name)).map((attribute) => {
      const { label, ends, note, sign } = presentation(attribute);
      const root = buildSlider({ key: attribute.name, label, ends, note });
      const input = $("[data-slider-input]", root);
      input.addEventListener("input", () => on.edit(attribute.name, sign * Number(input.value)));
      dom.allSliders.append(root);
      return { attribute, root, sign };
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
  function buildFaces(latent, size) {
    const faces = latent?.faces ?? [];
    const key = JSON.stringify([faces, size, latent?.face]);
    if (key === builtFacesKey) return;
    builtFacesKey = key;
    if (faces.length < 2 || !size) {
      dom.faceBoxes.replaceChildren();
      dom.faceMarks.replaceChildren();
      return;
    }
    framePhoto(dom.pickerPhoto, faces, size);
    buildFaceButtons(dom.faceBoxes, faces, size, latent.face, on.face);
    buildFaceMarks(dom.faceMarks, faces, size, latent.face);
  }

  let builtDrawn = null;

  let builtEarlier = null;
  function buildEarlier(earlier) {
    builtEarlier = earlier;
    dom.earlierFaces.replaceChildren(...earlier.filter((e) => e.alignedUrl).map((e) => {
      const img = document.createElement("img");
      img.src = e.alignedUrl;
      img.alt = "A face you sent earlier";
      return img;
    }));
  }

  return function render(state) {
    const { latent, photo, result, edits } = state;
    const busy = state.encode.busy || state.edit.busy || state.mix.busy || state.second.encode.busy
      || state.drawn.busy;

    // The server and its model, said at the top (the bundled models are small demos).
    const model = describeModel(state.serving, state.model);
    dom.health.dataset.health = state.health;
    setText(dom.health, state.health === "ok" ? (model ? `Ready · ${model.name}` : "Ready")
      : state.health === "down" ? "Queue offline" : "Checking the server…");
    dom.modelNotice.hidden = !model?.small;
    setText(dom.modelNoticeTitle, model?.title ?? "");
    setText(dom.modelNoticeDetail, model?.detail ?? "");

    const earlier = state.earlier;
    dom.deleteData.hidden = !(latent || state.second.latent || busy || earlier.length || state.drawn.faces.length);
    dom.earlier.hidden = earlier.length === 0;
    if (builtEarlier !== earlier) buildEarlier(earlier);
    const one = earlier.length === 1;
    setText(dom.earlierText, `${one ? "A photo" : `${earlier.length} photos`} you sent from this browser before `
      + `this page was loaded ${one ? "is" : "are"} still on the server until ${one ? "it expires" : "they expire"}.`);
    setText(dom.deleteEarlier, one ? "Delete it now" : "Delete them now");
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
      setText(dom.alertRetry, state.alert.retryLabel ?? "Try again");
    }
    dom.healthBanner.hidden = state.health !== "down";

    for (const el of dom.whenEmpty) el.hidden = Boolean(photo);
    for (const el of dom.whenPhoto) el.hidden = !photo;
    dom.sources.hidden = !latent;
    // Face / Whole photo / Faces only once there is a face: a photo without one has nothing to compare.
    const faces = latent?.faces.length ?? 0;
    const view = !latent ? "face" : state.view === "faces" && faces < 2 ? "face" : state.view;
    dom.viewChoice.hidden = !latent;
    dom.facesView.hidden = faces < 2;
    setText(dom.facesViewText, `Faces (${faces})`);
    for (const radio of dom.views) radio.checked = radio.value === view;
    // Painting where to change (the brush) turns the face view into a paint surface.
    const painting = Boolean(latent) && !state.encode.busy && state.paint.on && view === "face";

    // Face comparison: aligned original vs the edit (or the plain reconstruction); while an edit
    // renders, its latest preview (the step's predicted face) until the result replaces it.
    const preview = state.edit.busy ? state.preview : null;
    const afterFace = preview?.image ?? result?.imageUrl ?? latent?.reconstructionUrl ?? null;
    const afterTag = preview ? "Preview" : result ? "Edited" : "Redrawn";
    dom.faceCompare.hidden = view !== "face";
    // Until a face is ready the upload itself is shown, alone (pulsing while it is processed).
    dom.faceCompare.classList.toggle("single", !latent);
    dom.faceCompare.classList.toggle("working", state.encode.busy);
    const faceBefore = $("[data-compare-before]", dom.faceCompare);
    const faceAfter = $("[data-compare-after]", dom.faceCompare);
    setSrc(faceBefore, latent?.alignedUrl ?? photo?.url ?? null);
    setSrc(faceAfter, latent ? afterFace : null);
    faceBefore.alt = latent ? "Original face, aligned" : "Your photo";
    faceAfter.alt = preview ? `Preview of the edit (step ${preview.step} of ${preview.total})`
      : result ? "Edited face" : "The face as the model redraws it";
    faceAfter.dataset.result = preview ? "preview" : result ? "edit" : "reconstruction";
    setText($("[data-compare-after-tag]", dom.faceCompare), afterTag);
    $("[data-compare-range]", dom.faceCompare).disabled = !latent;

    // Whole-photo comparison: the upload vs the edit pasted back (its change added to the photo,
    // or the face replaced, as chosen; servers without the second send only the first). A newly
    // chosen one is shown once loaded; meanwhile the old one stays, marked as loading.
    const pasted = (mode) => (mode === "replace" && result?.photoReplacedUrl ? result.photoReplacedUrl : result?.photoUrl);
    const replacing = state.pasteShown === "replace" && Boolean(result?.photoReplacedUrl);
    const photoShown = pasted(state.pasteShown);
    const photoAfter = photoShown ?? latent?.photoUrl ?? null;
    const pasteLoading = Boolean(result) && state.paste !== state.pasteShown;
    dom.pasteModes.hidden = view !== "photo" || !result?.photoReplacedUrl;
    for (const radio of dom.pastes) radio.checked = radio.value === state.paste;
    dom.photoCompare.hidden = view !== "photo";
    dom.photoCompare.classList.toggle("single", !photoAfter);
    dom.photoCompare.classList.toggle("loading", pasteLoading);
    dom.photoLoading.hidden = !pasteLoading;
    setText(dom.photoLoadingText, state.paste === "replace" ? "Putting the edited face into your photo…"
      : "Adding the change to your photo…");
    const size = photo?.size ?? null;
    if (size) dom.photoCompare.style.setProperty("--ar", `${size.width / size.height}`);
    const photoBefore = $("[data-compare-before]", dom.photoCompare);
    setSrc(photoBefore, photo?.url ?? null);
    photoBefore.alt = "Your original photo";
    const photoAfterImg = $("[data-compare-after]", dom.photoCompare);
    setSrc(photoAfterImg, photoAfter);
    photoAfterImg.alt = !result ? "Your photo with the redrawn face pasted back"
      : replacing ? "Your photo with its face replaced by the edited face"
        : "Your photo with the edit's change added";
    photoAfterImg.dataset.result = result ? "edit" : "reconstruction";
    setText($("[data-compare-after-tag]", dom.photoCompare), result ? "Edited" : "Redrawn");
    $("[data-compare-range]", dom.photoCompare).disabled = !photoAfter;

    // The face picker: the whole photo, large, a button on each face.
    dom.picker.hidden = view !== "faces";
    buildFaces(latent, size);
    if (faces > 1) setSrc(dom.pickerImg, photo?.url ?? null);
    dom.pickerImg.alt = faces > 1 ? `Your photo: ${faces} faces found` : "";
    setText(dom.pickerHint, faces > 1 ? `${faces} faces found: choose the one to edit.` : "");

    let note = "";
    if (state.encode.busy) {
      note = state.encode.status === "preparing" ? "Preparing your photo…" : "Finding the face and reading it…";
    } else if (state.expired) {
      note = "The server no longer has this photo, so it can't be edited. Upload it again to carry on; "
        + "the sliders keep their settings.";
    } else if (!latent) {
      note = photo ? "Nothing to edit yet: try again, or choose another photo." : "";
    } else if (view === "photo" && !photoAfter) {
      note = "Move a slider to see the edit in the whole photo.";
    } else if (painting) {
      note = "Paint on the face with the mouse or a finger; when you let go, the edit follows the paint.";
    } else if (!result && view !== "faces") {
      note = "Right of the divider: the face as the model redraws it, before any change. Move a slider to edit.";
    } else if (view !== "faces") {
      note = DRAG_NOTE;
    }
    setText(dom.viewerNote, note);
    dom.keysHint.hidden = note !== DRAG_NOTE; // also hidden on touch screens (CSS)

    const shrunk = photo?.shrunk;
    dom.photoNote.hidden = !shrunk;
    if (shrunk && size) {
      const resized = shrunk.from.width !== size.width || shrunk.from.height !== size.height;
      setText(dom.photoNote, "Your photo was made smaller before it was sent, to fit this server's limits: "
        + `${resized ? `${shrunk.from.width} × ${shrunk.from.height} → ${size.width} × ${size.height} pixels, ` : ""}`
        + `${mib(shrunk.bytes)} → ${mib(photo.file.size)}.`);
    }

    renderDownload(dom.downloadFace, "face", result?.imageUrl ?? null, state.download);
    renderDownload(dom.downloadPhoto, "photo", pasted(state.paste) ?? null, state.download);
    renderProgress(dom.editProgress, state.edit, "Rendering");
    renderProgress(dom.encodeProgress, state.encode, "Reading the face");

    setSrc(dom.original, photo?.url ?? null);
    setText(dom.facesCaption, faces > 1 ? `Face ${latent.face + 1} of ${faces}` : latent?.drawn ? "Drawn face" : "Original");
    // A drawn face is its own (small) photo: shown as large as the thumbnails beside it.
    dom.sources.classList.toggle("drawn", Boolean(latent?.drawn));
    dom.pickFace.hidden = faces < 2;
    setSrc(dom.aligned, latent?.alignedUrl ?? null);
    setSrc(dom.reconstruction, latent?.reconstructionUrl ?? null);

    // The bar that keeps the face in sight on a phone while the sliders are used.
    dom.sticky.hidden = !latent;
    setSrc(dom.stickyBefore, latent?.alignedUrl ?? null);
    setSrc(dom.stickyAfter, latent ? afterFace : null);
    setText(dom.stickyAfterTag, afterTag);
    setText(dom.stickyStatus, state.edit.busy ? progressText(state.edit, "Rendering") : "");

    // Sliders.
    const ready = Boolean(latent) && !state.encode.busy;
    const known = state.attributes;
    setText(dom.controlsHint, ready ? "Sliders add up into one edit; each change renders a new face."
      : state.expired ? "Upload the photo again to enable the sliders." : "Upload a photo to enable the sliders.");
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
    for (const { attribute, root, sign } of allRows) {
      const value = sign * (edits[attribute.name] ?? 0) || 0;
      setSlider(root, { ...sliderRange(attribute, sign), value, disabled: !ready });
    }
    dom.reset.disabled = Object.keys(edits).length === 0;
    // "Keep age and gender fixed": only with a model that has both directions (checked before it says).
    const keepable = known.length === 0 || keptAvailable(known).length === 2;
    dom.keep.checked = state.keep;
    dom.keep.disabled = !ready || !keepable;
    setText(dom.keepHint, keepable ? "The other sliders then change the person's apparent age and gender as "
      + "little as they can." : "This model has no age and gender directions to keep fixed.");
    // "Change only": a drawn face has no landmarks to find a part of it by, so it changes whole;
    // so does a photo whose landmarks the server did not keep (`regions: false`).
    const drawnFace = Boolean(latent?.drawn);
    const noParts = Boolean(latent) && !hasRegions(latent);
    const region = noParts ? "" : state.region ?? "";
    if (dom.region.value !== region) dom.region.value = region;
    dom.region.disabled = !ready || noParts;
    setText(dom.regionHint, drawnFace ? "A drawn face always changes as a whole from this menu: only a photo's "
      + "face has the landmarks a part is found by. Paint the part to change instead."
      : noParts ? "The parts of this face could not be found, so this menu changes it as a whole. Paint the "
        + "part to change instead."
      : state.brush && region ? `${REGION_PARTS[region]} and what you painted change; everything else stays `
        + "exactly as it was."
        : REGION_HINTS[region]);

    // The brush: painting on the face view (a drawn face too: it needs no landmarks). The canvas
    // is cleared when the painting is dropped (Clear, a new face, "Delete my data").
    const paint = state.paint;
    paintState = paint;
    if (!state.brush && painter.url) painter.clear();
    paintingShown = painting;
    painter.enabled = painting;
    painter.erase = paint.erase;
    painter.radius = BRUSH_RADII[paint.size] ?? BRUSH_RADII.medium;
    dom.paintCanvas.hidden = !painting;
    dom.faceCompare.classList.toggle("painting", painting);
    dom.paint.disabled = !ready;
    dom.paint.setAttribute("aria-pressed", String(painting));
    dom.brushClear.disabled = !ready || !state.brush;
    dom.brushOptions.hidden = !painting;
    for (const radio of dom.brushSizes) radio.checked = radio.value === paint.size;
    dom.brushErase.setAttribute("aria-pressed", String(paint.erase));
    setText(dom.brushHint, brushHint({
      painting, painted: Boolean(state.brush), region: noParts ? null : state.region, drawn: drawnFace,
      edits: Object.keys(edits).length > 0,
    }));
    const strip = state.strip;
    stripTarget = state.lastAttribute ? findAttribute(known, state.lastAttribute) : null;
    dom.stripShow.disabled = !ready || !stripTarget || strip.busy;
    setText(dom.stripHint, stripTarget
      ? `${presentation(stripTarget).label}: ${stripAmounts(stripTarget).values.map(formatAmount).join(", ")}, `
        + "with the other sliders as they are; pick one to use it."
      : "Move a slider, then compare several amounts of it side by side.");
    if (builtStrip !== strip) buildEditStrip(strip, known);
    dom.editStrip.hidden = strip.urls.length === 0;
    renderProgress(dom.stripProgress, strip, "Rendering");
    const serverSteps = state.limits?.defaultSteps;
    setText(dom.steps.options[0], serverSteps ? `Server default (${serverSteps})` : "Server default");
    const steps = state.steps === null ? "" : String(state.steps);
    if (![...dom.steps.options].some((o) => o.value === steps)) dom.steps.add(new Option(steps, steps));
    if (dom.steps.value !== steps) dom.steps.value = steps;

    const encodeSteps = state.limits?.defaultEncodeSteps;
    setText(dom.encodeInfo, encodeSteps ? `The model reads each face once, in ${encodeSteps} steps, when it is `
      + "uploaded; this setting is the number of steps of every picture made from it afterwards." : "");
    const about = state.model;
    setText(dom.modelInfo, about ? `Model: ${about.preset}${about.imageSize ? `, ${about.imageSize} px faces` : ""}.` : "");

    // Mixing. Face B shows the second photo itself, pulsing, while it is read.
    const second = state.second;
    const mix = state.mix;
    const reading = second.encode.busy;
    setSrc(dom.mixA, latent?.alignedUrl ?? null);
    setSrc(dom.mixB, second.latent?.alignedUrl ?? (reading ? second.photo?.url ?? null : null));
    dom.mixB.classList.toggle("working", reading);
    dom.mixB.alt = second.latent ? "Second face" : "Your second photo, being read";
    dom.mixBSlot.dataset.state = reading ? "reading" : second.latent ? "ready" : "empty";
    dom.mixBStatus.hidden = !reading;
    dom.mixFile.disabled = !ready || reading;
    dom.mixPick.classList.toggle("disabled", dom.mixFile.disabled);
    dom.mixPick.hidden = reading;
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
    renderDownload(dom.mixGifLink, "gif", mix.gifUrl, state.download);
    // Drawn faces: the gallery, the current face and face B marked.
    const drawn = state.drawn;
    dom.drawn.hidden = !state.canSample;
    dom.draw.disabled = drawn.busy;
    setText(dom.draw, drawn.faces.length ? "Draw more faces" : "Draw random faces");
    if (builtDrawn !== drawn.faces) {
      buildGallery(dom.drawnFaces, drawn.faces, { pick: on.pickDrawn, mix: on.mixDrawn });
      builtDrawn = drawn.faces;
    }
    for (const button of $$("[data-drawn-pick]", dom.drawnFaces)) {
      if (button.dataset.drawnPick === latent?.id) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
      button.disabled = state.encode.busy;
    }
    for (const button of $$("[data-drawn-mix]", dom.drawnFaces)) {
      button.disabled = !ready || reading || button.dataset.drawnMix === latent?.id;
      button.classList.toggle("current", button.dataset.drawnMix === second.latent?.id);
    }
    renderProgress(dom.drawProgress, drawn, "Drawing");

    const mixTask = reading ? second.encode : mix;
    renderProgress(dom.mixProgress, mixTask, reading ? "Reading face B" : "Blending");
  };
}
