"""Interpolation frames as an animation file: an endlessly looping GIF (Pillow), or an MP4 made by
the `ffmpeg` program when one is on PATH (no Python video package is a dependency).

`animation_format` is checked before any model work, so that a missing ffmpeg costs nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from PIL import Image

from models.errors import InvalidRequestError

Format = Literal["gif", "mp4"]
FORMATS: dict[str, Format] = {".gif": "gif", ".mp4": "mp4"}


def animation_format(path: Path) -> Format:
    """The format `path`'s suffix asks for, if it can be written here.

    Raises:
        InvalidRequestError: another suffix, or .mp4 without ffmpeg on PATH.
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidRequestError(
            f"cannot write {path}: an animation is a .gif or an .mp4, got {path.suffix or 'no suffix'!r}")
    if fmt == "mp4" and shutil.which("ffmpeg") is None:
        raise InvalidRequestError(
            f"cannot write {path}: MP4 needs the ffmpeg program on PATH, and none was found; install "
            "ffmpeg (e.g. `apt-get install ffmpeg`) or write a .gif")
    return fmt


def sequence(frames: Sequence[Image.Image], *, bounce: bool, size: int | None = None) -> list[Image.Image]:
    """The frames to show, in order: a → b, then back to a (without repeating either end) when
    `bounce`, as the studio's GIF; each resized to `size` px square (LANCZOS) when given."""
    shown = list(frames) + (list(frames[-2:0:-1]) if bounce else [])
    if size is not None:
        shown = [f.resize((size, size), Image.Resampling.LANCZOS) if f.size != (size, size) else f
                 for f in shown]
    return shown


def write_animation(frames: Sequence[Image.Image], path: Path, fps: float) -> None:
    """Write `frames` (RGB, one size) to `path` as its suffix says, at `fps` frames per second.

    Raises:
        InvalidRequestError: as `animation_format`.
        OSError: the file cannot be written, or ffmpeg failed (its message included).
    """
    if not frames:
        raise ValueError("an animation needs at least one frame")
    if animation_format(path) == "gif":
        _write_gif(frames, path, fps)
    else:
        _write_mp4(frames, path, fps)


def _write_gif(frames: Sequence[Image.Image], path: Path, fps: float) -> None:
    frame_ms = max(round(1000 / fps), 20)  # browsers slow down anything faster than 20 ms
    first, *rest = frames
    first.save(path, format="GIF", save_all=True, append_images=rest, duration=frame_ms, loop=0)


def _write_mp4(frames: Sequence[Image.Image], path: Path, fps: float) -> None:
    """Frames piped to ffmpeg as PNGs; H.264 in yuv420p where ffmpeg has it (what players play),
    which needs even sides: odd ones are padded by a pixel."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        animation_format(path)  # raises with the explanation
        raise AssertionError("unreachable")
    command = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "image2pipe", "-framerate", f"{fps:g}", "-c:v", "png", "-i", "-",
        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
        str(path),
    ]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdin is not None
        try:
            for frame in frames:
                frame.save(proc.stdin, format="PNG", compress_level=1)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg stopped reading: its exit status and message say why
        error = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        status = proc.wait()
    if status != 0:
        raise OSError(f"ffmpeg failed writing {path} (exit status {status}): {error or 'no message'}")
