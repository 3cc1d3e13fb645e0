"""``python -m cli edit``: a folder of photos edited with the paste-back, the bad ones reported
with the server's codes while the good ones are written, and the command line's refusals."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.alignment import paste_back
from backend.intake import load_photo
from backend.settings import Settings
from backend.upload import PreparedUpload, prepare_upload
from cli.commands import main
from cli.inputs import edit_outputs, find_photos, output_stems
from models.errors import InvalidRequestError
from tests.cli.command_line import DEMO, FAST, run_cli

EDITS = ("--Smiling", "0.5", "--Young", "-0.3")


@pytest.fixture(scope="module")
def edited(
    photos: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The whole folder edited once ("add the change"): (the finished process, --out)."""
    out = tmp_path_factory.mktemp("edited") / "out"  # not there yet: edit makes it
    return run_cli("edit", photos, *EDITS, "--out", out, *FAST), out


@pytest.fixture(scope="module")
def upload(photos: Path) -> PreparedUpload:
    """The astronaut prepared as the server prepares an upload: where her face is (the quad)."""
    return prepare_upload((photos / "astronaut.jpg").read_bytes(), 0, 64, Settings())


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(load_photo(path.read_bytes(), max_bytes=2**30, max_pixels=2**30), dtype=np.int16)


def test_bad_photos_are_reported_with_their_codes_and_the_good_one_is_written(
    edited: tuple[subprocess.CompletedProcess[str], Path], photos: Path
) -> None:
    done, out = edited
    assert done.returncode == 1, done.stderr  # some failed
    errors = [line for line in done.stderr.splitlines() if not line.startswith("edited ")]
    assert errors == [
        f"{photos / 'grey.png'}: no_face: no face found in the 300×200 photo; use a photo with a clearly "
        "visible, roughly frontal face at least about 80 pixels wide",
        f"{photos / 'notes.jpg'}: unsupported_image: the upload is not a readable JPEG, PNG or WebP image "
        "(26 bytes)",
    ]
    assert done.stderr.splitlines()[-1].startswith("edited 1 of 3 photos, ")  # readme.txt is no photo
    written = f"{out / 'astronaut.png'} {out / 'astronaut.face.png'}"
    assert done.stdout == f"{photos / 'astronaut.jpg'}: {written}\n"
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.face.png", "astronaut.png"]
    assert "%|" not in done.stderr  # no progress bar when stderr is not a terminal


def test_add_the_change_keeps_the_photo_outside_the_face_and_changes_the_face(
    edited: tuple[subprocess.CompletedProcess[str], Path], photos: Path, upload: PreparedUpload
) -> None:
    _, out = edited
    original, result = _pixels(photos / "astronaut.jpg"), _pixels(out / "astronaut.png")
    assert result.shape == original.shape == (512, 512, 3)
    # Outside the crop's quad the photo is its own, bit for bit (the change is only pasted inside).
    left, top = np.floor(upload.quad.min(axis=0)).astype(int)
    right, bottom = np.ceil(upload.quad.max(axis=0)).astype(int) + 1
    outside = np.ones(original.shape[:2], bool)
    outside[max(top, 0):bottom, max(left, 0):right] = False
    assert outside.mean() > 0.8
    assert np.array_equal(result[outside], original[outside])
    # The face (the detector's box) is edited: a smile and age are a visible change.
    x0, y0, x1, y1 = upload.faces[0]
    change = np.abs(result[y0:y1, x0:x1] - original[y0:y1, x0:x1])
    assert change.mean() > 3.0, change.mean()
    with Image.open(out / "astronaut.face.png") as crop:
        assert (crop.format, crop.mode, crop.size) == ("PNG", "RGB", (64, 64))
        # Only the change was added: the face is not the drawn render pasted over hers.
        replaced = np.asarray(paste_back(Image.fromarray(original.astype(np.uint8)), crop, upload.quad),
                              dtype=np.int16)
    assert np.abs(result - replaced)[y0:y1, x0:x1].mean() > 3.0


def test_replace_face_pastes_the_edited_crop_back(
    photos: Path, upload: PreparedUpload, tmp_path: Path
) -> None:
    done = run_cli("edit", photos / "astronaut.jpg", *EDITS, "--replace-face", "--face", "0", "--out",
                   tmp_path, "--quiet", *FAST)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")  # --quiet: nothing to say
    original = load_photo((photos / "astronaut.jpg").read_bytes(), max_bytes=2**30, max_pixels=2**30)
    with Image.open(tmp_path / "astronaut.face.png") as crop:
        expected = np.asarray(paste_back(original, crop, upload.quad))
    assert np.array_equal(_pixels(tmp_path / "astronaut.png"), expected)


