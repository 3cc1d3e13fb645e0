"""The studio page as a new user meets it, in Chromium, against the real app (Redis, Celery
worker, uvicorn, the test model at small T): upload, sliders, before/after, several faces,
mixing two faces, error messages, a queue that is down, phone width, deleting one's data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.actions import (
    FACE_AFTER,
    LOADED,
    NEW_AND_LOADED,
    assert_boxes_on_faces,
    assert_fits_and_labelled,
    assert_plain_words,
    choose_file,
    drop_file,
    encode_job,
    open_studio,
    upload_astronaut,
    wait_loaded,
)
from tests.browser.conftest import ENCODE_STEPS, App, Console, Timer

pytestmark = pytest.mark.browser


class HeldRoute:
    """Holds the first request to a URL until `release()` (a slow server, made slow on purpose);
    later ones pass."""

    def __init__(self) -> None:
        self.held: list[Any] = []
        self.released = False

    def __call__(self, route: Any) -> None:
        if self.released:
            route.continue_()
        else:
            self.held.append(route)

    def release(self, page: Any) -> None:
        while not self.held:
            page.wait_for_timeout(50)
        self.released = True
        for route in self.held:
            route.continue_()


def test_upload_then_smile_slider_renders_an_edited_face(
    page: Any, app: App, photos: dict[str, Path], timer: Timer, artifacts: Path
) -> None:
    open_studio(page, app)
    expect(page.get_by_role("slider", name="Smile")).to_be_disabled()
    encode_info = page.locator("[data-encode-info]")
    expect(encode_info).to_contain_text(f"reads each face once, in {ENCODE_STEPS} steps")
    aligned = upload_astronaut(page, photos, timer)
    assert_plain_words(page)
    assert aligned.startswith("/images/")
    reconstruction = wait_loaded(page, "[data-reconstruction]")
    # Before the first edit the comparison shows the aligned face against its reconstruction.
    assert page.locator("[data-compare=face] [data-compare-before]").get_attribute("src") == aligned
    assert wait_loaded(page, FACE_AFTER) == reconstruction
    # The whole photo, too, starts with the reconstruction pasted back.
    photo_after = "[data-compare=photo] [data-compare-after]"
    page.get_by_role("radio", name="Whole photo").check()
    round_trip = wait_loaded(page, photo_after)
    expect(page.locator(photo_after)).to_have_attribute("data-result", "reconstruction")
    page.get_by_role("radio", name="Face", exact=True).check()

    posts: list[str] = []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/manipulate") and posts.append(r.url))
    edit_jobs: list[str] = []  # the job of each edit the page asked for, in order
    page.on("response", lambda r: r.request.method == "POST" and r.url.endswith("/manipulate")
            and r.status == 202 and edit_jobs.append(r.json()["job_id"]))
    smile = page.get_by_role("slider", name="Smile")
    smile.focus()
    with timer.measure("slider (3 key presses) → edited face shown"):
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        page.wait_for_function(NEW_AND_LOADED, arg=[FACE_AFTER, reconstruction])
    expect(smile).to_have_value("0.03")
    expect(page.locator("[data-slider=smile] output")).to_have_text("+0.03")
    edited = page.locator(FACE_AFTER).get_attribute("src")
    assert edited.startswith("/images/") and edited not in (aligned, reconstruction)
    expect(page.locator(FACE_AFTER)).to_have_attribute("data-result", "edit")
    assert len(posts) == 1, f"three quick key presses must make one debounced request, got {posts}"
    expect(page.get_by_role("link", name="Download face (PNG)")).to_have_attribute("href", edited)
    answer = page.request.get(f"{app.url}{edited}")
    assert answer.status == 200 and answer.headers["content-type"] == "image/png"
    # The 64 px face is shown some 480 px wide: scaled smoothly, not blown up into blocks.
    rendering = page.evaluate("""() => [...document.querySelectorAll('[data-compare] img, .thumb')]
        .map((img) => getComputedStyle(img).imageRendering)""")
    assert rendering and set(rendering) == {"auto"}, rendering
    # The divider's note; the arrow keys are mentioned to people with a keyboard and mouse.
    expect(page.locator("[data-viewer-note]")).to_have_text("Drag the divider to compare.")
    expect(page.locator("[data-keys-hint]")).to_be_visible()
    # A download is the face the page shows, saved under the link's name.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download face (PNG)").click()
    assert download.value.suggested_filename == "diffae-face.png"
    assert Path(download.value.path()).read_bytes() == answer.body()
    assert_plain_words(page)
    page.screenshot(path=str(artifacts / "studio-edit.png"))

    # One more step: the edited face stays on screen until the next one replaces it whole.
    page.evaluate(
        """sel => { const img = document.querySelector(sel); window.afterSrcs = [];
        new MutationObserver(() => window.afterSrcs.push(img.hidden ? 'hidden' : img.getAttribute('src')))
          .observe(img, { attributes: true, attributeFilter: ['src', 'hidden'] }); }""",
        FACE_AFTER,
    )
    smile.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(NEW_AND_LOADED, arg=[FACE_AFTER, edited])
    newer = page.locator(FACE_AFTER).get_attribute("src")
    # Never blank in between: at most the running edit's previews (data URLs), then the result.
    srcs = page.evaluate("window.afterSrcs")
    assert srcs[-1] == newer and all(s.startswith("data:image/") for s in srcs[:-1]), srcs

    # The edit pasted back into the whole photo, compared with the upload.
    page.get_by_role("radio", name="Whole photo").check()
    pasted = wait_loaded(page, photo_after)
    assert pasted != round_trip
    expect(page.locator(photo_after)).to_have_attribute("data-result", "edit")
    expect(page.get_by_role("link", name="Download photo (PNG)")).to_have_attribute("href", pasted)
    divider = page.get_by_role("slider", name="Before and after divider on the whole photo")
    divider.focus()
    page.keyboard.press("Home")
    expect(divider).to_have_value("0")
    position = "document.querySelector('[data-compare=photo]').style.getPropertyValue('--pos')"
    assert page.evaluate(position) == "0%"
    box = page.locator("[data-compare=photo]").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    assert 70 <= int(divider.input_value()) <= 80
    assert page.evaluate(position) == f"{divider.input_value()}%"
    page.screenshot(path=str(artifacts / "studio-photo.png"))
    # "Add the change" (the default) keeps the photo's own pixels where the edit changed
    # nothing; "Replace the face" swaps in the rendered face. Both are the same edit's.
    shown = page.request.get(f"{app.url}/jobs/{edit_jobs[-1]}").json()["result"]
    assert pasted == shown["photo_url"]
    add, replace = (page.get_by_role("radio", name=n) for n in ("Add the change", "Replace the face"))
    expect(add).to_be_checked()
    # The server makes the replaced photo when it is first asked for (10-16 s on a big photo):
    # held here, to see what the page shows meanwhile.
    slow = HeldRoute()
    page.route(f"**{shown['photo_replaced_url']}", slow)
    replace.check()
    loading = page.locator("[data-photo-loading]")
    expect(loading).to_be_visible()
    expect(loading).to_have_text("Putting the edited face into your photo…")
    expect(page.locator("[data-compare=photo]")).to_have_class("compare photo loading")
    expect(page.locator(photo_after)).to_have_attribute("src", pasted)  # the old photo stays meanwhile
    page.screenshot(path=str(artifacts / "studio-replace-loading.png"))
    slow.release(page)
    page.wait_for_function(NEW_AND_LOADED, arg=[photo_after, pasted])
    expect(loading).to_be_hidden()
    swapped = page.locator(photo_after).get_attribute("src")
    assert swapped == shown["photo_replaced_url"]
    expect(page.get_by_role("link", name="Download photo (PNG)")).to_have_attribute("href", swapped)
    alt = "Your photo with its face replaced by the edited face"
    expect(page.locator(photo_after)).to_have_attribute("alt", alt)
    add.check()
    page.wait_for_function(NEW_AND_LOADED, arg=[photo_after, swapped])
    expect(page.locator(photo_after)).to_have_attribute("src", pasted)
    page.get_by_role("radio", name="Face", exact=True).check()
    expect(add).to_be_hidden()

    page.get_by_role("button", name="Reset").click()
    expect(smile).to_have_value("0")
    expect(page.locator(FACE_AFTER)).to_have_attribute("data-result", "reconstruction")


def test_photo_without_a_face_says_so(page: Any, app: App, console: Console, photos: dict[str, Path]) -> None:
    console.allow_http_error(422, "/encode")
    open_studio(page, app)
    choose_file(page, "Choose a photo", photos["noise"])
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("data-code", "no_face")
    expect(page.locator("[data-alert-title]")).to_have_text(
        "No face found in this photo. Try one where a face is clearly visible, "
        "looking roughly at the camera and not too small."
    )
    expect(page.locator("[data-alert-detail]")).to_contain_text("face")  # the server's own words
    expect(page.get_by_role("slider", name="Smile")).to_be_disabled()
    expect(page.locator("[data-aligned]")).to_be_hidden()
    # Nothing to compare without a face: no Face / Whole photo toggle; another photo can be chosen.
    expect(page.get_by_role("radio", name="Whole photo")).to_be_hidden()
    expect(page.get_by_role("radio", name="Face", exact=True)).to_be_hidden()
    expect(page.get_by_text("Change photo", exact=True)).to_be_visible()


def test_unreadable_and_oversized_files_are_explained(
    page: Any, app: App, console: Console, photos: dict[str, Path]
) -> None:
    console.allow_http_error(415, "/encode")
    console.allow_http_error(413, "/encode")
    posts: list[str] = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
    open_studio(page, app)
    choose_file(page, "Choose a photo", photos["text"])
    expect(page.get_by_role("alert")).to_have_attribute("data-code", "unsupported_image")
    expect(page.locator("[data-alert-title]")).to_contain_text("JPEG, PNG or WebP")
    assert len(posts) == 1

    # A photo over the upload limit is made smaller here (test_first_use); a file over it that this
    # browser can't read, so can't shrink, is refused before it is sent...
    choose_file(page, "Change photo", photos["garbage"])
    too_large = "This photo is too large. Please choose a smaller one."
    expect(page.get_by_role("alert")).to_have_attribute("data-code", "too_large")
    expect(page.locator("[data-alert-title]")).to_have_text(too_large)
    expect(page.locator("[data-alert-detail]")).to_contain_text("limit 2,000,000 bytes")
    assert len(posts) == 1

    # ...and where a server does not publish its limits (so nothing is shrunk), its 413 says the same.
    def without_limits(route: Any) -> None:
        answer = route.fetch()
        body = answer.json()
        body.pop("limits", None)
        route.fulfill(response=answer, json=body)

    page.route("**/attributes", without_limits)
    open_studio(page, app)
    choose_file(page, "Choose a photo", photos["huge"])
    expect(page.get_by_role("alert")).to_have_attribute("data-code", "too_large")
    expect(page.locator("[data-alert-title]")).to_have_text(too_large)
    expect(page.locator("[data-alert-detail]")).to_contain_text("limit")
    assert len(posts) == 2


def test_two_faces_in_one_photo_can_be_picked(
    page: Any, app: App, photos: dict[str, Path], artifacts: Path
) -> None:
    # Also the fallback for browsers (or proxies) without server-sent events: polling.
    page.add_init_script("delete window.EventSource")
    urls: list[str] = []
    page.on("request", lambda r: "/jobs/" in r.url and urls.append(r.url))
    open_studio(page, app)
    result = encode_job(page, app, lambda: choose_file(page, "Choose a photo", photos["pair"]))
    faces = result["faces"]
    first = page.locator("[data-aligned]").get_attribute("src")
    # Several faces: the photo opens large, a button on each face, over the face as displayed.
    expect(page.get_by_role("radio", name="Faces (2)")).to_be_checked()
    expect(page.locator("[data-face-picker-hint]")).to_have_text("2 faces found: choose the one to edit.")
    boxes = page.get_by_role("button", name="Edit face")
    expect(boxes).to_have_count(2)
    page.wait_for_function(LOADED, arg="[data-face-picker-img]")
    assert_boxes_on_faces(page, "[data-face-boxes]", "[data-face-picker-img]", faces, min_px=44)
    # The thumbnail's marks, too, sit on the faces (the image is not letterboxed under them).
    assert_boxes_on_faces(page, "[data-face-marks]", "[data-original]", faces, min_px=0)
    expect(page.locator("[data-faces-caption]")).to_have_text("Face 1 of 2")
    expect(page.get_by_role("button", name="Edit face 1 of 2")).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=str(artifacts / "studio-faces.png"))
    page.get_by_role("button", name="Edit face 2 of 2").click()
    # The face being read is the one shown; the picker is one click away.
    expect(page.get_by_role("radio", name="Face", exact=True)).to_be_checked()
    page.wait_for_function(NEW_AND_LOADED, arg=["[data-aligned]", first])
    expect(page.locator("[data-faces-caption]")).to_have_text("Face 2 of 2")
    page.get_by_role("button", name="Pick another face").click()
    expect(page.get_by_role("radio", name="Faces (2)")).to_be_checked()
    expect(page.get_by_role("button", name="Edit face 2 of 2")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="Edit face 1 of 2")).to_have_attribute("aria-pressed", "false")
    assert urls and not [u for u in urls if u.endswith("/events")], urls


def test_second_photo_makes_interpolation_frames_and_a_gif(
    page: Any, app: App, photos: dict[str, Path], timer: Timer, artifacts: Path
) -> None:
    open_studio(page, app)
    upload_astronaut(page, photos, timer)
    with timer.measure("second photo dropped → 7 interpolation frames shown"):
        drop_file(page, "[data-drop=secondary]", photos["second"])
        # While face B is read, its slot shows the photo itself and says so.
        expect(page.locator("[data-mix-b-slot]")).to_have_attribute("data-state", "reading")
        expect(page.locator("[data-mix-b-status]")).to_have_text("Reading face B…")
        expect(page.locator("[data-mix-b]")).to_have_attribute("src", re.compile(r"^blob:"))
        page.locator("[data-drop=secondary]").screenshot(path=str(artifacts / "studio-mix-reading.png"))
        frames = page.locator("[data-mix-strip] img")
        expect(frames).to_have_count(7)
        for i in range(7):
            page.wait_for_function(
                "i => { const img = document.querySelectorAll('[data-mix-strip] img')[i];"
                " return img.complete && img.naturalWidth > 0 }",
                arg=i,
            )
    assert wait_loaded(page, "[data-mix-b]").startswith("/images/")
    expect(page.locator("[data-mix-b-status]")).to_be_hidden()
    gif = page.get_by_role("link", name="Download GIF")
    href = gif.get_attribute("href")
    assert href and href.startswith("/images/")
    answer = page.request.get(f"{app.url}{href}")
    assert answer.status == 200 and answer.headers["content-type"] == "image/gif"
    assert answer.body()[:6] in (b"GIF87a", b"GIF89a")
    srcs = [frames.nth(i).get_attribute("src") for i in range(7)]
    assert len(set(srcs)) == 7

    mix = page.get_by_role("slider", name="Mix")
    mix.focus()
    page.keyboard.press("Home")
    expect(page.locator("[data-mix-frame]")).to_have_attribute("src", srcs[0])
    expect(page.locator("[data-mix-output]")).to_have_text("100% A · 0% B")
    page.keyboard.press("End")
    expect(page.locator("[data-mix-frame]")).to_have_attribute("src", srcs[6])
    page.get_by_role("button", name="Frame 3:").click()
    expect(page.locator("[data-mix-frame]")).to_have_attribute("src", srcs[2])
    page.locator("[data-mix-strip]").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "studio-mix.png"), full_page=True)


def test_queue_down_is_reported(
    page: Any, app_without_worker: App, console: Console, photos: dict[str, Path]
) -> None:
    console.allow_http_error(503, "/healthz")
    console.allow_http_error(503, "/encode")
    open_studio(page, app_without_worker, health="down")
    expect(page.locator("[data-health]")).to_have_text("Queue offline")
    choose_file(page, "Choose a photo", photos["astronaut"])
    expect(page.get_by_role("alert")).to_have_attribute("data-code", "queue_unavailable")
    expect(page.locator("[data-alert-title]")).to_have_text(
        "The editing queue is down right now, so nothing can be processed. Please try again in 7 s."
    )
    expect(page.locator("[data-alert-detail]")).to_contain_text("worker")


def test_phone_width_and_delete_my_data(
    phone: Any, app: App, photos: dict[str, Path], timer: Timer, artifacts: Path
) -> None:
    page = phone
    open_studio(page, app)
    assert_fits_and_labelled(page)
    aligned = upload_astronaut(page, photos, timer)
    assert_fits_and_labelled(page)
    expect(page.get_by_role("slider", name="Age")).to_be_enabled()
    page.screenshot(path=str(artifacts / "studio-phone.png"), full_page=True)

    page.get_by_role("button", name="Delete my data").click()
    expect(page.get_by_role("alert")).to_have_attribute("data-tone", "info")
    expect(page.locator("[data-alert-title]")).to_have_text("Deleted.")
    expect(page.get_by_text("Drop a photo here")).to_be_visible()
    expect(page.get_by_role("button", name="Delete my data")).to_be_hidden()
    assert_plain_words(page)
    assert page.request.get(f"{app.url}{aligned}").status == 404  # gone from the server

    # Deleting while a photo is still being encoded: the upload it creates is deleted too.
    with page.expect_response(lambda r: r.url.endswith("/encode")) as accepted:
        choose_file(page, "Choose a photo", photos["astronaut"])
    assert accepted.value.status == 202
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        page.get_by_role("button", name="Delete my data").click()
        expect(page.get_by_text("Drop a photo here")).to_be_visible()
    assert deleted.value.status == 204


def test_an_edit_shows_previews_before_its_result_and_a_strip_of_amounts(
    page: Any, app: App, photos: dict[str, Path], timer: Timer, artifacts: Path
) -> None:
    """At 50 steps an edit runs long enough on this CPU to watch: the face on the right is the
    job's preview (the x̂0 of an early step, a data URL, tagged "Preview") before it becomes the
    result; then several amounts of the slider come back in one job, and picking one sets it."""
    page.goto(f"{app.url}/?steps=50")
    expect(page.locator("[data-health]")).to_have_attribute("data-health", "ok")
    upload_astronaut(page, photos, timer)
    reconstruction = wait_loaded(page, "[data-reconstruction]")
    page.wait_for_function(NEW_AND_LOADED, arg=[FACE_AFTER, ""])
    page.evaluate(
        """sel => { const img = document.querySelector(sel); window.shown = [];
        const tag = document.querySelector('[data-compare=face] [data-compare-after-tag]');
        new MutationObserver(() => window.shown.push([performance.now(), img.getAttribute('src'),
          img.dataset.result, tag.textContent]))
          .observe(img, { attributes: true, attributeFilter: ['src'] }); }""",
        FACE_AFTER,
    )
    smile = page.get_by_role("slider", name="Smile")
    smile.focus()
    with timer.measure("slider → first preview shown (T=50)"):
        page.keyboard.press("End")
        page.wait_for_function("s => document.querySelector(s).src.startsWith('data:image/')", arg=FACE_AFTER)
    expect(page.locator(FACE_AFTER)).to_have_attribute("data-result", "preview")
    page.screenshot(path=str(artifacts / "studio-preview.png"))
    page.wait_for_function(
        "sel => { const i = document.querySelector(sel); return i.dataset.result === 'edit' && i.complete }",
        arg=FACE_AFTER)
    shown = page.evaluate("window.shown")
    previews = [row for row in shown if row[1].startswith("data:image/")]
    final = [row for row in shown if row[2] == "edit"]
    assert previews and final and previews[0][0] < final[0][0], shown
    assert all(row[2] == "preview" and row[3] == "Preview" for row in previews)
    assert final[-1][1].startswith("/images/") and final[-1][1] != reconstruction
    assert len({row[1] for row in previews}) > 1  # the preview changes as the steps go

    compare = page.get_by_role("button", name="Compare amounts")
    expect(compare).to_be_enabled()
    expect(page.locator("[data-strip-hint]")).to_contain_text("Smile")
    with timer.measure("compare amounts → 5 faces shown (T=50)"), page.expect_response(
            lambda r: r.request.method == "POST" and r.url.endswith("/manipulate")) as strip_post:
        compare.click()
        expect(page.locator("[data-edit-strip] img")).to_have_count(5)
        for i in range(5):
            page.wait_for_function(LOADED, arg=f"[data-edit-strip] li:nth-child({i + 1}) img")
    frames = [page.locator("[data-edit-strip] img").nth(i).get_attribute("src") for i in range(5)]
    strip_job = strip_post.value.json()["job_id"]
    assert frames == page.request.get(f"{app.url}/jobs/{strip_job}").json()["result"]["strip_urls"]
    assert len(set(frames)) == 5
    page.screenshot(path=str(artifacts / "studio-strip.png"))
    page.locator("[data-edit-strip] button").first.click()  # the lowest amount
    expect(smile).to_have_value("-0.5")


def test_the_api_docs_work_offline_under_their_policy(page: Any, app_without_worker: App) -> None:
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    answer = page.goto(f"{app_without_worker.url}/docs")
    assert "'sha256-" in answer.headers["content-security-policy"]  # Swagger UI's inline start, by hash
    expect(page.locator(".opblock-summary-path", has_text="/manipulate")).to_be_visible()
    page.locator(".opblock-summary", has_text="/manipulate").click()  # opens: Swagger UI runs
    expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    assert hosts == {urlsplit(app_without_worker.url).netloc}, hosts
