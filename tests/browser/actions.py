"""What a person does on the studio page, and what they can see, for the browser tests."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import App, Timer

LOADED = """sel => { const i = document.querySelector(sel);
  return i !== null && !!i.getAttribute('src') && i.complete && i.naturalWidth > 0 }"""
# A new image from the server (a running edit's previews, data URLs, do not count).
NEW_AND_LOADED = """([sel, old]) => { const i = document.querySelector(sel);
  return i !== null && !!i.getAttribute('src') && i.getAttribute('src') !== old
    && !i.getAttribute('src').startsWith('data:') && i.complete && i.naturalWidth > 0 }"""
FACE_AFTER = "[data-compare=face] [data-compare-after]"
PHOTO_AFTER = "[data-compare=photo] [data-compare-after]"

#: Words of the model's insides that people need not know (checked in every visible text, label,
#: alt text and tooltip of the page; the method's name, "Diffusion Autoencoders", is not one).
JARGON = re.compile(r"\b(latent|invert|encod|reconstruct|their codes|ddim|z_sem|x_t)", re.IGNORECASE)


def open_studio(page: Any, app: App, health: str = "ok", query: str = "") -> None:
    answer = page.goto(f"{app.url}/{query}")
    # Everything a test does on the page runs under the policy (the `page` fixture fails on a violation).
    assert "script-src 'self';" in answer.headers["content-security-policy"]
    expect(page.locator("[data-health]")).to_have_attribute("data-health", health)


def choose_file(page: Any, button: str, path: Path) -> None:
    """Click a visible file button and pick `path` in the file chooser, as a person would."""
    with page.expect_file_chooser() as chooser:
        page.get_by_text(button, exact=True).click()
    chooser.value.set_files(str(path))


def drop_file(page: Any, target: str, path: Path, mime: str = "image/jpeg") -> None:
    """Drop `path` onto `target` the way a drag from the desktop arrives: a DataTransfer with a File."""
    data = base64.b64encode(path.read_bytes()).decode()
    transfer = page.evaluate_handle(
        """([b64, name, mime]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: mime }));
            return dt;
        }""",
        [data, path.name, mime],
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(target, event, {"dataTransfer": transfer})


def wait_loaded(page: Any, selector: str) -> str:
    page.wait_for_function(LOADED, arg=selector)
    src: str = page.locator(selector).get_attribute("src")
    return src


def upload_astronaut(page: Any, photos: dict[str, Path], timer: Timer) -> str:
    """Upload the astronaut; return the aligned face's URL once it is shown."""
    with timer.measure("upload → aligned face shown"):
        choose_file(page, "Choose a photo", photos["astronaut"])
        aligned = wait_loaded(page, "[data-aligned]")
    return aligned


def encode_job(page: Any, app: App, action: Any) -> dict[str, Any]:
    """Run `action` (which uploads), wait for the encode it sends, return that job's result."""
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/encode")) as accepted:
        action()
    assert accepted.value.status == 202, accepted.value.text()
    job_id = accepted.value.json()["job_id"]
    page.wait_for_function(LOADED, arg="[data-aligned]")
    result: dict[str, Any] = page.request.get(f"{app.url}/jobs/{job_id}").json()["result"]
    return result


def assert_fits_and_labelled(page: Any) -> None:
    """No sideways scrolling at this width; every visible control has an accessible name."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('input, select, button, a[href]')]
            .filter((el) => el.getClientRects().length > 0 || el.type === 'file')
            .filter((el) => !(el.labels?.length || el.getAttribute('aria-label')
                || el.getAttribute('aria-labelledby') || el.textContent.trim()))
            .map((el) => el.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []


def assert_plain_words(page: Any) -> None:
    """No word of the model's insides in what the page shows or reads out (folded panels opened)."""
    texts: list[str] = page.evaluate(
        """() => {
            for (const d of document.querySelectorAll('details')) d.open = true;
            const out = [document.body.innerText];
            for (const el of document.querySelectorAll('[alt], [aria-label], [title], [aria-valuetext]')) {
                if (el.getClientRects().length === 0 && !el.closest('[data-sticky-preview]')) continue;
                for (const name of ['alt', 'aria-label', 'title', 'aria-valuetext']) {
                    if (el.getAttribute(name)) out.push(el.getAttribute(name));
                }
            }
            for (const d of document.querySelectorAll('details')) d.open = false;
            return out;
        }"""
    )
    found = {match[0]: text for text in texts for match in JARGON.finditer(text)}
    assert not found, found


#: On-screen rectangles of the face buttons (or marks) in `layer` and of the image `img` shows,
#: (its content box: with object-fit: contain, the part the picture fills).
GEOMETRY = """([layer, img]) => {
  const i = document.querySelector(img);
  const r = i.getBoundingClientRect();
  let [x, y, w, h] = [r.left, r.top, r.width, r.height];
  const ratio = i.naturalWidth / i.naturalHeight;
  if (getComputedStyle(i).objectFit === 'contain') {
    if (w / h > ratio) { x += (w - h * ratio) / 2; w = h * ratio; }
    else { y += (h - w / ratio) / 2; h = w / ratio; }
  }
  const boxes = [...document.querySelectorAll(`${layer} > *`)].map((b) => {
    const q = b.getBoundingClientRect();
    return { cx: q.left + q.width / 2, cy: q.top + q.height / 2, w: q.width, h: q.height };
  });
  return { image: { x, y, w, h, nw: i.naturalWidth, nh: i.naturalHeight }, boxes };
}"""


def assert_boxes_on_faces(
    page: Any, layer: str, img: str, faces: list[dict[str, Any]], min_px: float
) -> None:
    """Each face's box in `layer` is centred on that face in the image as displayed, at least its
    size and at least `min_px` wide and high."""
    geometry = page.evaluate(GEOMETRY, [layer, img])
    image, boxes = geometry["image"], geometry["boxes"]
    assert len(boxes) == len(faces), geometry
    sx, sy = image["w"] / image["nw"], image["h"] / image["nh"]
    for face, box in zip(faces, boxes, strict=True):
        x0, y0, x1, y1 = face["box"]
        expected_x = image["x"] + (x0 + x1) / 2 * sx
        expected_y = image["y"] + (y0 + y1) / 2 * sy
        assert abs(box["cx"] - expected_x) <= 1.5 and abs(box["cy"] - expected_y) <= 1.5, (face, box, image)
        assert box["w"] >= max(min_px, (x1 - x0) * sx) - 1, (face, box, image)
        assert box["h"] >= max(min_px, (y1 - y0) * sy) - 1, (face, box, image)
    if min_px:  # tap targets: no two overlap, so each face is hit where it is shown
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                apart_x = abs(a["cx"] - b["cx"]) >= (a["w"] + b["w"]) / 2
                apart_y = abs(a["cy"] - b["cy"]) >= (a["h"] + b["h"]) / 2
                assert apart_x or apart_y, (a, b)
