"""One progress bar for a command: over its photos, moving within each photo as the network
evaluations of its inversion and render run. Drawn on stderr only when stderr is a terminal and
the command is not --quiet; the lines a command prints go around it (`say`), so that a bar
never garbles them.
"""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

from cli.studio import Progress


class Bar:
    """A bar of `total` units (photos, or the stages of one job), filled in fractions.

    Args:
        total: units of work; `stage` callbacks fill them.
        label: what the bar is doing ("edit", "interpolate").
        enabled: draw it (`wanted` says when).
        stream: where the bar is drawn.
    """

    def __init__(self, total: float, label: str, *, enabled: bool, stream: TextIO | None = None) -> None:
        self.total = total
        self.label = label
        # Percent, not counts: the count moves in fractions of a photo.
        self._bar = tqdm(total=total, desc=label, disable=not enabled, file=stream or sys.stderr,
                         dynamic_ncols=True,
                         bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")

    @property
    def done(self) -> float:
        return float(self._bar.n)

    def describe(self, what: str) -> None:
        """Say what is being worked on now (e.g. "3/40 beach.jpg")."""
        self._bar.set_description_str(f"{self.label} {what}")

    def stage(self, start: float, width: float) -> Progress:
        """The `progress(done, total)` callback of one step of work that fills the units from
        `start` to `start + width` as `done` goes to `total`."""

        def progress(done: int, total: int) -> None:
            self.move_to(start + width * min(done / max(total, 1), 1.0))

        return progress

    def move_to(self, position: float) -> None:
        """Fill the bar up to `position` units (never backwards)."""
        position = min(position, self.total)
        if position > self._bar.n:
            self._bar.update(position - self._bar.n)

    def say(self, line: str, stream: TextIO | None = None) -> None:
        """Print a line (to stdout by default) without breaking the bar."""
        tqdm.write(line, file=stream or sys.stdout)

    def close(self) -> None:
        self._bar.close()


def wanted(quiet: bool, stream: TextIO | None = None) -> bool:
    """Draw a bar: not --quiet, and the stream (stderr) is a terminal, not a file or a pipe."""
    stream = stream or sys.stderr
    return not quiet and hasattr(stream, "isatty") and stream.isatty()
