"""The evaluation on generated faces (`python -m models.evaluation`): the official SSIM against
scikit-image, the report on a tiny random model, and the shipped demo64 model loading and
decoding."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage.metrics import structural_similarity

from models.classifier import AttributeClassifier
from models.evaluation.cli import main
from models.evaluation.diagnostics import semantic_reliance
from models.evaluation.evaluate import evaluate, held_out_faces, unet_evaluations
from models.evaluation.metrics import gaussian_window, mse, ssim, ssim_map, to_unit
from models.evaluation.report import render_markdown, write_report
from models.facegen import drawn as facegen
from models.images import batch_to_tensor
from models.latent_net import LatentMLP
from models.pipeline import DiffAEPipeline
from models.unet import DiffAEUNet
from tests.models.nets import TINY_CONFIG, TINY_SIZE, TINY_Z, perturbed

REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "models" / "weights" / "demo64"
SIZE, Z, CONFIG = TINY_SIZE, TINY_Z, TINY_CONFIG
N, EDIT_N, STEPS, EDIT_STEPS = 6, 4, (2, 5), 2
STRIP = (-0.5, 0.0, 0.5)


def _smooth_images(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    """Random images in [0, 1] with spatial structure (low-pass noise), so SSIM is not trivial."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(shape, generator=g)
    return F.avg_pool2d(noise, 5, stride=1, padding=2, count_include_pad=False)


def _skimage_ssim(x: torch.Tensor, y: torch.Tensor) -> float:
    """skimage with the official settings; it averages the map over the interior only (it drops a
    5-pixel border where its reflect padding differs from the official zero padding)."""
    return float(structural_similarity(
        x.permute(1, 2, 0).double().numpy(), y.permute(1, 2, 0).double().numpy(),
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0,
        channel_axis=-1))


# ---------------------------------------------------------------------------------- SSIM / MSE
def test_gaussian_window_matches_official() -> None:
    w = gaussian_window()
    assert w.shape == (11, 11)
    assert w.sum().item() == pytest.approx(1.0, abs=1e-6)
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    g /= g.sum()
    np.testing.assert_allclose(w.numpy(), np.outer(g, g), rtol=1e-5, atol=1e-8)


def test_ssim_of_identical_images_is_one() -> None:
    x = _smooth_images(0, (3, 3, 24, 24))
    np.testing.assert_allclose(ssim(x, x).numpy(), 1.0, atol=1e-5)
    assert mse(x, x).abs().max().item() == 0.0


def test_ssim_interior_equals_skimage() -> None:
    """Away from the border both compute the same windows: the interior mean must agree exactly."""
    x = _smooth_images(1, (2, 3, 32, 32))
    y = (x + 0.15 * _smooth_images(2, (2, 3, 32, 32)) - 0.05).clamp(0, 1)
    interior = ssim_map(x.double(), y.double())[..., 5:-5, 5:-5].mean(dim=(1, 2, 3))
    for i in range(2):
        assert interior[i].item() == pytest.approx(_skimage_ssim(x[i], y[i]), abs=1e-6)


def test_ssim_whole_image_close_to_skimage() -> None:
    x = _smooth_images(3, (4, 3, 48, 48))
    y = (0.7 * x + 0.3 * _smooth_images(4, (4, 3, 48, 48))).clamp(0, 1)
    ours = ssim(x, y)
    ref = torch.tensor([_skimage_ssim(x[i], y[i]) for i in range(4)])
    assert ref.min().item() > 0.2 and ref.max().item() < 0.99  # a non-trivial comparison
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), atol=0.03)
    # Ordering is kept: a worse image gets a lower SSIM.
    worse = (0.4 * x + 0.6 * _smooth_images(4, (4, 3, 48, 48))).clamp(0, 1)
    assert (ssim(x, worse) < ours).all()


def test_mse_is_per_image_mean() -> None:
    x = torch.zeros(2, 3, 4, 4)
    y = x.clone()
    y[1, 0, 0, 0] = 1.0
    assert mse(x, y).tolist() == [0.0, pytest.approx(1 / 48)]


def test_ssim_refuses_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(1, 3, 8, 8\)"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))


