"""Running a model over many images: in batches, with every UNet evaluation counted and the
progress printed with an ETA. Shared by the evaluations on generated faces and on photos.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from models.layers import AttentionBlock
from models.pipeline import DiffAEPipeline


class Meter:
    """Counts UNet evaluations and prints progress with an ETA at most every few seconds."""

    def __init__(self, total: int, verbose: bool, every_s: float = 10.0) -> None:
        self.total, self.verbose, self.every_s = total, verbose, every_s
        self.done = 0
        self.t0 = self.last = time.perf_counter()

    def add(self, k: int, label: str = "") -> None:
        self.done += k
        now = time.perf_counter()
        if self.verbose and (now - self.last >= self.every_s or self.done >= self.total):
            self.last = now
            rate = self.done / max(now - self.t0, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else math.inf
            print(f"  {self.done}/{self.total} UNet evaluations ({100 * self.done / self.total:.0f}%), "
                  f"{now - self.t0:.0f} s, {rate:.1f}/s, ETA {eta:.0f} s {label}", flush=True)

    def progress(self, batch: int, label: str) -> Callable[[int, int], None]:
        return lambda _done, _total: self.add(batch, label)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.t0


def chunks(n: int, batch: int) -> list[slice]:
    return [slice(i, min(i + batch, n)) for i in range(0, n, batch)]


@dataclass
class Batched:
    """`pipe`'s operations over many images, `batch` at a time, results on the CPU, counted
    by `meter`."""

    pipe: DiffAEPipeline
    batch: int
    meter: Meter

    def encode_semantic(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.pipe.encode_semantic(x[s]).cpu() for s in chunks(len(x), self.batch)])

    def invert(self, x: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_sem, x_T) of images x, x_T inverted with `steps` steps."""
        zs, xts = [], []
        for s in chunks(len(x), self.batch):
            z, x_T = self.pipe.encode(x[s], steps, self.meter.progress(len(x[s]), f"(invert, T={steps})"))
            zs.append(z.cpu())
            xts.append(x_T.cpu())
        return torch.cat(zs), torch.cat(xts)

    def decode(self, z: torch.Tensor, x_T: torch.Tensor, steps: int, label: str) -> torch.Tensor:
        return torch.cat([
            self.pipe.decode(z[s], x_T[s], steps, self.meter.progress(len(z[s]), label)).cpu()
            for s in chunks(len(z), self.batch)
        ])

    def reencoded_scores(self, z: torch.Tensor, x_T: torch.Tensor, steps: int) -> torch.Tensor:
        """Classifier logits (N, K) of Enc(decode(z, x_T)), chunk by chunk (images are not kept)."""
        out = []
        for s in chunks(len(z), self.batch):
            x = self.pipe.decode(z[s], x_T[s], steps, self.meter.progress(len(z[s]), f"(edits, T={steps})"))
            out.append(self.pipe.attribute_scores(self.pipe.encode_semantic(x)).cpu())
        return torch.cat(out)


def unet_gflops(pipe: DiffAEPipeline) -> float:
    """GFLOP (2 × multiply-adds of convs, linears and attention products) of one UNet evaluation
    of one image; counted with forward hooks (torch's FlopCounterMode would import dynamo, ~4 s)."""
    flops = 0

    def conv_or_linear(m: nn.Module, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal flops
        if isinstance(m, nn.Linear):
            flops += 2 * out.numel() * m.in_features
        elif isinstance(m, nn.Conv1d | nn.Conv2d):
            flops += 2 * out.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size)

    def attention(_m: nn.Module, inp: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        nonlocal flops
        b, c, h, w = inp[0].shape
        flops += 4 * b * c * (h * w) ** 2  # q·kᵀ and softmax·v

    encoder = {id(m) for m in pipe.autoencoder.encoder.modules()}
    hooks = [m.register_forward_hook(attention if isinstance(m, AttentionBlock) else conv_or_linear)
             for m in pipe.autoencoder.modules()
             if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d | AttentionBlock) and id(m) not in encoder]
    s = pipe.image_size
    try:
        with torch.inference_mode():
            pipe.autoencoder(torch.zeros(1, 3, s, s, device=pipe.device),
                             torch.zeros(1, dtype=torch.long, device=pipe.device),
                             torch.zeros(1, pipe.z_dim, device=pipe.device))
    finally:
        for h in hooks:
            h.remove()
    return flops / 1e9
