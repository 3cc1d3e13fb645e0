"""The command line's grammar: three subcommands, an option per attribute of the model for
`edit` (``--Smiling 0.3 --Young -0.2``), and the typed commands it parses into.

The attribute options depend on the model, so the model directory (--model, else MODEL_DIR,
else the bundled faces64) is read first, without torch. An option that is no attribute of the
model is `unknown_attribute` with the model's list, as the server answers; everything else
argparse refuses is a usage error (exit status 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from backend.attributes import DEFAULT_RANGE, label
from backend.settings import Settings
from cli.studio import model_info, unknown_attributes
from models.errors import ModelUnavailableError
from models.regions import REGIONS
from models.schedule import GRIDS, SOLVERS, Grid, Solver
from worker.contracts import ModelInfo
from worker.settings import WorkerSettings

PROG = "python -m cli"
#: The worker's ENGINE choices: "auto", "eager", or an engine by name.
ENGINES: tuple[str, ...] = get_args(WorkerSettings.model_fields["engine"].annotation)


@dataclass(frozen=True)
class Options:
    """What every command takes: the model, where it runs, how much it says."""

    model: Path
    device: str | None
    threads: int
    engine: str
    quiet: bool


@dataclass(frozen=True)
class SamplingOptions:
    """Solver, grid, render steps and inversion steps as given (None: the server's default)."""

    solver: Solver | None
    grid: Grid | None
    steps: int | None
    encode_steps: int | None


@dataclass(frozen=True)
class EditCommand:
    inputs: list[Path]
    out: Path
    edits: dict[str, float]
    face: int
    replace_face: bool
    sampling: SamplingOptions
    options: Options
    keep: list[str] = field(default_factory=list)
    region: str | None = None


@dataclass(frozen=True)
class InterpolateCommand:
    a: Path
    b: Path
    out: Path
    frames: int
    fps: float
    size: int | None
    bounce: bool
    sampling: SamplingOptions
    options: Options


@dataclass(frozen=True)
class AttributesCommand:
    photo: Path | None
    face: int
    json: bool
    options: Options


Command = EditCommand | InterpolateCommand | AttributesCommand


class _Edit(argparse.Action):
    """``--NAME AMOUNT``: one entry of the edits (the last one given wins)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        edits = dict(getattr(namespace, "edits", None) or {})
        edits[self.metavar_name] = values
        namespace.edits = edits

    @property
    def metavar_name(self) -> str:
        return self.dest.removeprefix("edit:")


def _common(settings: Settings) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parent.add_argument("--model", type=Path, default=settings.model_dir, metavar="DIR",
                        help="model directory (default: MODEL_DIR, else the bundled faces64)")
    parent.add_argument("--device", default=None,
                        help="torch device, e.g. cpu or cuda:0 (default: CUDA if any, else the CPU)")
    parent.add_argument("--threads", type=int, default=0, metavar="N",
                        help="torch CPU threads (default: all cores); 1 is fastest on a busy machine")
    parent.add_argument("--engine", choices=ENGINES, default="eager",
                        help="CPU engine of the networks, as the worker's ENGINE (default eager: starts at "
                             "once; auto: measures them at start, ~2-3x faster per photo on big batches)")
    parent.add_argument("-q", "--quiet", action="store_true",
                        help="print only the failures: no results, bar or summary")
    return parent


def _sampling(settings: Settings) -> argparse.ArgumentParser:
    s = settings
    parent = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    group = parent.add_argument_group("sampling (defaults: the server's, from the same settings)")
    group.add_argument("--solver", choices=SOLVERS, default=None,
                       help=f"sampler (default: DEFAULT_SOLVER = {s.default_solver})")
    group.add_argument("--grid", choices=GRIDS, default=None,
                       help=f"timestep grid (default: the solver's; dpm++2m: {s.dpm_grid}, ddim: uniform)")
    group.add_argument("--steps", type=int, default=None, metavar="N",
                       help=f"render steps (default: the solver's; dpm++2m: {s.dpm_steps})")
    group.add_argument("--encode-steps", type=int, default=None, metavar="N",
                       help=f"inversion steps, paid once per photo (dpm++2m: {s.dpm_encode_steps})")
    return parent


def _attribute_options(parser: argparse.ArgumentParser, info: ModelInfo | None) -> None:
    group = parser.add_argument_group(
        "edits (amount per attribute; the sliders' range, at most ±MAX_EDIT_AMOUNT)",
        None if info is None or info.attributes else "this model has no attribute classifier")
    if info is None:
        return
    for name in info.attributes:
        text, note = label(name)
        low, high = info.ranges.get(name, DEFAULT_RANGE)
        group.add_argument(f"--{name}", dest=f"edit:{name}", type=float, action=_Edit, metavar="AMOUNT",
                           help=f"{text}{f' ({note})' if note else ''}; slider range {low:g}..{high:g}")


def build_parser(settings: Settings, info: ModelInfo | None) -> argparse.ArgumentParser:
    """The parser, with `info`'s attributes as `edit` options (none when the model is unreadable)."""
    parser = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False,
        description="Edit faces in photos with a Diffusion Autoencoder, without a server.",
        epilog="Exit status: 0 done, 1 some photos failed (each reported as 'FILE: CODE: MESSAGE'), "
               "2 bad command line, 3 the model or the face detector cannot be loaded. See docs/cli.md.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common, sampling = _common(settings), _sampling(settings)

    edit = commands.add_parser(
        "edit", parents=[common, sampling], allow_abbrev=False, help="edit the face of each photo",
        description="Edit the face of each photo and write the whole photo (OUT/NAME.png) and the "
                    "edited aligned face (OUT/NAME.face.png).")
    edit.add_argument("inputs", nargs="+", type=Path, metavar="PHOTO_OR_FOLDER",
                      help="photos, or folders of .jpg/.jpeg/.png/.webp photos")
    edit.add_argument("--out", type=Path, required=True, metavar="DIR",
                      help="folder to write to (made if missing)")
    edit.add_argument("--face", type=int, default=0, metavar="N",
                      help="which face of each photo, 0 = the largest (default 0)")
    edit.add_argument("--replace-face", action="store_true",
                      help="replace the face by the render instead of adding only what the edit changed")
    edit.add_argument("--keep", nargs="+", default=[], metavar="ATTRIBUTE",
                      help="attributes to hold fixed: each edit moves along the part of its direction "
                           "orthogonal to theirs (e.g. --Smiling 0.3 --keep Young Male)")
    edit.add_argument("--region", choices=list(REGIONS), default=None,
                      help="limit the edit to one region of the face; elsewhere the face keeps its own "
                           "render")
    _attribute_options(edit, info)

    morph = commands.add_parser(
        "interpolate", parents=[common, sampling], allow_abbrev=False,
        help="morph the face of one photo into another's (GIF or MP4)",
        description="Decode the path between the faces of two photos (the largest face of each).")
    morph.add_argument("a", type=Path, metavar="A", help="first photo")
    morph.add_argument("b", type=Path, metavar="B", help="second photo")
    morph.add_argument("--out", type=Path, required=True, metavar="FILE",
                       help="FILE.gif, or FILE.mp4 (needs ffmpeg on PATH)")
    morph.add_argument("--frames", type=int, default=settings.default_frames, metavar="N",
                       help=f"frames from A to B (default {settings.default_frames}, at most MAX_FRAMES "
                            f"= {settings.max_frames})")
    morph.add_argument("--fps", type=float, default=8.0, help="frames per second (default 8)")
    morph.add_argument("--size", type=int, default=None, metavar="PX",
                       help="frame side in pixels (default: the model's)")
    morph.add_argument("--bounce", action=argparse.BooleanOptionalAction, default=True,
                       help="play A → B → A, as the studio's GIF (default); --no-bounce: A → B")

    attributes = commands.add_parser(
        "attributes", parents=[common], allow_abbrev=False,
        help="list the model's attributes, or score a photo's face on each",
        description="Without a photo: the attributes `edit` takes. With one: the classifier's score "
                    "of its face on each, highest first (logit > 0: the face has it).")
    attributes.add_argument("photo", type=Path, nargs="?", default=None, help="a photo to score")
    attributes.add_argument("--face", type=int, default=0, metavar="N", help="which face, 0 = the largest")
    attributes.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def parse(argv: Sequence[str], settings: Settings) -> Command:
    """The command `argv` (without the program name) asks for.

    Raises:
        SystemExit: --help (0), or a usage error argparse reports (2).
        UnknownAttributeError: an `edit` option that is no attribute of the model.
        ModelUnavailableError: the model directory is not readable (after --help, which works
            without one).
    """
    argv = list(argv)
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--model", type=Path, default=settings.model_dir)
    model = pre.parse_known_args(argv)[0].model
    info: ModelInfo | None = None
    unreadable: ModelUnavailableError | None = None
    try:
        info = model_info(model)
    except ModelUnavailableError as exc:
        unreadable = exc
    parser = build_parser(settings, info)
    ns, extras = parser.parse_known_args(argv)
    if unreadable is not None:
        raise unreadable
    assert info is not None
    if extras:
        options = [e.split("=", 1)[0].removeprefix("--") for e in extras if e.startswith("--")]
        if ns.command == "edit" and options:
            unknown_attributes(options, info.attributes)
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    options_ = Options(model=ns.model, device=ns.device, threads=ns.threads, engine=ns.engine, quiet=ns.quiet)
    if ns.command == "attributes":
        return AttributesCommand(photo=ns.photo, face=ns.face, json=ns.json, options=options_)
    sampling = SamplingOptions(solver=ns.solver, grid=ns.grid, steps=ns.steps, encode_steps=ns.encode_steps)
    if ns.command == "edit":
        unknown_attributes(ns.keep, info.attributes)
        return EditCommand(inputs=ns.inputs, out=ns.out, edits=dict(getattr(ns, "edits", None) or {}),
                           face=ns.face, replace_face=ns.replace_face, sampling=sampling, options=options_,
                           keep=list(ns.keep), region=ns.region)
    return InterpolateCommand(a=ns.a, b=ns.b, out=ns.out, frames=ns.frames, fps=ns.fps, size=ns.size,
                              bounce=ns.bounce, sampling=sampling, options=options_)
