"""Rough edges a new user met on the studio page (issue #17), each tried the way that user would:
which model the server runs, picking one face of several, deleting after a reload, a photo the
server has forgotten, a phone, the attribute sliders, a new photo, a photo over the limits."""

from __future__ import annotations

import io
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
    assert_boxes_on_faces,
    assert_fits_and_labelled,
    assert_plain_words,
    choose_file,
    encode_job,
    open_studio,
    upload_astronaut,
    wait_loaded,
)
from tests.browser.conftest import PHONE_PHOTO_SIZE, App, Console, Timer

pytestmark = pytest.mark.browser

EDITED = "sel => { const i = document.querySelector(sel); return i.dataset.result === 'edit' && i.complete }"
EXPIRED = "This photo has expired on the server. Please upload it again."


def manipulate_posts(page: Any) -> list[dict[str, Any]]:
    """The JSON bodies of the page's POST /manipulate requests, in order, as they are sent."""
    bodies: list[dict[str, Any]] = []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/manipulate")
            and bodies.append(r.post_data_json))
    return bodies


def test_the_page_says_which_model_serves_and_that_it_is_a_small_demo(
    page: Any, phone: Any, app: App, artifacts: Path
) -> None:
    health = page.request.get(f"{app.url}/healthz").json()
    described = page.request.get(f"{app.url}/attributes").json()
    name, size = health["model"], described["image_size"]
    assert name == described["preset"]
    small = name in ("demo64", "faces64") or size < 128
    for seen in (page, phone):
        open_studio(seen, app)
        expect(seen.locator("[data-health]")).to_have_text(f"Ready · {name}")
        notice = seen.get_by_role("region", name="About the model")
        if not small:
            expect(notice).to_be_hidden()
            continue
        # Not folded away: on the first screen, before anything is uploaded.
        expect(notice).to_be_visible()
        said = f"This server runs {name}, a small demo model ({size} × {size} px faces)."
        expect(notice).to_contain_text(said)
        if name == "demo64":
            expect(notice).to_contain_text("trained only on drawn cartoon faces")
        box = notice.bounding_box()
        assert box is not None and box["y"] + box["height"] <= seen.viewport_size["height"], box
    phone.screenshot(path=str(artifacts / "studio-phone-first-screen.png"))


def test_delete_my_data_still_reaches_uploads_after_a_reload(
    page: Any, app: App, console: Console, photos: dict[str, Path], timer: Timer, artifacts: Path
) -> None:
    open_studio(page, app)
    aligned = upload_astronaut(page, photos, timer)
    page.reload()
    expect(page.locator("[data-health]")).to_have_attribute("data-health", "ok")
    delete = page.get_by_role("button", name="Delete my data")
    earlier = page.get_by_role("region", name="Photos from before this page was loaded")
    expect(delete).to_be_visible()
    expect(earlier).to_contain_text("A photo you sent from this browser before this page was loaded is still "
                                    "on the server until it expires.")
    expect(earlier.get_by_role("img")).to_have_attribute("src", aligned)
    expect(page.get_by_role("contentinfo")).to_contain_text("This browser remembers which photos it sent")
    page.screenshot(path=str(artifacts / "studio-after-reload.png"))
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        delete.click()
    assert deleted.value.status == 204
    expect(page.locator("[data-alert-title]")).to_have_text("Deleted.")
    expect(earlier).to_be_hidden()
    expect(delete).to_be_hidden()
    assert page.request.get(f"{app.url}{aligned}").status == 404
    page.reload()
    expect(page.locator("[data-health]")).to_have_attribute("data-health", "ok")
    expect(delete).to_be_hidden()
    assert page.evaluate("localStorage.length") == 0

    # The notice's own button deletes just the earlier photo.
    upload_astronaut(page, photos, timer)
    page.reload()
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        page.get_by_role("button", name="Delete it now").click()
    assert deleted.value.status == 204
    expect(earlier).to_be_hidden()
    expect(delete).to_be_hidden()

    # An upload the server forgot meanwhile (it expired) is not offered: the page asks first.
    result = encode_job(page, app, lambda: choose_file(page, "Choose a photo", photos["astronaut"]))
    console.allow_http_error(404, result["aligned_url"])
    assert page.request.delete(f"{app.url}/latents/{result['latent_id']}").status == 204
    page.reload()
    page.wait_for_function("() => localStorage.length === 0")
    expect(earlier).to_be_hidden()
    expect(delete).to_be_hidden()


