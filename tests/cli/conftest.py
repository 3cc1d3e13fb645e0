"""Fixtures for the command line's tests: real photos on disk (the astronaut, her mirror image),
a photo without a face and a file that is no image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder as a user has one: astronaut.jpg (512×512, one face), grey.png (no face),
    notes.jpg (text named like a photo) and readme.txt (not a photo's name: left alone)."""
    folder = tmp_path_factory.mktemp("photos")
    Image.fromarray(skimage.data.astronaut()).save(folder / "astronaut.jpg", quality=95)
    Image.new("RGB", (300, 200), (128, 128, 128)).save(folder / "grey.png")
    (folder / "notes.jpg").write_text("shopping list: milk, eggs\n")
    (folder / "readme.txt").write_text("not a photo\n")
    return folder


@pytest.fixture(scope="session")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The astronaut flipped left-right: a second face, far from the first in z_sem."""
    path = tmp_path_factory.mktemp("mirror") / "mirror.png"
    Image.fromarray(np.ascontiguousarray(skimage.data.astronaut()[:, ::-1])).save(path)
    return path
