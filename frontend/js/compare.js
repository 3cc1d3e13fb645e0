// Before/after comparison: two stacked images, the "after" one clipped at a divider. The divider
// is a native <input type=range> stretched over the images (transparent), so mouse drag, touch
// drag, click-to-jump and the keyboard (arrows, Page Up/Down, Home/End) all come from the browser.
// The divider position is view state local to the widget, not part of the store.

function setPosition(root, input) {
  const pos = Number(input.value);
  root.style.setProperty("--pos", `${pos}%`);
  input.setAttribute("aria-valuetext", `${pos}% original, ${100 - pos}% edited`);
}

/** Wire every `[data-compare]` under `scope`. */
export function initCompares(scope = document) {
  for (const root of scope.querySelectorAll("[data-compare]")) {
    const input = root.querySelector("[data-compare-range]");
    input.addEventListener("input", () => setPosition(root, input));
    setPosition(root, input);
  }
}