def test_a_photo_the_server_forgot_is_said_and_can_be_sent_again(
    page: Any, app: App, console: Console, photos: dict[str, Path], artifacts: Path
) -> None:
    console.allow_http_error(404, "/manipulate")
    console.allow_http_error(410, "/manipulate")
    downloads: list[Any] = []
    page.on("download", lambda download: downloads.append(download))
    open_studio(page, app)
    result = encode_job(page, app, lambda: choose_file(page, "Choose a photo", photos["astronaut"]))
    smile = page.get_by_role("slider", name="Smile")
    smile.focus()
    page.keyboard.press("End")
    page.wait_for_function(EDITED, arg=FACE_AFTER)
    edited = page.locator(FACE_AFTER).get_attribute("src")
    console.allow_http_error(404, edited)
    console.allow_http_error(404, result["aligned_url"])

    # The server forgets the upload (as when it expires); the browser's cache no longer has the face.
    assert page.request.delete(f"{app.url}/latents/{result['latent_id']}").status == 204
    page.context.new_cdp_session(page).send("Network.clearBrowserCache")
    page.get_by_role("link", name="Download face (PNG)").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_attribute("data-code", "unknown_latent")
    expect(page.locator("[data-alert-title]")).to_have_text(f"The download failed. {EXPIRED}")
    expect(page.locator("[data-alert-detail]")).to_have_text(
        "The server keeps photos, and every picture made from them, for a limited time only.")
    expect(page.locator("[data-viewer-note]")).to_contain_text("The server no longer has this photo")
    expect(smile).to_be_disabled()
    expect(smile).to_have_value("0.5")  # kept for when it is sent again
    expect(page.get_by_role("link", name="Download face (PNG)")).to_be_hidden()
    assert downloads == []
    assert_plain_words(page)
    page.screenshot(path=str(artifacts / "studio-expired.png"))

    def send_again() -> dict[str, Any]:
        """"Upload it again": the same photo, the same sliders, edited again."""
        old = page.locator("[data-aligned]").get_attribute("src")
        again = encode_job(page, app, lambda: page.get_by_role("button", name="Upload it again").click())
        page.wait_for_function(NEW_AND_LOADED, arg=["[data-aligned]", old])
        page.wait_for_function(EDITED, arg=FACE_AFTER)
        expect(alert).to_be_hidden()
        expect(smile).to_be_enabled()
        return again

    result = send_again()
    expect(smile).to_have_value("0.5")

    # An edit of a photo the server forgot says so too.
    assert page.request.delete(f"{app.url}/latents/{result['latent_id']}").status == 204
    smile.focus()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("[data-alert-title]")).to_have_text(EXPIRED)
    expect(smile).to_be_disabled()

    # A store reset (Redis restarted without persistence) is told apart; the answer is made up
    # here, since restarting the tests' Redis would end every other test's uploads too.
    send_again()
    page.route("**/manipulate", lambda route: route.fulfill(status=410, json={"error": {
        "code": "store_reset", "message": "latent 'x' was lost when the server's store was reset"}}))
    smile.focus()
    page.keyboard.press("ArrowLeft")
    expect(alert).to_have_attribute("data-code", "store_reset")
    expect(page.locator("[data-alert-title]")).to_have_text(
        "The server was restarted and forgot this photo. Please upload it again.")
    expect(page.locator("[data-alert-detail]")).to_have_text(
        "The server's storage was emptied when it restarted.")
    page.unroute("**/manipulate")

    # Back on the page after a while: the page asks the server and says so before anything is tried.
    result = send_again()
    console.allow_http_error(404, result["aligned_url"])
    assert page.request.delete(f"{app.url}/latents/{result['latent_id']}").status == 204
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(page.locator("[data-alert-title]")).to_have_text(EXPIRED)
    expect(smile).to_be_disabled()