def test_an_unknown_attribute_lists_the_models_and_writes_nothing(photos: Path, tmp_path: Path) -> None:
    done = run_cli("edit", photos, "--Smiley", "0.3", "--Young", "-0.2", "--out", tmp_path / "out",
                   "--model", DEMO)
    assert done.returncode == 2
    assert done.stderr == ("unknown_attribute: unknown attribute(s) Smiley; this model has: Young, Male, "
                           "Smiling, Wavy_Hair, Straight_Hair, Blond_Hair, Black_Hair, Brown_Hair, "
                           "Gray_Hair, Bangs, Eyeglasses, No_Beard, Wearing_Lipstick\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--Smiling", "2.5", "--Young", "nan"], "invalid_request: edit amounts must be within ±2.0; got "
                                                  "Smiling: 2.5, Young: nan"),
        (["--steps", "37"], "invalid_request: steps=37 is not a legal DDIM step count"),
        (["--encode-steps", "0"], "invalid_request: encode_steps=0 is not a legal DDIM step count"),
        (["--face", "-1"], "invalid_request: face must be ≥ 0 (0 is the largest face), got -1"),
        (["--model", "/nonexistent"], "model_unavailable: /nonexistent is not a readable model directory"),
    ],
    ids=["amounts", "steps", "encode-steps", "face", "model"],
)
def test_refused_before_any_photo_is_read(photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          args: list[str], message: str) -> None:
    status = main(["edit", str(photos), "--out", str(tmp_path / "out"), "--model", str(DEMO), *args])
    assert status == (3 if "model_unavailable" in message else 2)
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_outputs_never_overwrite_an_input(photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["edit", str(photos), "--out", str(photos), "--model", str(DEMO)]) == 2
    assert capsys.readouterr().err == (f"invalid_request: writing {photos / 'grey.png'} would overwrite an "
                                       "input photo; choose another --out folder\n")


def test_a_folder_means_its_photos_and_names_stay_apart(tmp_path: Path) -> None:
    for name in ("b.png", "a.jpg", "a.PNG", ".a.jpg", "c.gif", "d.webp"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.jpg").write_bytes(b"")
    found = find_photos([tmp_path, tmp_path / "sub" / "a.jpg", tmp_path / "c.gif"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.PNG", "a.jpg", "b.png", "d.webp", "sub/a.jpg", "c.gif"]  # named files are tried as given
    assert output_stems(found) == ["a_png", "a_jpg", "b", "d", "a_jpg_2", "c"]
    out = tmp_path / "out"
    assert edit_outputs(found, out)[:2] == [(out / "a_png.png", out / "a_png.face.png"),
                                            (out / "a_jpg.png", out / "a_jpg.face.png")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidRequestError, match="no photos to process in "):
        find_photos([tmp_path / "empty"])
    with pytest.raises(InvalidRequestError, match="no such file or folder: "):
        find_photos([tmp_path / "missing.jpg"])


def test_a_region_limited_conditional_edit_changes_only_that_region(
    photos: Path, upload: PreparedUpload, tmp_path: Path
) -> None:
    """--region and --keep, as the API's `region` and `keep`: outside the mouth the edited face
    is the unedited render (a run with no edit), inside it is not."""
    from models.regions import region_mask

    face = photos / "astronaut.jpg"
    plain, mouth = tmp_path / "plain", tmp_path / "mouth"
    assert run_cli("edit", face, "--out", plain, *FAST).returncode == 0
    done = run_cli("edit", face, "--Smiling", "1.0", "--keep", "Young", "Male", "--region", "mouth",
                   "--out", mouth, *FAST)
    assert done.returncode == 0, done.stderr
    base, edited = _pixels(plain / "astronaut.face.png"), _pixels(mouth / "astronaut.face.png")
    mask = region_mask(np.asarray(upload.landmarks), "mouth", base.shape[0])
    assert np.abs(edited - base)[mask < 1e-3].max() <= 1  # outside: the unedited render
    assert np.abs(edited - base)[mask > 0.5].mean() > 1.0  # the mouth changed
    refused = run_cli("edit", face, "--Smiling", "0.2", "--keep", "Age", "--out", tmp_path / "x", *FAST)
    assert refused.returncode == 2 and refused.stderr.startswith("unknown_attribute: ")
