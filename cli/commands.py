"""The commands (`edit`, `interpolate`, `attributes`) and the entry point `main`.

Output: results on stdout, one line each; a photo that fails is one line on stderr,
``FILE: CODE: MESSAGE`` with the server's code and message (or `file_error` when the file system
refused), and the batch goes on with the others. A progress bar and a summary on stderr unless
--quiet (which leaves only the failures).

Exit status: 0 done; 1 some photos failed; 2 bad command line (a usage error, `unknown_attribute`,
`invalid_request`); 3 the model or the face detector cannot be loaded (`model_unavailable`,
`alignment_unavailable`: no photo could succeed, so the batch stops at once).
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from PIL import Image
from pydantic import ValidationError

from backend.attributes import DEFAULT_RANGE, label
from backend.settings import Settings
from cli.animation import animation_format, sequence, write_animation
from cli.inputs import edit_outputs, find_photos
from cli.parser import AttributesCommand, Command, EditCommand, InterpolateCommand, parse
from cli.progress import Bar, wanted
from cli.studio import AlignedPhoto, LocalStudio
from models.errors import InvalidRequestError, StudioError, UnknownAttributeError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3
#: Codes that mean this machine cannot run the command at all, whatever the photo.
UNAVAILABLE = frozenset({"model_unavailable", "alignment_unavailable"})
#: The one code of this command line that the server has no use for: a file it cannot read or write.
FILE_ERROR = "file_error"


class PhotoFailedError(Exception):
    """One photo could not be done; already reported on stderr."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command `argv` (default: `sys.argv[1:]`); returns the exit status."""
    try:
        settings = Settings()
        command = parse(sys.argv[1:] if argv is None else argv, settings)
        o = command.options
        return run(command, LocalStudio(settings, o.model, o.device, o.threads, o.engine))
    except StudioError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_UNAVAILABLE if exc.code in UNAVAILABLE else EXIT_USAGE
    except ValidationError as exc:  # the environment's settings (MAX_STEPS=abc ...)
        print(f"invalid_request: the settings from the environment are invalid: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# ----------------------------------------------------------------------------- edit
def edit(cmd: EditCommand, studio: LocalStudio) -> int:
    """Edit the face of every photo; write OUT/STEM.png (the whole photo) and OUT/STEM.face.png
    (the edited aligned crop) for each that succeeds."""
    s = cmd.sampling
    plan = studio.plan(s.solver, s.grid, s.steps, s.encode_steps)
    edits = studio.check_edits(cmd.edits)
    _check_face(cmd.face)
    photos = find_photos(cmd.inputs)
    outputs = edit_outputs(photos, cmd.out)
    quiet = cmd.options.quiet
    bar = Bar(len(photos), "edit", enabled=wanted(quiet))
    # Where the bar is within a photo when its inversion ends (a step of either costs about the same).
    inverted = plan.inversion.steps / (plan.inversion.steps + plan.render.steps)
    done: list[float] = []
    try:
        bar.describe("loading the model")
        studio.load()  # before the first photo, so that its time is not the photo's
        _make_folder(cmd.out)  # once the model runs: a command that cannot leaves no empty folder
        for i, (photo, (photo_out, crop_out)) in enumerate(zip(photos, outputs, strict=True)):
            bar.describe(f"{i + 1}/{len(photos)} {photo.name}")
            start = time.perf_counter()
            try:
                face = _align(studio, photo, cmd.face, bar)
                result = studio.edit(face, edits, plan, replace_face=cmd.replace_face, keep=cmd.keep,
                                     region=cmd.region,
                                     progress=bar.stage(i, inverted),
                                     decoding=bar.stage(i + inverted, 1 - inverted))
                _save(photo, result.photo, photo_out, bar)
                _save(photo, result.crop, crop_out, bar)
            except PhotoFailedError:
                continue
            finally:
                bar.move_to(i + 1)
            done.append(time.perf_counter() - start)
            if not quiet:
                bar.say(f"{photo}: {photo_out} {crop_out}")
    finally:
        bar.close()
    failed = len(photos) - len(done)
    if not quiet:
        per = f", {sum(done) / len(done):.2f} s per photo" if done else ""
        print(f"edited {len(done)} of {len(photos)} photos{per} ({_loaded(studio)})"
              + (f"; {failed} failed" if failed else ""), file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


# ----------------------------------------------------------------------------- interpolate
def interpolate(cmd: InterpolateCommand, studio: LocalStudio) -> int:
    """Morph the largest face of photo A into that of B and write the frames as a GIF or MP4."""
    s = cmd.sampling
    plan = studio.plan(s.solver, s.grid, s.steps, s.encode_steps)
    alphas = studio.alphas(cmd.frames)
    animation_format(cmd.out)  # before any model work: a missing ffmpeg costs nothing
    if not (math.isfinite(cmd.fps) and cmd.fps > 0):
        raise InvalidRequestError(f"--fps must be a positive number, got {cmd.fps}")
    if cmd.size is not None and not 8 <= cmd.size <= 4096:
        raise InvalidRequestError(f"--size must be in 8..4096 px, got {cmd.size}")
    quiet = cmd.options.quiet
    # Units of the bar: image-steps (an inversion step of one face, a render step of one frame).
    encode_units, decode_units = plan.inversion.steps, plan.render.steps * len(alphas)
    bar = Bar(2 * encode_units + decode_units, "interpolate", enabled=wanted(quiet))
    start = time.perf_counter()
    try:
        bar.describe("loading the model")
        studio.load()  # first: an unusable model is reported before any photo
        _make_folder(cmd.out.parent)
        faces: list[AlignedPhoto] = []
        for path in (cmd.a, cmd.b):
            bar.describe(f"aligning {path.name}")
            with contextlib.suppress(PhotoFailedError):  # reported; the other photo is still tried
                faces.append(_align(studio, path, 0, bar))
        if len(faces) < 2:
            return EXIT_FAILED
        bar.describe(f"{len(alphas)} frames")
        frames = studio.interpolate(faces[0], faces[1], alphas, plan,
                                    encoding=lambda i: bar.stage(i * encode_units, encode_units),
                                    decoding=bar.stage(2 * encode_units, decode_units))
        shown = sequence(frames, bounce=cmd.bounce, size=cmd.size)
        try:
            write_animation(shown, cmd.out, cmd.fps)
        except OSError as exc:
            bar.say(f"{cmd.out}: {FILE_ERROR}: {exc.strerror or exc}", sys.stderr)
            return EXIT_FAILED
    finally:
        bar.close()
    if not quiet:
        bar.say(str(cmd.out))
        print(f"{len(shown)} frames ({len(alphas)} from A to B) in {time.perf_counter() - start:.1f} s "
              f"({_loaded(studio)})", file=sys.stderr)
    return EXIT_OK


# ----------------------------------------------------------------------------- attributes
def attributes(cmd: AttributesCommand, studio: LocalStudio) -> int:
    """List the model's attributes (no model load), or score a photo's face on each."""
    info = studio.info
    if cmd.photo is None:
        rows = [(name, *label(name), info.ranges.get(name, DEFAULT_RANGE), info.auroc.get(name))
                for name in info.attributes]
        if cmd.json:
            listing = [{"name": name, "label": text, "note": note, "min": low, "max": high, "auroc": auroc}
                       for name, text, note, (low, high), auroc in rows]
            print(json.dumps({"preset": info.preset, "image_size": info.image_size, "attributes": listing},
                             indent=2))
        elif rows:
            _table(["NAME", "LABEL", "RANGE", "AUROC", "NOTE"],
                   [[name, text, f"{low:g}..{high:g}", "" if auroc is None else f"{auroc:.2f}", note or ""]
                    for name, text, note, (low, high), auroc in rows])
        if not rows:
            print(f"model {info.preset!r} has no attribute classifier: nothing to edit", file=sys.stderr)
        return EXIT_OK
    if not info.attributes:
        raise UnknownAttributeError(
            f"model {info.preset!r} has no attribute classifier, so it has no attributes to score")
    _check_face(cmd.face)
    bar = Bar(1, "attributes", enabled=False)  # one photo, about a second: no bar
    try:
        face = _align(studio, cmd.photo, cmd.face, bar)
    except PhotoFailedError:
        return EXIT_FAILED
    scores = sorted(studio.scores(face).items(), key=lambda kv: -kv[1])
    if cmd.json:
        print(json.dumps({"photo": str(cmd.photo), "face": face.face, "faces": len(face.faces),
                          "preset": info.preset, "scores": dict(scores)}, indent=2))
        return EXIT_OK
    # The names, not the labels: "No_Beard yes" reads right where "Beard yes" would not.
    _table(["NAME", "SCORE", "P", "HAS"],
           [[name, f"{logit:+.2f}", f"{_sigmoid(logit):.2f}", "yes" if logit > 0 else "no"]
            for name, logit in scores])
    return EXIT_OK


# ----------------------------------------------------------------------------- helpers
def _align(studio: LocalStudio, path: Path, face: int, bar: Bar) -> AlignedPhoto:
    """`studio.align`, a failure reported as the photo's line (`PhotoFailedError`); a failure no photo
    could escape (no landmark backend) stops the command."""
    try:
        return studio.align(path, face)
    except StudioError as exc:
        if exc.code in UNAVAILABLE:
            raise
        bar.say(f"{path}: {exc.code}: {exc.message}", sys.stderr)
    except OSError as exc:
        bar.say(f"{path}: {FILE_ERROR}: cannot read it ({exc.strerror or exc})", sys.stderr)
    raise PhotoFailedError


def _save(photo: Path, image: Image.Image, path: Path, bar: Bar) -> None:
    try:
        image.save(path, format="PNG", compress_level=3)
    except OSError as exc:
        bar.say(f"{photo}: {FILE_ERROR}: cannot write {path} ({exc.strerror or exc})", sys.stderr)
        raise PhotoFailedError from exc


def _loaded(studio: LocalStudio) -> str:
    failed = "".join(f"; {name} not usable: {why}" for name, why in studio.engine_failures.items())
    return f"model loaded in {studio.load_seconds:.1f} s, engine {studio.engine}{failed}"


def _make_folder(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidRequestError(f"cannot make the folder {path} ({exc.strerror or exc})") from exc


def _check_face(face: int) -> None:
    if face < 0:
        raise InvalidRequestError(f"face must be ≥ 0 (0 is the largest face), got {face}")


def _sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-logit)) if logit > -700 else 0.0


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def run(command: Command, studio: LocalStudio) -> int:
    """Run a parsed command with `studio`; returns the exit status."""
    if isinstance(command, EditCommand):
        return edit(command, studio)
    if isinstance(command, InterpolateCommand):
        return interpolate(command, studio)
    return attributes(command, studio)
