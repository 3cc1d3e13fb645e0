"""What only a GPU can show (run by scripts/gpu_check.sh; skipped without CUDA): the pipeline on
CUDA computes what it computes on the CPU, fp16/bf16 autocast stay close to fp32, engines refuse
CUDA pipelines."""

from __future__ import annotations

import pytest
import torch

from models.pipeline import DiffAEPipeline, default_dtype
from models.unet import DiffAEUNet
from tests.models.nets import TINY_CONFIG, TINY_SIZE, perturbed

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def pipelines(dtype: torch.dtype) -> tuple[DiffAEPipeline, DiffAEPipeline]:
    torch.manual_seed(0)
    unet = perturbed(DiffAEUNet(TINY_CONFIG.autoencoder), 0).eval()
    return (DiffAEPipeline(TINY_CONFIG, unet, device="cpu", dtype=torch.float32),
            DiffAEPipeline(TINY_CONFIG, unet, device="cuda", dtype=dtype))


def test_cuda_fp32_matches_the_cpu() -> None:
    cpu, gpu = pipelines(torch.float32)
    x = torch.rand(2, 3, TINY_SIZE, TINY_SIZE) * 2 - 1
    z, x_T = cpu.encode(x, 5)
    z_g, x_T_g = gpu.encode(x.cuda(), 5)
    torch.testing.assert_close(z_g.cpu(), z, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(gpu.decode(z_g, x_T_g, 5).cpu(), cpu.decode(z, x_T, 5), atol=1e-3, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cuda_autocast_stays_close_to_fp32(dtype: torch.dtype) -> None:
    cpu, gpu = pipelines(dtype)
    x = torch.rand(2, 3, TINY_SIZE, TINY_SIZE) * 2 - 1
    z, x_T = cpu.encode(x, 5)
    fast = gpu.decode(z.cuda(), x_T.cuda(), 5, solver="dpm++2m", grid="quadratic").cpu()
    exact = cpu.decode(z, x_T, 5, solver="dpm++2m", grid="quadratic")
    assert torch.isfinite(fast).all()
    assert (fast - exact).abs().mean() < 0.05


def test_cuda_defaults_and_engines() -> None:
    assert default_dtype(torch.device("cuda")) == torch.float16
    _, gpu = pipelines(torch.float16)
    with pytest.raises(ValueError, match="engines run on the CPU"):
        gpu.use_engine(object())  # type: ignore[arg-type]
