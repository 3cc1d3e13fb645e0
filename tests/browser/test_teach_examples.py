"""#17 item 1's third source of faces on the page: the model's bundled labelled faces. A new user
shows them, lets a label mark a few dozen, teaches, and gets a slider that reads the property
(accuracy well above chance, where arbitrary marks on drawn faces give about chance) and edits
their photo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.actions import (
    FACE_AFTER,
    NEW_AND_LOADED,
    assert_plain_words,
    open_studio,
    upload_astronaut,
)
from tests.browser.conftest import App, Console, Timer

pytestmark = pytest.mark.browser


def test_a_slider_taught_from_example_faces_marked_by_label_reads_its_property(
    page: Any, app: App, console: Console, photos: dict[str, Path], timer: Timer, artifacts: Path
) -> None:
    listing = page.request.get(f"{app.url}/examples").json()
    if not listing["examples"]:
        pytest.skip(f"the test model {listing['preset']!r} ships no labelled faces")
    open_studio(page, app)
    upload_astronaut(page, photos, timer)
    tiles = page.locator("[data-teach-faces] li.example")
    expect(tiles).to_have_count(0)
    more = page.get_by_role("button", name="Add example faces")
    with timer.measure("add example faces → shown"):
        more.click()
        expect(tiles).to_have_count(24)
    expect(page.get_by_role("img", name="Example face 1", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Show more example faces (24 of ")).to_be_visible()

    # Mark one by hand, then let the label mark a few dozen (the hand mark on a bundled face goes).
    page.get_by_role("checkbox", name="Example face 2: has it", exact=True).check()
    expect(page.locator("[data-teach-count]")).to_contain_text("Has it: 1 · Doesn't: 0.")
    page.get_by_label("Mark example faces by label").select_option("Male")
    expect(page.locator("[data-teach-count]")).to_contain_text("Has it: 30 · Doesn't: 30.")
    expect(page.get_by_label("Name")).to_have_value("Male")
    shown = tiles.count()  # every face up to the last one marked
    expect(page.get_by_role("button", name=f"Show more example faces ({shown} of {len(listing['examples'])})")
           ).to_be_visible()
    male = {e["example_id"] for e in listing["examples"] if e["labels"].get("Male") == 1}
    marked_has = page.evaluate("[...document.querySelectorAll('[data-teach-face][data-marked=has]')]"
                               ".map((li) => li.dataset.teachFace)")
    assert len(marked_has) == 30 and set(marked_has) <= male

    page.get_by_label("Name").fill("Masculine")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/directions")) as sent:
        page.get_by_role("button", name="Teach", exact=True).click()
    assert sent.value.status == 202, sent.value.text()
    body = sent.value.request.post_data_json
    assert len(body["positives"]) == len(body["negatives"]) == 30
    assert all(face.startswith("example:") for face in body["positives"] + body["negatives"])
    with timer.measure("teach (30 + 30 example faces) → slider shown"):
        expect(page.locator("[data-teach-result]")).to_be_visible()
    result = page.request.get(f"{app.url}/jobs/{sent.value.json()['job_id']}").json()["result"]
    print(f"\ntaught on the page from 30 + 30 example faces: held-out accuracy {result['accuracy']:.2f}")
    assert result["accuracy"] >= 0.8  # chance is 0.5
    expect(page.locator("[data-teach-result]")).to_contain_text(
        f"Right on {int(result['accuracy'] * 100 + 0.5)} % of faces it was not taught from")
    assert_plain_words(page)
    page.locator("section.teach").screenshot(path=str(artifacts / "studio-teach-examples.png"))

    # Its slider edits the photo, like a built-in one.
    slider = page.get_by_role("slider", name="Masculine")
    expect(slider).to_be_enabled()
    face = page.locator("[data-compare=face] [data-compare-before]").get_attribute("src")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/manipulate")) as edit:
        slider.focus()
        page.keyboard.press("End")
    assert edit.value.post_data_json["edits"] == {result["edit_name"]: pytest.approx(
        edit.value.post_data_json["edits"][result["edit_name"]])} and edit.value.post_data_json["edits"][
        result["edit_name"]] > 0
    page.wait_for_function(NEW_AND_LOADED, arg=[FACE_AFTER, face])

    page.get_by_role("button", name="Show more example faces").click()
    expect(tiles).to_have_count(min(shown + 24, len(listing["examples"])))

    # Kept in this browser: after a reload the slider is still there (the server has it: one HEAD
    # /directions/{id}); deleted behind the page's back, the next load drops it and says so.
    direction = result["direction_id"]
    with page.expect_response(lambda r: r.request.method == "HEAD" and r.url.endswith(direction)) as asked:
        page.reload()
    assert asked.value.status == 200
    expect(page.get_by_role("slider", name="Masculine")).to_have_count(1)
    assert page.request.delete(f"{app.url}/directions/{direction}").status == 204
    console.allow_http_error(404, f"/directions/{direction}")
    with page.expect_response(lambda r: r.request.method == "HEAD" and r.url.endswith(direction)) as asked:
        page.reload()
    assert asked.value.status == 404
    expect(page.get_by_role("slider", name="Masculine")).to_have_count(0)
    expect(page.locator("[data-status]")).to_contain_text("no longer on the server")
    assert page.evaluate("localStorage.getItem('diffae-studio.sliders')") is None
