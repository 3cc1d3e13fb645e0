"""Issue #17's editing beyond the sliders, as a new user meets it on the page (Chromium, the real
app: Redis, one Celery worker on the test model, uvicorn): superseded edits cancelled on the
server, conditional edits, region-limited and painted edits, the queue position, drawn faces,
taught sliders."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.actions import (
    FACE_AFTER,
    LOADED,
    NEW_AND_LOADED,
    PHOTO_AFTER,
    assert_fits_and_labelled,
    assert_plain_words,
    choose_file,
    encode_job,
    open_studio,
    upload_astronaut,
    wait_loaded,
)
from tests.browser.conftest import App, Console, Timer

pytestmark = pytest.mark.browser


class Requests:
    """The page's requests to one API path and the job ids the server answered them with."""

    def __init__(self, page: Any, method: str, path: str) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.jobs: list[str] = []
        page.on("request", lambda r: r.method == method and r.url.endswith(path)
                and self.bodies.append(r.post_data_json))
        page.on("response", lambda r: r.request.method == method and r.url.endswith(path)
                and r.status == 202 and self.jobs.append(r.json()["job_id"]))


def job_state(page: Any, app: App, job_id: str) -> dict[str, Any]:
    state: dict[str, Any] = page.request.get(f"{app.url}/jobs/{job_id}").json()
    return state


def test_quick_slider_moves_cancel_the_edits_they_replace(
    page: Any, app: App, photos: dict[str, Path], timer: Timer, artifacts: Path
) -> None:
    """Four slider moves, each after the debounce but long before an edit at 100 steps is done:
    four edits are asked for, each newer one cancels the one before on the server (DELETE
    /jobs/{id}); only the last runs to its end and is shown, with no error."""
    open_studio(page, app, query="?steps=100")
    upload_astronaut(page, photos, timer)
    reconstruction = wait_loaded(page, "[data-reconstruction]")
    edits = Requests(page, "POST", "/manipulate")
    cancels: list[str] = []
    page.on("request", lambda r: r.method == "DELETE" and "/jobs/" in r.url
            and cancels.append(r.url.rsplit("/", 1)[1]))
    smile = page.get_by_role("slider", name="Smile")
    smile.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(600)  # past the 250 ms debounce: each move is an edit of its own
    page.wait_for_function(NEW_AND_LOADED, arg=[FACE_AFTER, reconstruction])
    expect(page.locator(FACE_AFTER)).to_have_attribute("data-result", "edit")
    expect(smile).to_have_value("0.04")
    assert [b["edits"] for b in edits.bodies] == [{"Smiling": a} for a in (0.01, 0.02, 0.03, 0.04)]
    assert len(edits.jobs) == 4 and len(set(edits.jobs)) == 4, edits.jobs
    *replaced, last = edits.jobs
    assert cancels == replaced
    for job_id in replaced:
        state = job_state(page, app, job_id)
        assert state["status"] == "failed" and state["error"]["code"] == "cancelled", state
    final = job_state(page, app, last)
    assert final["status"] == "succeeded", final
    assert page.locator(FACE_AFTER).get_attribute("src") == final["result"]["image_url"]
    # A cancelled edit is a replaced one, not a failure: nothing to tell.
    expect(page.locator("[data-alert]")).to_be_hidden()
    page.screenshot(path=str(artifacts / "studio-superseded.png"))


