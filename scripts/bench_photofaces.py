"""Throughput of the photoreal face generator, side by side in one process: the exported graph in
f32 (what random-face ran), the inverse DWTs rewritten (f32, the same function), and rewritten in
bf16 (the default), each with 1 and 2 OpenVINO streams; plus the drift of bf16 at 64 px.

    .venv/bin/python -m scripts.bench_photofaces [--faces 6] [--rounds 2]

Rounds are interleaved (every variant once per round) and the median s/face is reported with the
ratios against the exported f32 graph, the CPU model and the load average.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from models.facegen import photo
from models.images import to_uint8


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _compiled(precision: str, rewrite: bool, streams: int) -> tuple[Any, Any]:
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(photo.generator_dir() / "SynthesisNetwork.xml"))
    if rewrite:
        photo.rewrite_idwt(model)
    return ov, core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": precision,
                                                "NUM_STREAMS": str(streams), "INFERENCE_NUM_THREADS": "2"})


def _run(ov: Any, compiled: Any, styles: np.ndarray, streams: int) -> tuple[float, list[np.ndarray]]:
    queue = ov.AsyncInferQueue(compiled, streams)
    out: dict[int, np.ndarray] = {}
    queue.set_callback(lambda r, i: out.__setitem__(i, r.get_output_tensor(0).data[0].copy()))
    t0 = time.perf_counter()
    for i in range(len(styles)):
        queue.start_async({"style": styles[i:i + 1]}, i)
    queue.wait_all()
    return (time.perf_counter() - t0) / len(styles), [out[i] for i in range(len(styles))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    gen = photo.PhotoFaceGenerator(precision="f32", streams=1)
    styles = gen.styles(list(range(args.faces)))
    variants = {f"{name}, {s} stream{'s' if s > 1 else ''}": (prec, rw, s)
                for name, prec, rw in (("exported f32", "f32", False), ("rewritten f32", "f32", True),
                                       ("rewritten bf16", "bf16", True)) for s in (1, 2)}
    compiled = {k: _compiled(*v) for k, v in variants.items()}
    times: dict[str, list[float]] = {k: [] for k in variants}
    images: dict[str, list[np.ndarray]] = {}
    for _ in range(args.rounds):
        for k, (ov, c) in compiled.items():
            t, imgs = _run(ov, c, styles, variants[k][2])
            times[k].append(t)
            images[k] = imgs
    print(f"CPU: {_cpu()}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"{args.faces} faces x {args.rounds} interleaved rounds")
    base = statistics.median(times["exported f32, 1 stream"])
    for k, ts in times.items():
        t = statistics.median(ts)
        print(f"  {k:26s} {t:.3f} s/face  {1 / t:5.2f} faces/s  {base / t:4.2f}x")
    ref = images["exported f32, 1 stream"]
    for k in ("rewritten f32, 1 stream", "rewritten bf16, 1 stream"):
        diff = max(float(np.abs(a - b).max()) for a, b in zip(ref, images[k], strict=True))
        small = [(photo.resize_lanczos(to_uint8(a), 64).astype(float),
                  photo.resize_lanczos(to_uint8(b), 64).astype(float))
                 for a, b in zip(ref, images[k], strict=True)]
        psnr = np.mean([10 * np.log10(255**2 / max(np.mean((a - b) ** 2), 1e-12)) for a, b in small])
        print(f"  {k} vs exported f32: max |diff| {diff:.2e} at 1024 px; PSNR {psnr:.1f} dB at 64 px (uint8)")


if __name__ == "__main__":
    main()
