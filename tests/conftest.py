"""Shared fixtures: where the reference material lives, and a skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIFFAE_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """`../shared/reference` (third-party material, never committed); skip when absent."""
    ref = SHARED / "reference"
    if not ref.is_dir():
        pytest.skip(f"reference material not found at {ref} (set DIFFAE_SHARED to ../shared)")
    return ref