def test_keep_age_and_gender_fixed_sends_keep_and_shows_the_result(
    page: Any, app: App, photos: dict[str, Path], timer: Timer, artifacts: Path
) -> None:
    """Smile moved, then "Keep age and gender fixed" ticked: the same edit is asked for again with
    `keep: ["Young", "Male"]`, and its face replaces the plain edit's."""
    open_studio(page, app)
    keep = page.get_by_role("checkbox", name="Keep age and gender fixed")
    expect(keep).to_be_disabled()  # nothing to edit yet
    upload_astronaut(page, photos, timer)
    reconstruction = wait_loaded(page, "[data-reconstruction]")
    expect(keep).to_be_enabled()
    expect(keep).not_to_be_checked()
    edits = Requests(page, "POST", "/manipulate")
    smile = page.get_by_role("slider", name="Smile")
    smile.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(NEW_AND_LOADED, arg=[FACE_AFTER, reconstruction])
    plain = page.locator(FACE_AFTER).get_attribute("src")
    assert edits.bodies == [{"latent_id": edits.bodies[0]["latent_id"], "edits": {"Smiling": 0.05}}]

    keep.check()
    page.wait_for_function(NEW_AND_LOADED, arg=[FACE_AFTER, plain])
    expect(page.locator(FACE_AFTER)).to_have_attribute("data-result", "edit")
    assert len(edits.bodies) == 2
    assert edits.bodies[1]["edits"] == {"Smiling": 0.05} and edits.bodies[1]["keep"] == ["Young", "Male"]
    result = job_state(page, app, edits.jobs[1])["result"]
    assert sorted(result["keep"]) == ["Male", "Young"]  # the server lists them sorted
    assert page.locator(FACE_AFTER).get_attribute("src") == result["image_url"]
    # The setting stays for the next move: that edit is conditional too.
    kept = result["image_url"]
    smile.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(NEW_AND_LOADED, arg=[FACE_AFTER, kept])
    assert edits.bodies[2]["edits"] == {"Smiling": 0.06} and edits.bodies[2]["keep"] == ["Young", "Male"]
    expect(page.locator("[data-alert]")).to_be_hidden()
    page.screenshot(path=str(artifacts / "studio-keep.png"))


def changed_pixels(page: Any, app: App, url: str, original: Path) -> np.ndarray:
    """Where the server's whole photo at `url` differs from the photo sent (True: changed)."""
    answer = page.request.get(f"{app.url}{url}")
    assert answer.status == 200, answer.status
    after = np.asarray(Image.open(io.BytesIO(answer.body())).convert("RGB"), dtype=np.int16)
    before = np.asarray(Image.open(original).convert("RGB"), dtype=np.int16)
    assert after.shape == before.shape, (after.shape, before.shape)
    changed: np.ndarray = np.abs(after - before).max(axis=2) > 2
    return changed


def smile_fully(page: Any, shown: str) -> tuple[Requests, str]:
    """Smile to the end of its range (End key) and wait for the edit to replace `shown`; the page's
    edit requests from then on, and the edited face's URL."""
    edits = Requests(page, "POST", "/manipulate")
    page.get_by_role("slider", name="Smile").focus()
    page.keyboard.press("End")
    page.wait_for_function(NEW_AND_LOADED, arg=[FACE_AFTER, shown])
    return edits, page.locator(FACE_AFTER).get_attribute("src")


