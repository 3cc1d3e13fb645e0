// The brush: a canvas laid over the face view where a person paints the part of the face an edit
// may change (POST /manipulate `brush`, docs/service.md). The canvas has a fixed inner size and is
// stretched over the face by CSS; its alpha is the mask (the server reads alpha ≥ 128 as painted),
// its colour only what the page shows (drawn translucent by CSS). One stroke (pointer down → up,
// mouse, pen or finger alike) is one change: when it ends, `onStroke` gets the painting as a PNG
// data URL, or null when nothing is painted any more.

/** The canvas's inner size: the mask's side in pixels, whatever the size on screen. */
export const BRUSH_CANVAS_SIZE = 256;

/** Brush radii in canvas pixels (of BRUSH_CANVAS_SIZE), by the size menu's value. */
export const BRUSH_RADII = { small: 8, medium: 16, large: 28 };

const COLOUR = "79, 70, 229"; // the page's accent: shown translucent over the face
const PAINTED = 128; // the server's threshold on alpha

export class Painter {
  #canvas;
  #ctx;
  #onStroke;
  #stroke = null; // {id, x, y}: the pointer painting now, and its last point (canvas pixels)
  #url = null; // the painting as last handed out (a PNG data URL), null = nothing painted
  radius = BRUSH_RADII.medium;
  erase = false;
  enabled = false;

  constructor(canvas, onStroke) {
    this.#canvas = canvas;
    canvas.width = BRUSH_CANVAS_SIZE;
    canvas.height = BRUSH_CANVAS_SIZE;
    this.#ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.#onStroke = onStroke;
    canvas.addEventListener("pointerdown", (event) => this.#down(event));
    canvas.addEventListener("pointermove", (event) => this.#move(event));
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
      canvas.addEventListener(type, (event) => this.#up(event));
    }
  }

  /** The painting as last handed to `onStroke` (null: nothing painted). */
  get url() {
    return this.#url;
  }

  /** Wipe the canvas (the mask is then empty; `onStroke` is not called). */
  clear() {
    this.#stroke = null;
    this.#ctx.clearRect(0, 0, BRUSH_CANVAS_SIZE, BRUSH_CANVAS_SIZE);
    this.#url = null;
  }

  #point(event) {
    const rect = this.#canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - rect.left) / rect.width) * BRUSH_CANVAS_SIZE,
      y: ((event.clientY - rect.top) / rect.height) * BRUSH_CANVAS_SIZE,
    };
  }

  /** One soft round dab at (x, y): solid to half the radius, fading out to the rim. */
  #dab(x, y) {
    const ctx = this.#ctx;
    const r = this.radius;
    const fill = ctx.createRadialGradient(x, y, 0, x, y, r);
    fill.addColorStop(0, `rgba(${COLOUR}, 1)`);
    fill.addColorStop(0.55, `rgba(${COLOUR}, 1)`);
    fill.addColorStop(1, `rgba(${COLOUR}, 0)`);
    ctx.globalCompositeOperation = this.erase ? "destination-out" : "source-over";
    ctx.fillStyle = fill;
    ctx.beginPath();
    ctx.arc(x, y, r, 0, Math.PI * 2);
    ctx.fill();
  }

  /** Dabs from the stroke's last point to (x, y), close enough together to read as a line. */
  #line(x, y) {
    const { x: x0, y: y0 } = this.#stroke;
    const gap = Math.max(1, this.radius / 4);
    const steps = Math.max(1, Math.ceil(Math.hypot(x - x0, y - y0) / gap));
    for (let i = 1; i <= steps; i += 1) this.#dab(x0 + ((x - x0) * i) / steps, y0 + ((y - y0) * i) / steps);
    this.#stroke = { ...this.#stroke, x, y };
  }

  #down(event) {
    if (!this.enabled || this.#stroke || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    this.#canvas.setPointerCapture?.(event.pointerId);
    const { x, y } = this.#point(event);
    this.#stroke = { id: event.pointerId, x, y };
    this.#dab(x, y);
  }

  #move(event) {
    if (!this.#stroke || event.pointerId !== this.#stroke.id) return;
    event.preventDefault();
    // Fast moves arrive coalesced: every point of the way is painted.
    const events = event.getCoalescedEvents?.() ?? [];
    for (const e of events.length ? events : [event]) {
      const { x, y } = this.#point(e);
      this.#line(x, y);
    }
  }

  #up(event) {
    if (!this.#stroke || event.pointerId !== this.#stroke.id) return;
    this.#stroke = null;
    const empty = this.#empty();
    if (empty) this.#ctx.clearRect(0, 0, BRUSH_CANVAS_SIZE, BRUSH_CANVAS_SIZE); // faint rims left by erasing
    this.#url = empty ? null : this.#canvas.toDataURL("image/png");
    this.#onStroke(this.#url);
  }

  /** Nothing the server would count as painted. */
  #empty() {
    const { data } = this.#ctx.getImageData(0, 0, BRUSH_CANVAS_SIZE, BRUSH_CANVAS_SIZE);
    for (let i = 3; i < data.length; i += 4) if (data[i] >= PAINTED) return false;
    return true;
  }
}
