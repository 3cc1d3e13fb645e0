"""The fast paths stay at equal output on every shipped model: encode + decode of real faces with
the served solver, through bf16 eager (the default dtype on CPUs with bf16) and through each
engine the worker may choose (ONNX Runtime fp32, OpenVINO fp32 / bf16), within PSNR >= 40 dB of
the exact fp32 path. Random weights would amplify rounding chaotically; these are trained ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from models.engine import build_engine
from models.images import to_tensor
from models.pipeline import DiffAEPipeline, fast_dtype
from tests.conftest import SHARED

WEIGHTS = Path(__file__).resolve().parents[2] / "models" / "weights"
SHIPPED = sorted(p.name for p in WEIGHTS.iterdir() if (p / "config.json").is_file())
# The served default (backend.settings): DPM-Solver++(2M), quadratic grid, 10 inversion steps and
# 5 render steps.
SOLVER = {"solver": "dpm++2m", "grid": "quadratic"}
ENCODE_STEPS, RENDER_STEPS = 10, 5
EQUAL_DB = 40.0
PATHS = ("bf16-eager", "onnxruntime-float32", "openvino-float32", "openvino-bfloat16")


@pytest.fixture(scope="module")
def faces() -> torch.Tensor:
    """Real faces, aligned: the astronaut (always there) and the shared aligned samples (when
    ../shared is present), at 64 px."""
    import skimage.data

    from backend.faces import align_face

    images = [align_face(Image.fromarray(skimage.data.astronaut()), 256).image.convert("RGB")]
    shared = sorted((SHARED / "reference" / "data").glob("*.png"))[:2]
    images += [Image.open(p).convert("RGB") for p in shared]
    return torch.cat([to_tensor(im.resize((64, 64), Image.Resampling.LANCZOS)) for im in images])


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per image, for [-1, 1] images (peak-to-peak 2)."""
    mse = ((a - b) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-12))


def encode_decode(pipe: DiffAEPipeline, x: torch.Tensor) -> torch.Tensor:
    """Reconstruction and a +0.3 edit of the first attribute, stacked."""
    z, x_T = pipe.encode(x, ENCODE_STEPS, **SOLVER)
    edited = pipe.manipulate(z, {pipe.attributes[0]: 0.3})
    return torch.cat([pipe.decode(z, x_T, RENDER_STEPS, **SOLVER),
                      pipe.decode(edited, x_T, RENDER_STEPS, **SOLVER)])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("model", SHIPPED)
def test_fast_path_equals_fp32(model: str, path: str, faces: torch.Tensor, tmp_path_factory) -> None:
    if ("bfloat16" in path or path == "bf16-eager") and fast_dtype(torch.device("cpu")) != torch.bfloat16:
        pytest.skip("this CPU has no native bf16 (avx512_bf16 / amx_bf16): bf16 is not served here")
    exact = DiffAEPipeline.from_pretrained(WEIGHTS / model, device="cpu", dtype=torch.float32)
    if path == "bf16-eager":
        fast = DiffAEPipeline.from_pretrained(WEIGHTS / model, device="cpu", dtype=torch.bfloat16)
    else:
        name, precision = path.split("-")
        fast = DiffAEPipeline.from_pretrained(WEIGHTS / model, device="cpu", dtype=torch.float32)
        fast.use_engine(build_engine(name, fast.autoencoder, tmp_path_factory.getbasetemp() / "engines",
                                     precision=precision))
    want, got = encode_decode(exact, faces), encode_decode(fast, faces)
    db = psnr(got, want)
    assert db.min() >= EQUAL_DB, f"{model} {path}: PSNR {[round(v, 1) for v in db.tolist()]} dB"
    assert not torch.equal(got, want), "the fast path ran the exact one"
