"""Shared fixtures: where the reference material lives (a skip when it is absent), one torch thread."""

from __future__ import annotations

import os
from collections.abc import Iterator
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


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """torch on one thread for a module's tests, restored after: the two cores are shared with
    training jobs, and two threads oversubscribe them and run ~10x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
