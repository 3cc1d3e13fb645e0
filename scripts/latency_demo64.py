"""Latency of the shipped demo64 model on this machine: encode (inversion T=20, and the model's
own inversion steps `encode_steps`), a slider edit (manipulate + decode, T=20), exact fp32 vs bf16
autocast, and their output difference.

    .venv/bin/python -m scripts.latency_demo64
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import torch

from models import DiffAEPipeline
from models.facegen import drawn as facegen
from models.images import batch_to_tensor

MODEL = "models/weights/demo64"


def best_of(n: int, fn: Callable[[], object]) -> tuple[float, object]:
    times, out = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    x_0 = batch_to_tensor(facegen.generate([facegen.TEST_SEEDS[0]], size=64)[0])
    reference = None
    for dtype in (torch.float32, torch.bfloat16):
        pipe = DiffAEPipeline.from_pretrained(MODEL, device="cpu", dtype=dtype)
        t_enc, t_edit, edited = measure(pipe, x_0)
        print(f"{dtype}: encode T=20 {t_enc:.3f} s, slider edit T=20 {t_edit:.3f} s")
        t_inv = pipe.config.diffusion.encode_steps
        if t_inv is not None:
            t_own, _ = best_of(3, functools.partial(pipe.encode, x_0, t_inv))
            print(f"{dtype}: encode with the model's encode_steps T={t_inv} {t_own:.3f} s "
                  f"({t_own / t_enc:.2f}x T=20)")
        if reference is None:
            reference = edited
        else:
            diff = (edited - reference).abs()
            print(f"bf16 - fp32 on the edit: max-abs {diff.max():.4f}, mean-abs {diff.mean():.4f}")


def measure(pipe: DiffAEPipeline, x_0: torch.Tensor) -> tuple[float, float, torch.Tensor]:
    z_sem, x_T = pipe.encode(x_0, steps=20)  # warm-up
    pipe.decode(z_sem, x_T, steps=20)
    t_enc, _ = best_of(3, lambda: pipe.encode(x_0, steps=20))
    t_edit, edited = best_of(
        3, lambda: pipe.decode(pipe.manipulate(z_sem, {"Smiling": 0.3}), x_T, steps=20)
    )
    assert isinstance(edited, torch.Tensor)
    return t_enc, t_edit, edited


if __name__ == "__main__":
    main()
