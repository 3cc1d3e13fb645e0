"""Latency of the shipped demo64 model on this machine: encode (T=20) and a slider edit
(manipulate + decode, T=20), exact fp32 vs bf16 autocast, and their output difference.

    .venv/bin/python -m scripts.latency_demo64
"""

import time

import torch

from models import DiffAEPipeline, facegen
from models.train import to_model_range

x = to_model_range(facegen.generate([10_000_000], size=64)[0])
for dt in (torch.float32, torch.bfloat16):
    p = DiffAEPipeline.from_pretrained("models/weights/demo64", device="cpu", dtype=dt)
    z, xT = p.encode(x, steps=20); p.decode(z, xT, steps=20)
    te = []; td = []
    for _ in range(3):
        t0 = time.perf_counter(); z, xT = p.encode(x, steps=20); te.append(time.perf_counter() - t0)
        t0 = time.perf_counter(); y = p.decode(p.manipulate(z, {"Smiling": 0.3}), xT, steps=20); td.append(time.perf_counter() - t0)
    print(dt, f"encode T=20 {min(te):.3f}s  edit decode T=20 {min(td):.3f}s")
    if dt == torch.float32: ref = y
    else: print("bf16 - fp32 max/mean", (y - ref).abs().max().item(), (y - ref).abs().mean().item())
