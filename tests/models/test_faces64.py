"""The shipped photoreal model `faces64`: it loads strictly, decodes, lists its attributes and
reconstructs a real photo (the astronaut, aligned by the project's aligner) above a measured floor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from models.checkpoint import load_tensors
from models.evaluation.metrics import ssim, to_unit
from models.facegen.labels import ATTRIBUTES
from models.images import to_tensor
from models.pipeline import DiffAEPipeline

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "weights" / "faces64"
# Measured on the shipped weights (fp32, 50-step inversion, 20-step render, 64 px): SSIM 0.964
# with the inverted x_T; z_sem alone (random x_T, seed 0) 0.487, where demo64 gets 0.959 and
# 0.304 (and the first faces64, 1,588 steps, 0.965 and 0.399). The floors leave room for float
# differences between CPUs, not for a worse model.
SERVED_FLOOR = 0.94
RANDOM_FLOOR = 0.45


@pytest.fixture(scope="module")
def pipe() -> DiffAEPipeline:
    return DiffAEPipeline.from_pretrained(SHIPPED, device="cpu", dtype=torch.float32)


def test_loads_strictly_and_lists_its_attributes(pipe: DiffAEPipeline) -> None:
    config = json.loads((SHIPPED / "config.json").read_text())
    assert config["preset"] == "faces64" and pipe.image_size == 64
    assert list(pipe.attributes) == list(ATTRIBUTES)
    assert pipe.can_sample
    # Strict: every tensor in the file is a parameter or buffer of the network, and back.
    names = set(load_tensors(SHIPPED / "autoencoder.safetensors"))
    assert names == set(pipe.autoencoder.state_dict())
    total = sum(p.stat().st_size for p in SHIPPED.glob("*.safetensors"))
    assert total < 40 * 2**20


def test_decodes_a_face_from_the_latent_dpm(pipe: DiffAEPipeline) -> None:
    x = pipe.sample(2, 10, 20, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2, 3, 64, 64) and torch.isfinite(x).all()
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0.2  # an image, not a flat field


def test_reconstructs_the_astronaut(pipe: DiffAEPipeline) -> None:
    import skimage.data

    from backend.faces import align_face

    aligned = align_face(Image.fromarray(skimage.data.astronaut()), 64).image.convert("RGB")
    x = to_tensor(aligned)
    z, x_T = pipe.encode(x, 50)
    served = ssim(to_unit(pipe.decode(z, x_T, 20)), to_unit(x)).item()
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    alone = ssim(to_unit(pipe.decode(z, noise, 20)), to_unit(x)).item()
    assert served > SERVED_FLOOR
    assert alone > RANDOM_FLOOR
