"""``python -m cli interpolate``: two photos morphed into a GIF (or an MP4 through ffmpeg), and
what happens without a face or without ffmpeg."""

from __future__ import annotations

import os
import stat
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli.animation import sequence, write_animation
from cli.commands import main
from models.errors import InvalidRequestError
from tests.cli.command_line import DEMO, FAST, run_cli


def _frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.info["loop"] == 0  # loops for ever
        out = []
        for i in range(gif.n_frames):
            gif.seek(i)
            out.append(np.asarray(gif.convert("RGB"), dtype=np.int16))
        return out


def test_two_photos_make_a_bouncing_gif(photos: Path, mirror: Path, tmp_path: Path) -> None:
    out = tmp_path / "gifs" / "morph.gif"  # the folder is made
    done = run_cli("interpolate", photos / "astronaut.jpg", mirror, "--out", out, "--frames", "3",
                   "--size", "96", *FAST)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{out}\n"
    assert done.stderr.startswith("4 frames (3 from A to B) in ")
    frames = _frames(out)
    assert len(frames) == 4 and frames[0].shape == (96, 96, 3)  # a, mid, b, mid again: 2·3 − 2
    assert np.abs(frames[1] - frames[3]).max() <= 8  # the way back shows the same middle (GIF palette)
    assert np.abs(frames[0] - frames[2]).mean() > 10  # a and b are two faces (mirrored)
    assert np.abs(frames[0] - frames[1]).mean() > 2  # and the middle is on the way


def test_a_photo_without_a_face_is_reported_and_nothing_written(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "morph.gif"
    done = run_cli("interpolate", photos / "grey.png", photos / "astronaut.jpg", "--out", out, *FAST)
    assert done.returncode == 1
    assert done.stderr.startswith(f"{photos / 'grey.png'}: no_face: no face found in the 300×200 photo")
    assert done.stderr.count("\n") == 1 and done.stdout == ""
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "x.avi"],
         "invalid_request: cannot write x.avi: an animation is a .gif or an .mp4, got '.avi'"),
        (["--out", "x.gif", "--frames", "17"],
         "invalid_request: an interpolation has 2 to 16 frames (MAX_FRAMES), got 17"),
        (["--out", "x.gif", "--fps", "0"], "invalid_request: --fps must be a positive number, got 0.0"),
    ],
    ids=["suffix", "frames", "fps"],
)
def test_refused_before_the_model_runs(photos: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                       message: str) -> None:
    a = str(photos / "astronaut.jpg")
    assert main(["interpolate", a, a, "--model", str(DEMO), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err


def _fake_ffmpeg(folder: Path, status: int = 0) -> None:
    """An `ffmpeg` that counts the PNGs piped to it and writes the count and its arguments to
    the output file (its last argument); with `status` != 0 it fails with a message instead."""
    script = folder / "ffmpeg"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys
        data = sys.stdin.buffer.read()
        if {status}:
            sys.stderr.write("Unknown encoder libx264\\n")
            sys.exit({status})
        pngs = data.count(b"\\x89PNG\\r\\n\\x1a\\n")
        open(sys.argv[-1], "w").write(" ".join([str(pngs), *sys.argv[1:]]))
    """))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_mp4_frames_go_through_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frames = [Image.new("RGB", (63, 63), (i * 40, 0, 0)) for i in range(4)]
    out = tmp_path / "morph.mp4"
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(InvalidRequestError, match="MP4 needs the ffmpeg program on PATH"):
        write_animation(frames, out, fps=8)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    _fake_ffmpeg(tmp_path)
    write_animation(sequence(frames, bounce=True), out, fps=12.5)
    count, *args = out.read_text().split(" ")
    assert int(count) == 6  # 4 there, 2 back
    assert args[args.index("-framerate") + 1] == "12.5" and args[args.index("-i") + 1] == "-"
    assert args[-1] == str(out)
    _fake_ffmpeg(tmp_path, status=1)
    with pytest.raises(OSError, match=r"ffmpeg failed writing .* \(exit status 1\): Unknown encoder libx264"):
        write_animation(frames, out, fps=8)


def test_sequence_bounces_and_resizes() -> None:
    frames = [Image.new("RGB", (64, 64), (i, i, i)) for i in range(4)]
    shown = sequence(frames, bounce=True, size=32)
    assert [f.getpixel((0, 0))[0] for f in shown] == [0, 1, 2, 3, 2, 1]
    assert {f.size for f in shown} == {(32, 32)}
    assert sequence(frames, bounce=False) == frames
