"""The photos a batch command reads, and the names of the files it writes for each.

A folder stands for its JPEG, PNG and WebP files (by suffix, sorted, not recursive, hidden files
skipped); a file named on the command line is always tried, whatever its suffix, so that a
wrong file is reported with its code rather than silently left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from models.errors import InvalidRequestError

#: Suffixes of the photos taken from a folder (`backend.intake.ALLOWED_FORMATS`).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def find_photos(paths: Sequence[Path]) -> list[Path]:
    """The photos named by `paths`: files as given, folders as their photos (sorted by name).

    Raises:
        InvalidRequestError: a path does not exist, or nothing to process was found.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p for p in path.iterdir()
                # "._x.jpg" are macOS resource forks, not photos
                if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in PHOTO_SUFFIXES
            )
        elif path.exists():
            found.append(path)
        else:
            raise InvalidRequestError(f"no such file or folder: {path}")
    if not found:
        named = ", ".join(str(p) for p in paths)
        raise InvalidRequestError(
            f"no photos to process in {named} (a folder's {'/'.join(PHOTO_SUFFIXES)} files)")
    return found


def output_stems(photos: Sequence[Path]) -> list[str]:
    """A distinct file name stem per photo, in order: its own stem, or, where two photos share
    one (a.jpg and a.png, or two folders' a.jpg), the stem with the suffix and then a count."""
    taken: set[str] = set()
    stems = []
    shared = {p.stem for p in photos if sum(q.stem == p.stem for q in photos) > 1}
    for photo in photos:
        stem = photo.stem if photo.stem not in shared else f"{photo.stem}_{photo.suffix.lstrip('.').lower()}"
        name, n = stem, 2
        while name in taken:
            name, n = f"{stem}_{n}", n + 1
        taken.add(name)
        stems.append(name)
    return stems


def edit_outputs(photos: Sequence[Path], out_dir: Path) -> list[tuple[Path, Path]]:
    """(whole photo, aligned crop) paths per photo in `out_dir`: ``STEM.png``, ``STEM.face.png``.

    Raises:
        InvalidRequestError: an output would overwrite one of the photos (--out is their folder).
    """
    outputs = [(out_dir / f"{stem}.png", out_dir / f"{stem}.face.png") for stem in output_stems(photos)]
    inputs = {p.resolve() for p in photos}
    for pair in outputs:
        for path in pair:
            if path.resolve() in inputs:
                raise InvalidRequestError(
                    f"writing {path} would overwrite an input photo; choose another --out folder")
    return outputs