def test_change_only_the_mouth_sends_region_and_keeps_the_rest_of_the_photo(
    page: Any, app: App, photos: dict[str, Path], timer: Timer, artifacts: Path
) -> None:
    """A smile on the whole face, then "Change only: the mouth": the same edit is asked for with
    `region: "mouth"`; in the whole photo it comes back with, only pixels around the mouth differ
    from the photo sent (the whole-face edit changed the face well beyond it)."""
    open_studio(page, app)
    region = page.get_by_label("Change only")
    expect(region).to_be_disabled()
    encoded = encode_job(page, app, lambda: choose_file(page, "Choose a photo", photos["astronaut"]))
    reconstruction = wait_loaded(page, "[data-reconstruction]")
    expect(region).to_be_enabled()
    expect(region).to_have_value("")
    edits, whole = smile_fully(page, reconstruction)
    assert "region" not in edits.bodies[0]

    region.select_option("mouth")
    expect(page.locator("[data-region-hint]")).to_contain_text("Only the mouth")
    assert_plain_words(page)
    page.wait_for_function(NEW_AND_LOADED, arg=[FACE_AFTER, whole])
    assert len(edits.bodies) == 2 and edits.bodies[1]["region"] == "mouth", edits.bodies
    assert edits.bodies[1]["edits"] == edits.bodies[0]["edits"]
    mouth_result = job_state(page, app, edits.jobs[1])["result"]
    assert mouth_result["region"] == "mouth"
    assert page.locator(FACE_AFTER).get_attribute("src") == mouth_result["image_url"]
    page.get_by_role("radio", name="Whole photo").check()
    assert wait_loaded(page, PHOTO_AFTER) == mouth_result["photo_url"]
    page.screenshot(path=str(artifacts / "studio-region.png"))

    whole_result = job_state(page, app, edits.jobs[0])["result"]
    everywhere = changed_pixels(page, app, whole_result["photo_url"], photos["astronaut"])
    mouth = changed_pixels(page, app, mouth_result["photo_url"], photos["astronaut"])
    x0, y0, x1, y1 = encoded["faces"][encoded["face"]]["box"]
    w, h = x1 - x0, y1 - y0
    # The mouth: the lower part of the face box (a smile widens it; the chin may lie a little
    # below the detector's box). Nothing above it or beside it changed; the whole-face edit did.
    ys, xs = np.nonzero(mouth)
    assert 0 < mouth.sum() < 0.4 * everywhere.sum(), (mouth.sum(), everywhere.sum())
    assert ys.min() >= y0 + 0.4 * h and ys.max() <= y1 + 0.3 * h, (ys.min(), ys.max(), (x0, y0, x1, y1))
    assert xs.min() >= x0 - 0.15 * w and xs.max() <= x1 + 0.15 * w, (xs.min(), xs.max(), (x0, y0, x1, y1))
    assert everywhere[: int(y0 + 0.4 * h)].any()


def fetch_array(page: Any, app: App, url: str) -> np.ndarray:
    """The server's image at `url` as an (h, w, 3) int16 array."""
    answer = page.request.get(f"{app.url}{url}")
    assert answer.status == 200, answer.status
    return np.asarray(Image.open(io.BytesIO(answer.body())).convert("RGB"), dtype=np.int16)


