"""`python -m backend.alignment IN OUT [--size N] [--face K] [--backend dlib]` (`backend.faces.main`)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.faces import main

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend.alignment", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )


def test_cli_writes_the_aligned_png(astronaut: Image.Image, tmp_path: Path) -> None:
    source, target = tmp_path / "astronaut.jpg", tmp_path / "aligned.png"
    astronaut.save(source, quality=95)
    done = run_cli(str(source), str(target), "--size", "128", "--face", "0", "--backend", "dlib")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    with Image.open(target) as image:
        assert (image.format, image.mode, image.size) == ("PNG", "RGB", (128, 128))


def test_cli_without_a_face_exits_1_with_one_line(tmp_path: Path) -> None:
    source, target = tmp_path / "wall.png", tmp_path / "aligned.png"
    Image.new("RGB", (300, 200), (180, 170, 160)).save(source)
    done = run_cli(str(source), str(target))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("no_face: ")
    assert "no face found in the 300×200 photo" in done.stderr
    assert not target.exists()


def test_cli_default_size_is_256(astronaut: Image.Image, tmp_path: Path) -> None:
    source, target = tmp_path / "astronaut.png", tmp_path / "aligned.png"
    astronaut.save(source)
    assert main([str(source), str(target), "--transform-size", "512"]) == 0
    with Image.open(target) as image:
        assert image.size == (256, 256)


@pytest.mark.parametrize(
    ("make_input", "args", "code"),
    [
        (lambda p: Image.new("RGB", (8, 8)).save(p, format="GIF"), [], "unsupported_image"),
        (lambda p: p.write_bytes(b""), [], "unsupported_image"),
        (lambda p: Image.new("RGB", (8, 8)).save(p, format="PNG"), ["--max-pixels", "10"],
         "too_large"),
    ],
    ids=["gif", "empty", "too-many-pixels"],
)
def test_cli_bad_input_exits_2_with_code_and_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_input: Callable[[Path], object], args: list[str],
    code: str,
) -> None:
    source = tmp_path / "input.img"
    make_input(source)
    assert main([str(source), str(tmp_path / "out.png"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{code}: {source}: ") and err.count("\n") == 1


def test_cli_face_out_of_range_and_missing_file(
    astronaut: Image.Image, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "astronaut.png"
    astronaut.save(source)
    assert main([str(source), str(tmp_path / "out.png"), "--face", "3"]) == 2
    assert "invalid_request: " in capsys.readouterr().err
    assert main([str(tmp_path / "missing.jpg"), str(tmp_path / "out.png")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_cli_fast_matches_the_faithful_output(astronaut: Image.Image, tmp_path: Path) -> None:
    source = tmp_path / "astronaut.png"
    astronaut.save(source)
    assert main([str(source), str(tmp_path / "faithful.png"), "--size", "128"]) == 0
    assert main([str(source), str(tmp_path / "fast.png"), "--size", "128", "--fast"]) == 0
    with Image.open(tmp_path / "faithful.png") as a, Image.open(tmp_path / "fast.png") as b:
        diff = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16))
    assert diff.max() <= 2 and 0 < diff.mean() <= 0.25  # close, but really another warp