def test_on_a_phone_faces_are_tapped_and_the_face_stays_in_sight(
    phone: Any, app: App, photos: dict[str, Path], artifacts: Path
) -> None:
    page = phone
    open_studio(page, app)
    result = encode_job(page, app, lambda: choose_file(page, "Choose a photo", photos["pair"]))
    expect(page.get_by_role("radio", name="Faces (2)")).to_be_checked()
    page.wait_for_function(LOADED, arg="[data-face-picker-img]")
    # Faces a finger can hit: buttons of 44 px at least, on the faces as displayed.
    assert_boxes_on_faces(page, "[data-face-boxes]", "[data-face-picker-img]", result["faces"], min_px=44)
    assert_fits_and_labelled(page)
    page.locator("[data-face-picker]").screenshot(path=str(artifacts / "studio-phone-faces.png"))
    first = page.locator("[data-aligned]").get_attribute("src")
    page.get_by_role("button", name="Edit face 2 of 2").tap()
    page.wait_for_function(NEW_AND_LOADED, arg=["[data-aligned]", first])

    # The sliders are below the face on a phone: while they are used, a bar keeps the face in sight.
    sticky = page.locator("[data-sticky-preview]")
    expect(sticky).to_be_hidden()  # the face itself is on screen
    smile = page.get_by_role("slider", name="Smile")
    smile.scroll_into_view_if_needed()
    expect(sticky).to_be_visible()
    bar = sticky.bounding_box()
    assert bar is not None and bar["y"] == 0 and bar["height"] < 200, bar
    face = page.locator("[data-compare=face]").bounding_box()
    assert face is not None and face["y"] + face["height"] / 2 < 0, face  # scrolled away
    slider = smile.bounding_box()
    assert slider is not None and slider["y"] >= bar["height"], (slider, bar)  # not under the bar
    reconstruction = page.locator(FACE_AFTER).get_attribute("src")
    expect(page.locator("[data-sticky-after]")).to_have_attribute("src", reconstruction)
    page.touchscreen.tap(slider["x"] + slider["width"] * 0.9, slider["y"] + slider["height"] / 2)
    expect(smile).not_to_have_value("0")
    page.wait_for_function(EDITED, arg=FACE_AFTER)
    edited = page.locator(FACE_AFTER).get_attribute("src")
    assert edited != reconstruction
    expect(page.locator("[data-sticky-after]")).to_have_attribute("src", edited)
    expect(sticky).to_be_visible()
    page.wait_for_function(LOADED, arg="[data-sticky-after]")
    page.screenshot(path=str(artifacts / "studio-phone-sticky.png"))

    # No arrow keys on a touch screen: the divider's note does not mention them.
    expect(page.locator("[data-viewer-note]")).to_have_text("Drag the divider to compare.")
    expect(page.locator("[data-keys-hint]")).to_be_hidden()
    assert_plain_words(page)


def test_all_attributes_repeat_no_slider_and_beard_runs_towards_more_beard(
    page: Any, app: App, photos: dict[str, Path], timer: Timer
) -> None:
    posts = manipulate_posts(page)
    open_studio(page, app)
    upload_astronaut(page, photos, timer)
    page.get_by_text("All attributes", exact=True).click()
    shown = page.locator("[data-all-sliders] .slider-label").all_text_contents()
    # One slider per direction: those of Age, Gender, Smile and the Hair menu are not repeated.
    names = [a["name"] for a in page.request.get(f"{app.url}/attributes").json()["attributes"]]
    hair = ["Wavy_Hair", "Straight_Hair", "Blond_Hair", "Black_Hair", "Brown_Hair", "Gray_Hair", "Bangs"]
    above = {"Young", "Male", "Smiling", *hair}
    assert len(shown) == len([n for n in names if n not in above]), shown
    for label in ("Age", "Gender", "Smile", "Wavy hair", "Straight hair", "Blond hair", "Grey hair", "Bangs"):
        assert label not in shown, shown
    assert page.get_by_role("option", name="Wavy").count() == 1  # in the Hair menu only
    if "No_Beard" not in names:
        pytest.skip("this model has no beard direction")

    # "Beard" to the right is more beard: the model's No_Beard direction, the other way round.
    beard = page.get_by_role("slider", name="Beard")
    # The server's note describes No_Beard's amounts ("positive = less beard"): not shown.
    expect(page.locator("[data-slider=No_Beard] .slider-note")).to_have_count(0)
    beard.focus()
    page.keyboard.press("End")
    expect(beard).to_have_value("0.5")
    expect(beard).to_have_attribute("aria-valuetext", "+0.50, More beard")
    page.wait_for_function(EDITED, arg=FACE_AFTER)
    assert posts[-1]["edits"] == {"No_Beard": -0.5}, posts

    # Its amounts side by side run the same way: left less beard, right more.
    expect(page.locator("[data-strip-hint]")).to_contain_text("Beard: −0.50, −0.25, 0, +0.25, +0.50")
    page.get_by_role("button", name="Compare amounts").click()
    expect(page.locator("[data-edit-strip] img")).to_have_count(5)
    assert posts[-1]["strip"] == {"attribute": "No_Beard", "amounts": [0.5, 0.25, 0, -0.25, -0.5]}, posts[-1]
    frames = page.locator("[data-strip-frame]")
    expect(frames.first).to_have_attribute("aria-label", "Beard −0.50: use this amount")
    frames.last.click()
    expect(beard).to_have_value("0.5")


