// The faces found in a photo, drawn over it: numbered buttons on the large picker view and plain
// marks on the small thumbnail. Both layers are exactly the image's displayed rectangle (their
// box has the photo's aspect ratio and the image fills it: no letterboxing), so a face's box,
// in percent of the photo, lands on the face. Styles are set through the CSSOM only (the page's
// Content-Security-Policy allows no inline style).

/** Smallest on-screen size of a face's button (px): a fingertip (WCAG 2.5.5), as in studio.css. */
const MIN_TARGET_PX = 44;
/** The picker grows (scrolling sideways) until no two buttons overlap, but never beyond this (px). */
const MAX_PICKER_PX = 4000;

/** Centre and size of `box` in percent of the photo (`size` in pixels). */
function percentBox(box, size) {
  return {
    x: (((box.x0 + box.x1) / 2) / size.width) * 100,
    y: (((box.y0 + box.y1) / 2) / size.height) * 100,
    w: ((box.x1 - box.x0) / size.width) * 100,
    h: ((box.y1 - box.y0) / size.height) * 100,
  };
}

function place(el, box, size) {
  const p = percentBox(box, size);
  el.style.setProperty("--x", `${p.x}%`);
  el.style.setProperty("--y", `${p.y}%`);
  el.style.setProperty("--w", `${p.w}%`);
  el.style.setProperty("--h", `${p.h}%`);
}

/**
 * The photo's smallest on-screen width (px) at which no two faces' buttons (at least
 * MIN_TARGET_PX square, centred on the faces) overlap: two faces are apart once their centres
 * are a button apart across or down, whichever comes first as the photo grows.
 */
function widthApart(faces, size) {
  const centres = faces.map((f) => [(f.x0 + f.x1) / 2, (f.y0 + f.y1) / 2]);
  let scale = 0; // on-screen px per photo px
  centres.forEach(([x, y], i) => {
    for (const [u, v] of centres.slice(i + 1)) {
      const apart = Math.max(Math.abs(x - u), Math.abs(y - v)); // photo px, along the easier axis
      scale = Math.max(scale, apart > 0 ? (MIN_TARGET_PX + 2) / apart : Infinity);
    }
  });
  return Math.min(MAX_PICKER_PX, Math.ceil(scale * size.width));
}

/** Size the photo's frame to the photo: its aspect ratio, and wide enough for every face to be tapped. */
export function framePhoto(frame, faces, size) {
  frame.style.setProperty("--ar", `${size.width / size.height}`);
  frame.style.setProperty("--min-width", `${widthApart(faces, size)}px`);
}

/** One button per face, numbered, over the large view; `onPick(index)` on click or tap. */
export function buildFaceButtons(layer, faces, size, selected, onPick) {
  layer.replaceChildren(...faces.map((box, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "face-box";
    button.dataset.face = String(index);
    place(button, box, size);
    button.setAttribute("aria-label", `Edit face ${index + 1} of ${faces.length}`);
    button.setAttribute("aria-pressed", String(index === selected));
    button.textContent = String(index + 1);
    button.addEventListener("click", () => onPick(index));
    return button;
  }));
}

/** Numbered marks (not controls) over the thumbnail; the selected face highlighted. */
export function buildFaceMarks(layer, faces, size, selected) {
  layer.replaceChildren(...faces.map((box, index) => {
    const mark = document.createElement("span");
    mark.className = "face-mark";
    if (index === selected) mark.dataset.selected = "";
    place(mark, box, size);
    mark.textContent = String(index + 1);
    return mark;
  }));
}