def test_paint_where_to_change_sends_a_brush_and_keeps_the_unpainted_face(
    page: Any, app: App, photos: dict[str, Path], timer: Timer, artifacts: Path
) -> None:
    """A smile on the whole face, then "Paint where to change" and a few mouse strokes over the
    left half of the face: when the stroke ends the same edit is asked for again with `brush`, the
    canvas as a PNG data URL; the edited face equals the unedited one (decoded alongside) on the
    right quarter, far from the paint, and differs where it was painted. "Clear painting" drops
    it: the next edit is sent without a brush."""
    open_studio(page, app)
    paint = page.get_by_role("button", name="Paint where to change")
    expect(paint).to_be_disabled()
    upload_astronaut(page, photos, timer)
    reconstruction = wait_loaded(page, "[data-reconstruction]")
    expect(paint).to_be_enabled()
    expect(paint).to_have_attribute("aria-pressed", "false")
    clear = page.get_by_role("button", name="Clear painting")
    expect(clear).to_be_disabled()
    edits, whole = smile_fully(page, reconstruction)
    assert "brush" not in edits.bodies[0]

    paint.click()
    expect(paint).to_have_attribute("aria-pressed", "true")
    canvas = page.locator("[data-paint-canvas]")
    expect(canvas).to_be_visible()
    expect(page.get_by_role("radio", name="Medium")).to_be_checked()
    expect(page.get_by_role("button", name="Erase")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("[data-brush-hint]")).to_contain_text("Paint over the part of the face to change")
    assert_plain_words(page)
    # The canvas lies exactly over the face image.
    face_box = page.locator("[data-compare=face] [data-compare-before]").bounding_box()
    box = canvas.bounding_box()
    assert all(abs(box[k] - face_box[k]) <= 0.5 for k in ("x", "y", "width", "height")), (box, face_box)
    # One stroke zig-zagging down the left half (12 % to 40 % of the width), as a mouse drag.
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + 0.12 * w, y + 0.15 * h)
    page.mouse.down()
    for row, fy in enumerate(np.linspace(0.15, 0.85, 8)):
        for fx in (0.12, 0.40) if row % 2 == 0 else (0.40, 0.12):
            page.mouse.move(x + fx * w, y + fy * h, steps=6)
    page.mouse.up()
    page.wait_for_function(NEW_AND_LOADED, arg=[FACE_AFTER, whole])
    assert len(edits.bodies) == 2, edits.bodies
    sent = edits.bodies[1]
    assert sent["brush"].startswith("data:image/png;base64,"), sent["brush"][:40]
    assert sent["edits"] == edits.bodies[0]["edits"] and "region" not in sent
    result = job_state(page, app, edits.jobs[1])["result"]
    assert result["brush"] is True and result["region"] is None, result
    assert page.locator(FACE_AFTER).get_attribute("src") == result["image_url"]
    expect(page.locator("[data-brush-hint]")).to_contain_text("Only what you painted changes")
    expect(clear).to_be_enabled()
    expect(page.locator("[data-alert]")).to_be_hidden()
    # The face with the paint on it and the paint tools with their hint, in one picture.
    top = page.locator(".card.stage").bounding_box()["y"]
    hint = page.locator("[data-brush-hint]").bounding_box()
    bottom = hint["y"] + hint["height"] + 16
    page.screenshot(path=str(artifacts / "studio-brush.png"), full_page=True,
                    clip={"x": 0, "y": top - 16, "width": 1280, "height": bottom - top + 16})

    crop = fetch_array(page, app, result["image_url"])
    base = fetch_array(page, app, result["base_url"])
    assert crop.shape == base.shape, (crop.shape, base.shape)
    changed = np.abs(crop - base)
    n = crop.shape[1]
    right = changed[:, 3 * n // 4:]
    painted = changed[int(0.2 * n): int(0.8 * n), int(0.14 * n): int(0.38 * n)]
    assert right.max() <= 1, right.max()
    assert painted.mean() > 1.0, painted.mean()

    clear.click()
    brushed = result["image_url"]
    page.wait_for_function(NEW_AND_LOADED, arg=[FACE_AFTER, brushed])
    assert len(edits.bodies) == 3, edits.bodies
    assert "brush" not in edits.bodies[2] and edits.bodies[2]["edits"] == edits.bodies[0]["edits"]
    expect(clear).to_be_disabled()
    expect(page.locator("[data-brush-hint]")).to_contain_text("Paint over the part of the face to change")
    expect(page.locator("[data-alert]")).to_be_hidden()


def api_upload(page: Any, app: App, path: Path) -> str:
    """Upload `path` straight to the API (another visitor's photo); its latent id once encoded."""
    answer = page.request.post(f"{app.url}/encode", multipart={
        "image": {"name": path.name, "mimeType": "image/jpeg", "buffer": path.read_bytes()}})
    assert answer.status == 202, answer.text()
    job_id = answer.json()["job_id"]
    for _ in range(600):
        state = job_state(page, app, job_id)
        if state["status"] in ("succeeded", "failed"):
            break
        page.wait_for_timeout(200)
    assert state["status"] == "succeeded", state
    latent_id: str = state["result"]["latent_id"]
    return latent_id


def test_a_queued_edit_says_how_many_jobs_wait_before_it(
    page: Any, app: App, photos: dict[str, Path], timer: Timer, artifacts: Path
) -> None:
    """Another visitor keeps the one test worker busy with two long edits (100 DDIM steps), one
    running and one queued: an edit on the page then says "Waiting: 1 ahead of you", then "Next
    in the queue" when the running one ends (the place comes in the job's event stream: the page
    asks GET /jobs/{id} nothing meanwhile), and is shown once the others are done (cancelled here)."""
    other = api_upload(page, app, photos["second"])
    open_studio(page, app)
    upload_astronaut(page, photos, timer)
    reconstruction = wait_loaded(page, "[data-reconstruction]")
    long_jobs = []
    for amount in (0.3, 0.4):
        answer = page.request.post(f"{app.url}/manipulate", data={
            "latent_id": other, "edits": {"Smiling": amount}, "solver": "ddim", "steps": 100})
        assert answer.status == 202, answer.text()
        long_jobs.append(answer.json()["job_id"])
    polled: list[str] = []
    page.on("request", lambda r: r.method == "GET" and "/jobs/" in r.url and not r.url.endswith("/events")
            and polled.append(r.url))
    smile = page.get_by_role("slider", name="Smile")
    smile.focus()
    page.keyboard.press("ArrowRight")
    progress = page.locator("[data-progress=edit] [data-progress-text]")
    expect(progress).to_have_text("Waiting: 1 ahead of you", timeout=30_000)
    page.screenshot(path=str(artifacts / "studio-queued.png"))
    assert page.request.delete(f"{app.url}/jobs/{long_jobs[0]}").status == 204  # the running one
    expect(progress).to_have_text("Next in the queue…", timeout=30_000)
    assert polled == [], polled
    assert page.request.delete(f"{app.url}/jobs/{long_jobs[1]}").status == 204
    page.wait_for_function(NEW_AND_LOADED, arg=[FACE_AFTER, reconstruction])
    expect(page.locator("[data-progress=edit]")).to_be_hidden()
    assert page.request.delete(f"{app.url}/latents/{other}").status == 204


def test_delete_my_data_during_a_draw_leaves_none_of_its_faces(
    page: Any, app: App, console: Console, photos: dict[str, Path]
) -> None:
    """A draw waiting behind another visitor's long edit, then "Delete my data": the faces the
    server named when it took the draw are kept at once, so the page cancels the draw and none of
    its faces is ever stored (before, the faces appeared after the deletion, unknown to the page)."""
    other = api_upload(page, app, photos["second"])
    open_studio(page, app)
    long_job = page.request.post(f"{app.url}/manipulate", data={
        "latent_id": other, "edits": {"Smiling": 0.3}, "solver": "ddim", "steps": 100}).json()["job_id"]
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/sample")) as drawn:
        page.locator("[data-draw]").click()
    announced = drawn.value.json()["latent_ids"]
    draw_job = drawn.value.json()["job_id"]
    kept = page.evaluate("JSON.parse(localStorage.getItem('diffae-studio.uploads') ?? '[]').map((e) => e.id)")
    assert set(announced) <= set(kept), (announced, kept)
    expect(page.locator("[data-progress=draw] [data-progress-text]")).to_have_text("Next in the queue…")
    for lid in announced:  # deleted before they exist: 404, nothing to delete
        console.allow_http_error(404, f"/latents/{lid}")
    with page.expect_response(lambda r: r.request.method == "DELETE" and r.url.endswith(f"/jobs/{draw_job}")):
        page.get_by_role("button", name="Delete my data").click()
    expect(page.locator("[data-alert-title]")).to_have_text("Deleted.")
    assert page.request.delete(f"{app.url}/jobs/{long_job}").status == 204
    for _ in range(100):
        if job_state(page, app, draw_job)["status"] == "failed":
            break
        page.wait_for_timeout(100)
    assert job_state(page, app, draw_job)["error"]["code"] == "cancelled"
    page.wait_for_timeout(1000)  # the worker has moved on
    statuses = [page.request.get(f"{app.url}/latents/{lid}").status for lid in announced]
    assert statuses == [404] * len(announced), statuses
    assert page.request.delete(f"{app.url}/latents/{other}").status == 204


def test_a_drawn_face_is_edited_mixed_and_deleted_like_a_photo(
    page: Any, app: App, photos: dict[str, Path], timer: Timer, artifacts: Path
) -> None:
    """"Draw random faces": eight faces the model makes up, each an upload of its own. One picked
    becomes the face being edited (no region for it: it has no landmarks), its edit downloads,
    its whole photo is the face itself, it mixes with an uploaded photo, and "Delete my data"
    deletes every drawn face with the photo."""
    open_studio(page, app)
    expect(page.get_by_role("heading", name="Random faces")).to_be_visible()
    samples = Requests(page, "POST", "/sample")
    with timer.measure("draw 8 faces → shown"):
        page.get_by_role("button", name="Draw random faces").click()
        gallery = page.locator("[data-drawn-faces] img")
        expect(gallery).to_have_count(8)
        for i in range(8):
            page.wait_for_function(LOADED, arg=f"[data-drawn-faces] li:nth-child({i + 1}) img")
    assert samples.bodies == [{"n": 8}]
    result = job_state(page, app, samples.jobs[0])["result"]
    drawn_ids = result["latent_ids"]
    assert [gallery.nth(i).get_attribute("src") for i in range(8)] == result["image_urls"]
    expect(page.get_by_role("button", name="Delete my data")).to_be_visible()
    stored = page.evaluate("JSON.parse(localStorage.getItem('diffae-studio.uploads')).map((e) => e.id)")
    assert stored == drawn_ids

    page.get_by_role("button", name="Edit drawn face 2").click()
    face = result["image_urls"][1]
    expect(page.locator("[data-compare=face] [data-compare-before]")).to_have_attribute("src", face)
    expect(page.get_by_role("button", name="Edit drawn face 2")).to_have_attribute("aria-current", "true")
    expect(page.get_by_label("Change only")).to_be_disabled()
    expect(page.locator("[data-region-hint]")).to_contain_text("A drawn face always changes as a whole")
    edits = Requests(page, "POST", "/manipulate")
    smile = page.get_by_role("slider", name="Smile")
    expect(smile).to_be_enabled()
    smile.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(NEW_AND_LOADED, arg=[FACE_AFTER, face])
    assert edits.bodies == [{"latent_id": drawn_ids[1], "edits": {"Smiling": 0.03}}]
    edited = job_state(page, app, edits.jobs[0])["result"]
    with page.expect_download() as download:
        page.get_by_role("link", name="Download face (PNG)").click()
    served = page.request.get(f"{app.url}{edited['image_url']}").body()
    assert Path(download.value.path()).read_bytes() == served
    # The whole photo of a drawn face is the face itself.
    page.get_by_role("radio", name="Whole photo").check()
    expect(page.locator("[data-compare=photo] [data-compare-before]")).to_have_attribute("src", face)
    assert wait_loaded(page, PHOTO_AFTER) == edited["photo_url"]
    pasted = Image.open(io.BytesIO(page.request.get(f"{app.url}{edited['photo_url']}").body()))
    assert pasted.size == Image.open(io.BytesIO(page.request.get(f"{app.url}{face}").body())).size

    # Mixed with an uploaded photo as face B.
    mixes = Requests(page, "POST", "/interpolate")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/encode")) as accepted:
        choose_file(page, "Choose second photo", photos["second"])
    photo_b = accepted.value.json()["latent_id"]
    frames = page.locator("[data-mix-strip] img")
    expect(frames).to_have_count(7)
    assert mixes.bodies[0]["latent_ids"] == [drawn_ids[1], photo_b]
    page.wait_for_function(LOADED, arg="[data-mix-strip] li:nth-child(7) img")
    deleted: list[str] = []
    page.on("response", lambda r: r.request.method == "DELETE" and "/latents/" in r.url
            and r.status == 204 and deleted.append(r.url.rsplit("/", 1)[1]))
    # Another drawn face as face B instead: the photo it replaces is deleted, as when a photo
    # replaces a photo.
    page.get_by_role("button", name="Use drawn face 3 as face B of the mix").click()
    expect(page.locator("[data-mix-b]")).to_have_attribute("src", result["image_urls"][2])
    page.wait_for_function("n => document.querySelectorAll('[data-mix-strip] img').length === n"
                           " && [...document.querySelectorAll('[data-mix-strip] img')]"
                           ".every((i) => i.complete && i.naturalWidth > 0)", arg=7)
    assert mixes.bodies[-1]["latent_ids"] == [drawn_ids[1], drawn_ids[2]]
    assert deleted == [photo_b]
    page.get_by_role("radio", name="Face", exact=True).check()
    expect(page.locator("[data-faces-caption]")).to_have_text("Drawn face")
    assert_plain_words(page)
    page.screenshot(path=str(artifacts / "studio-drawn.png"), full_page=True)

    page.get_by_role("button", name="Delete my data").click()
    expect(page.locator("[data-alert-title]")).to_have_text("Deleted.")
    expect(gallery).to_have_count(0)
    assert sorted(deleted[1:]) == sorted(drawn_ids), deleted  # every drawn face, also those never picked
    assert page.request.get(f"{app.url}{face}").status == 404
    assert page.evaluate("localStorage.getItem('diffae-studio.uploads')") is None


def test_a_slider_taught_from_marked_faces_edits_exports_and_imports(
    page: Any, app: App, console: Console, photos: dict[str, Path], timer: Timer, artifacts: Path,
    tmp_path: Path,
) -> None:
    """"Make your own slider": 24 drawn faces, 12 marked "Has it" and the rest "Doesn't"; Teach
    sends them (POST /directions), the held-out accuracy is shown and a slider of that name edits
    with `custom:<id>`. It exports as a JSON file that imports as a second slider; one the server
    no longer has says so and goes; "Delete my data" deletes the rest on the server."""
    open_studio(page, app)
    draw = page.locator("[data-draw]")
    with timer.measure("draw 24 faces → shown"):
        for count in (8, 16, 24):
            draw.click()
            expect(page.locator("[data-drawn-faces] img")).to_have_count(count)
            expect(draw).to_be_enabled()
    tiles = page.locator("[data-teach-faces] li")
    expect(tiles).to_have_count(24)
    teach = page.get_by_role("button", name="Teach", exact=True)
    expect(teach).to_be_disabled()
    page.get_by_label("Name").fill("Glasses")
    for i in range(12):
        page.get_by_role("checkbox", name=f"Face {i + 1}: has it", exact=True).check()
    page.get_by_role("button", name="The rest don't have it").click()
    expect(page.locator("[data-teach-count]")).to_contain_text("Has it: 12 · Doesn't: 12.")
    expect(page.get_by_role("checkbox", name="Face 13: doesn't have it", exact=True)).to_be_checked()
    taught = Requests(page, "POST", "/directions")
    expect(teach).to_be_enabled()
    with timer.measure("teach (12 + 12 faces) → slider shown"):
        teach.click()
        expect(page.locator("[data-teach-result]")).to_be_visible()
    result = job_state(page, app, taught.jobs[0])["result"]
    body = taught.bodies[0]
    faces = page.evaluate(
        "[...document.querySelectorAll('[data-teach-face]')].map((li) => li.dataset.teachFace)")
    assert body == {"name": "Glasses", "positives": faces[:12], "negatives": faces[12:]}
    assert result["edit_name"] == f"custom:{result['direction_id']}" and result["method"] == "labelled"
    percent = int(result["accuracy"] * 100 + 0.5)  # as Math.round
    expect(page.locator("[data-teach-result]")).to_contain_text(
        f"Right on {percent} % of faces it was not taught from")
    assert_plain_words(page)
    page.screenshot(path=str(artifacts / "studio-teach.png"), full_page=True)

    # The new slider, beside the built-in ones, edits the face being edited.
    page.get_by_role("button", name="Edit drawn face 1", exact=True).click()
    glasses = page.get_by_role("slider", name="Glasses")
    expect(glasses).to_be_enabled()
    edits = Requests(page, "POST", "/manipulate")
    face = page.locator("[data-compare=face] [data-compare-before]").get_attribute("src")
    glasses.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(NEW_AND_LOADED, arg=[FACE_AFTER, face])
    assert edits.bodies[-1]["edits"] == {result["edit_name"]: 0.03}
    page.locator("[data-controls]").screenshot(path=str(artifacts / "studio-own-slider.png"))

    # Export: the slider as a small JSON file; import: the same file, a slider of its own.
    with page.expect_download() as download:
        page.get_by_role("button", name="Export the slider Glasses").click()
    exported = json.loads(Path(download.value.path()).read_text())
    assert exported["direction_id"] == result["direction_id"] and exported["name"] == "Glasses"
    saved = tmp_path / "glasses.json"
    saved.write_text(json.dumps(exported))
    with page.expect_response(lambda r: r.url.endswith("/directions/import")) as imported:
        choose_file(page, "Import a slider", saved)
    assert imported.value.status == 201
    copy = imported.value.json()
    assert copy["direction_id"] != result["direction_id"] and copy["name"] == "Glasses"
    assert np.allclose(copy["direction"], exported["direction"], atol=1e-6)  # stored as float32
    expect(page.get_by_role("slider", name="Glasses")).to_have_count(2)
    kept = page.evaluate("JSON.parse(localStorage.getItem('diffae-studio.sliders')).map((s) => s.id)")
    assert kept == [result["direction_id"], copy["direction_id"]]

    # A file that is not a slider is refused before anything is sent.
    choose_file(page, "Import a slider", photos["text"])
    expect(page.locator("[data-alert]")).to_have_attribute("data-code", "not_a_slider")
    expect(page.get_by_role("slider", name="Glasses")).to_have_count(2)

    # One the server no longer has: said, and dropped.
    assert page.request.delete(f"{app.url}/directions/{copy['direction_id']}").status == 204
    console.allow_http_error(404, "/manipulate")
    page.get_by_role("slider", name="Glasses").nth(1).focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-alert]")).to_have_attribute("data-code", "unknown_direction")
    expect(page.locator("[data-alert-title]")).to_contain_text("This slider is gone from the server")
    expect(page.get_by_role("slider", name="Glasses")).to_have_count(1)

    deleted: list[str] = []
    page.on("response", lambda r: r.request.method == "DELETE" and "/directions/" in r.url
            and deleted.append(f"{r.status} {r.url.rsplit('/', 1)[1]}"))
    page.get_by_role("button", name="Delete my data").click()
    expect(page.locator("[data-alert-title]")).to_have_text("Deleted.")
    assert deleted == [f"204 {result['direction_id']}"]
    expect(page.get_by_role("slider", name="Glasses")).to_have_count(0)
    assert page.evaluate("localStorage.getItem('diffae-studio.sliders')") is None


def test_on_a_phone_drawn_faces_and_the_slider_panel_fit_and_are_labelled(
    phone: Any, app: App, artifacts: Path
) -> None:
    """390 px wide, touch: the random faces and the faces to mark fit the screen, and every new
    control (pick, Mix, Has it / Doesn't, Name, Teach, Import) has a name."""
    page = phone
    open_studio(page, app)
    page.get_by_role("button", name="Draw random faces").click()
    expect(page.locator("[data-teach-faces] img")).to_have_count(8)
    for i in range(8):
        page.wait_for_function(LOADED, arg=f"[data-drawn-faces] li:nth-child({i + 1}) img")
    assert_fits_and_labelled(page)
    page.get_by_role("button", name="Edit drawn face 1", exact=True).click()
    expect(page.get_by_role("slider", name="Smile")).to_be_enabled()
    assert_fits_and_labelled(page)
    page.locator("[data-drawn]").screenshot(path=str(artifacts / "studio-phone-drawn.png"))
