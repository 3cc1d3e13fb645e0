"""Running ``python -m cli`` as a user would: a subprocess from the repository root, stdout and
stderr apart, the exit status; and the fast settings the tests run it with."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "models" / "weights" / "demo64"
#: The small bundled model, few steps, one thread: a whole photo in about a second.
FAST = ("--model", str(DEMO), "--steps", "2", "--encode-steps", "2", "--threads", "1")


def run_cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m cli *args``; MODEL_DIR is dropped from the environment (a caller's would change
    a test's default model), `env` added."""
    environment = {k: v for k, v in os.environ.items() if k != "MODEL_DIR"} | (env or {})
    return subprocess.run([sys.executable, "-m", "cli", *map(str, args)], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=300)