# ---------------------------------------------------------------------------------- report
@pytest.fixture(scope="module")
def tiny_pipe() -> DiffAEPipeline:
    torch.manual_seed(0)
    unet = perturbed(DiffAEUNet(CONFIG.autoencoder), 1)
    assert CONFIG.latent_net is not None
    latent = perturbed(LatentMLP(CONFIG.latent_net), 2)
    g = torch.Generator().manual_seed(3)
    k = len(facegen.ATTRIBUTES)
    classifier = AttributeClassifier(facegen.ATTRIBUTES, Z)
    with torch.no_grad():
        classifier.weight.copy_(torch.randn(k, Z, generator=g))
        classifier.conds_std.copy_(0.05 + 0.1 * torch.rand(Z, generator=g))
    stats = (torch.zeros(Z), torch.full((Z,), 0.1))
    return DiffAEPipeline(CONFIG, unet, classifier=classifier, latent_net=latent, latent_stats=stats,
                          device="cpu", dtype=torch.float32)


@pytest.fixture(scope="module")
def report(tiny_pipe: DiffAEPipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ev = evaluate(tiny_pipe, N, STEPS, (0.3, 0.5), EDIT_STEPS, seed=0, batch=64, edit_n=EDIT_N,
                  strip_faces=1, strip_amounts=STRIP, samples=4, latent_steps=5, verbose=False)
    out = tmp_path_factory.mktemp("evaluation")
    write_report(ev, out)
    return out


def test_report_files(report: Path) -> None:
    names = {p.name for p in report.iterdir()}
    assert names == {"metrics.json", "README.md", "reconstruction.png", "samples.png", "edits_0.png"}
    md = (report / "README.md").read_text()
    for text in ("| T | SSIM inverted", "| 2 |", "| 5 |", "### a = ±0.3", "| Smiling |",
                 "![edits_0.png](edits_0.png)", "![samples.png](samples.png)"):
        assert text in md
    with Image.open(report / "edits_0.png") as strip:
        # One row per attribute, the original plus one column per amount; 16 px shown at 128 px.
        assert strip.width > (1 + len(STRIP)) * 128
        assert strip.height >= len(facegen.ATTRIBUTES) * 128
    with Image.open(report / "reconstruction.png") as recon:
        assert recon.height >= (1 + 2 * len(STEPS)) * 128


def test_metrics_schema(report: Path) -> None:
    m = json.loads((report / "metrics.json").read_text())
    assert set(m) == {"model", "data", "settings", "cost", "reconstruction", "semantic_reliance",
                      "attributes", "summary"}
    assert [r["t"] for r in m["semantic_reliance"]] == [100, 300, 500, 700, 900]
    for r in m["semantic_reliance"]:
        assert r["mse_own"] > 0 and r["mse_swapped"] > 0
        assert r["gain"] == pytest.approx(1 - r["mse_own"] / r["mse_swapped"])
    assert m["model"]["preset"] == "tiny" and m["model"]["image_size"] == SIZE
    assert m["data"]["n"] == N and m["data"]["seeds"][0] == facegen.TEST_SEEDS.start
    assert [r["steps"] for r in m["reconstruction"]] == list(STEPS)
    for row in m["reconstruction"]:
        for mode in ("inverted", "random", "fine_inverted"):
            assert -1.0 <= row[mode]["ssim"] <= 1.0
            assert row[mode]["mse"] >= 0.0
            assert math.isfinite(row[mode]["psnr"])
    assert list(m["attributes"]) == list(facegen.ATTRIBUTES)
    for entry in m["attributes"].values():
        assert entry["auroc"] is None or 0.0 <= entry["auroc"] <= 1.0
        assert 0.0 <= entry["positive_rate"] <= 1.0
        assert [e["amount"] for e in entry["edits"]] == [0.3, 0.5]
        for e in entry["edits"]:
            for key in ("success", "push_success", "pull_success"):
                assert 0.0 <= e[key] <= 1.0
            assert e["success"] <= min(e["push_success"], e["pull_success"])
            assert e["target_change"] >= 0.0 and e["leakage"] >= 0.0
            assert e["leakage_ratio"] is None or e["leakage_ratio"] >= 0.0
            assert e["latent_target_change"] > 0.0
    # The latent edit grows linearly with the amount.
    young = m["attributes"]["Young"]["edits"]
    assert young[1]["latent_target_change"] == pytest.approx(young[0]["latent_target_change"] * 5 / 3)
    cost = m["cost"]["unet_evaluations"]
    assert cost == unet_evaluations(N, STEPS, EDIT_STEPS, len(facegen.ATTRIBUTES), 2, EDIT_N, 1,
                                    len(STRIP), 4)
    assert m["reconstruction"][-1]["fine_inverted"] == m["reconstruction"][-1]["inverted"]
    assert m["settings"]["fine_inversion_steps"] == max(STEPS)
    assert cost["total"] == 3 * N * 7 + N * 2 + 2 * 13 * 2 * EDIT_N * 2 + 13 * 3 * 2 + 4 * 2 + 2 * N * 5
    assert m["cost"]["unet_evaluations_run"] == cost["total"]
    assert m["cost"]["unet_gflop"] > 0


def test_reconstruction_modes_match_direct_computation(tiny_pipe: DiffAEPipeline) -> None:
    """"inverted" = decode(encode(x, T), T); "random" = decode(z_sem, N(0, I) from the seed, T);
    "fine_inverted" = decode(z_sem, x_T of the largest T's inversion, T)."""
    pipe = DiffAEPipeline(CONFIG, tiny_pipe.autoencoder, device="cpu", dtype=torch.float32)  # no edits
    ev = evaluate(pipe, 3, (2, 5), (0.3,), 5, seed=7, batch=2, verbose=False)
    x_0, _ = held_out_faces(3, SIZE)
    z, x_T = tiny_pipe.encode(x_0, 2)
    x_T_fine = tiny_pipe.encode(x_0, 5)[1]
    x_rand = torch.randn(x_0.shape, generator=torch.Generator().manual_seed(7))
    row = ev.metrics["reconstruction"][0]
    assert row["steps"] == 2
    for mode, x_hat in (("inverted", tiny_pipe.decode(z, x_T, 2)),
                        ("random", tiny_pipe.decode(z, x_rand, 2)),
                        ("fine_inverted", tiny_pipe.decode(z, x_T_fine, 2))):
        a, b = to_unit(x_hat), to_unit(x_0)
        assert row[mode]["ssim"] == pytest.approx(ssim(a, b).mean().item(), abs=1e-5)
        assert row[mode]["mse"] == pytest.approx(mse(a, b).mean().item(), rel=1e-4)
    assert len({row[mode]["ssim"] for mode in ("inverted", "random", "fine_inverted")}) == 3


def test_model_without_classifier_or_latent_dpm() -> None:
    torch.manual_seed(0)
    pipe = DiffAEPipeline(CONFIG, DiffAEUNet(CONFIG.autoencoder), device="cpu", dtype=torch.float32)
    ev = evaluate(pipe, 2, (2,), (0.3,), 3, batch=64, verbose=False)
    assert ev.metrics["attributes"] == {} and ev.metrics["summary"]["auroc_mean"] is None
    assert ev.metrics["summary"]["edits"] == []
    assert set(ev.figures) == {"reconstruction.png"}
    # no edit baseline at T=3; the z_sem probe: 2 faces × own/swapped × 5 timesteps
    assert ev.metrics["cost"]["unet_evaluations"]["total"] == 3 * 2 * 2 + 2 * 2 * 5
    assert ev.metrics["cost"]["unet_evaluations_run"] == 3 * 2 * 2 + 2 * 2 * 5
    assert [r["t"] for r in ev.metrics["semantic_reliance"]] == [100, 300, 500, 700, 900]
    assert "## Attributes" not in render_markdown(ev.metrics, sorted(ev.figures))


def test_edit_subset_with_its_own_step_count(tiny_pipe: DiffAEPipeline) -> None:
    """T_edit outside the table: x_T for edits and strips is inverted separately, the edits run on
    the first edit_n faces only, and the run costs exactly what was announced."""
    ev = evaluate(tiny_pipe, 3, (2,), (0.3,), 3, batch=64, edit_n=1, strip_faces=2,
                  strip_amounts=(0.5,), samples=0, verbose=False)
    m = ev.metrics
    assert m["settings"]["edit_n"] == 1
    cost = m["cost"]["unet_evaluations"]
    assert cost["edit_baseline"] == (2 + 1) * 3 and cost["edits"] == 2 * 13 * 1 * 3
    assert m["cost"]["unet_evaluations_run"] == cost["total"]
    assert {e["success"] for v in m["attributes"].values() for e in v["edits"]} <= {0.0, 1.0}
    assert {"edits_0.png", "edits_1.png"} <= set(ev.figures)
    assert "Edits, on the first 1 faces" in render_markdown(m, sorted(ev.figures))


def test_illegal_step_count_is_refused_up_front(tiny_pipe: DiffAEPipeline) -> None:
    with pytest.raises(ValueError, match="37"):
        evaluate(tiny_pipe, 2, (37,), verbose=False)
    with pytest.raises(ValueError, match="amounts"):
        evaluate(tiny_pipe, 2, (2,), (-0.3,), 2, verbose=False)
    with pytest.raises(ValueError, match="edit_n=0"):
        evaluate(tiny_pipe, 2, (2,), (0.3,), 2, edit_n=0, verbose=False)


def test_cli_on_saved_model(tiny_pipe: DiffAEPipeline, tmp_path: Path) -> None:
    tiny_pipe.save_pretrained(tmp_path / "model")
    out = tmp_path / "report"
    assert main(["--model", str(tmp_path / "model"), "--out", str(out), "--n", "2", "--steps", "2",
                 "--edit-steps", "2", "--amount", "0.3", "--strip-faces", "0", "--samples", "0",
                 "--device", "cpu", "--quiet"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["model"]["path"] == str(tmp_path / "model") and m["model"]["dtype"] == "float32"
    assert (out / "README.md").exists() and (out / "reconstruction.png").exists()


# ---------------------------------------------------------------------------------- shipped model
@pytest.fixture(scope="module")
def shipped() -> DiffAEPipeline:
    if not (SHIPPED / "config.json").is_file():
        pytest.skip(f"{SHIPPED.relative_to(REPO)}/config.json not exported yet "
                    "(python -m models.training export --run runs/demo64 --out models/weights/demo64)")
    return DiffAEPipeline.from_pretrained(SHIPPED, device="cpu", dtype=torch.float32)


def test_shipped_model_decodes(shipped: DiffAEPipeline) -> None:
    assert shipped.image_size == 64
    images, _ = facegen.generate([facegen.TEST_SEEDS.start], size=64)
    x_0 = batch_to_tensor(images)
    z_sem = shipped.encode_semantic(x_0)
    x_T = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    x = shipped.decode(z_sem, x_T, 5)
    assert x.shape == (1, 3, 64, 64)
    assert torch.isfinite(x).all() and x.min() >= -1.0 and x.max() <= 1.0
    assert x.std().item() > 0.05  # an image, not a constant


def test_shipped_model_has_attribute_directions(shipped: DiffAEPipeline) -> None:
    assert shipped.attributes, "the product's sliders need classifier.safetensors + attributes.json"
    assert set(shipped.attributes) <= set(facegen.ATTRIBUTES)


def test_shipped_decoder_relies_on_z_sem(shipped: DiffAEPipeline) -> None:
    """The failure mode of the first demo64 (z_sem ignored, so no slider showed): at t = 500 the
    right z_sem must remove a large share of the one-step x_0 error (first demo64: 0.02)."""
    x_0, _ = held_out_faces(8, 64)
    rows = semantic_reliance(shipped, x_0, shipped.encode_semantic(x_0), timesteps=(500, 900))
    assert rows[0]["gain"] > 0.3, rows
    # ... and at high noise, where only z_sem knows the face: an ε-prediction demo64 (stage 2)
    # got x̂_0 wrong there by MSE 1.4 (gain 0.10); the v-prediction one by ~0.03 (gain ~0.88).
    assert rows[1]["gain"] > 0.5 and rows[1]["mse_own"] < 0.1, rows