def test_a_new_photo_starts_with_every_slider_at_zero(
    page: Any, app: App, photos: dict[str, Path], timer: Timer
) -> None:
    posts = manipulate_posts(page)
    open_studio(page, app)
    upload_astronaut(page, photos, timer)
    smile = page.get_by_role("slider", name="Smile")
    smile.focus()
    page.keyboard.press("End")
    page.wait_for_function(EDITED, arg=FACE_AFTER)
    edits = len(posts)
    first = page.locator("[data-aligned]").get_attribute("src")
    choose_file(page, "Change photo", photos["second"])
    page.wait_for_function(NEW_AND_LOADED, arg=["[data-aligned]", first])
    expect(smile).to_have_value("0")
    expect(page.locator("[data-slider=smile] output")).to_have_text("0")
    expect(page.get_by_role("button", name="Reset")).to_be_disabled()
    expect(page.locator(FACE_AFTER)).to_have_attribute("data-result", "reconstruction")
    page.wait_for_timeout(1000)  # the edit debounce is 250 ms: no edit of the new face was sent
    assert len(posts) == edits, posts


def photo_of(page: Any, app: App, result: dict[str, Any]) -> Image.Image:
    """The whole photo as the server has it (the encode's `photo_url`: the upload, face pasted back)."""
    answer = page.request.get(f"{app.url}{result['photo_url']}")
    assert answer.status == 200
    return Image.open(io.BytesIO(answer.body()))


def assert_upright(photo: Image.Image) -> None:
    """The phone photo's way up: portrait, the face at the top, plain grey at the bottom."""
    assert photo.height > photo.width, photo.size
    assert abs(photo.width / photo.height - PHONE_PHOTO_SIZE[0] / PHONE_PHOTO_SIZE[1]) < 0.01, photo.size
    pixels = np.asarray(photo.convert("RGB"), dtype=np.float64)
    bottom = pixels[-photo.height // 8:]
    assert abs(bottom.mean() - 128) < 6 and bottom.std() < 15, (bottom.mean(), bottom.std())


def test_a_photo_over_the_limits_is_made_smaller_before_it_is_sent(
    page: Any, app: App, photos: dict[str, Path], artifacts: Path
) -> None:
    big = photos["phone"]
    open_studio(page, app)
    # 2.4 MB, stored sideways with an EXIF turn: over this server's 2 MB limit.
    result = encode_job(page, app, lambda: choose_file(page, "Choose a photo", big))
    assert result["faces"], result  # sent upright: the face was found
    photo = photo_of(page, app, result)
    assert_upright(photo)
    shown = page.evaluate("() => { const i = document.querySelector('[data-original]');"
                          " return [i.naturalWidth, i.naturalHeight] }")
    assert tuple(shown) == photo.size  # the face boxes are measured in what was sent
    note = page.locator("[data-photo-note]")
    mib = f"{big.stat().st_size / 2**20:.1f} MiB → "
    expect(note).to_contain_text("Your photo was made smaller before it was sent, to fit this server's "
                                 f"limits: {mib}")
    page.screenshot(path=str(artifacts / "studio-shrunk.png"))

    # The pixel limit, too (the page is told of a server that takes one megapixel).
    def one_megapixel(route: Any) -> None:
        answer = route.fetch()
        body = answer.json()
        body["limits"]["max_pixels"] = 1_000_000
        route.fulfill(response=answer, json=body)

    page.route("**/attributes", one_megapixel)
    open_studio(page, app)
    result = encode_job(page, app, lambda: choose_file(page, "Choose a photo", big))
    photo = photo_of(page, app, result)
    assert photo.width * photo.height <= 1_000_000 and photo.width * photo.height > 900_000, photo.size
    assert_upright(photo)
    width, height = PHONE_PHOTO_SIZE
    expect(note).to_contain_text(f"{width} × {height} → {photo.width} × {photo.height} pixels, ")
    wait_loaded(page, "[data-reconstruction]")
