"""Compiled inference engines for the autoencoder's two networks, cached on disk, chosen by measurement.

An engine runs the UNet step ε̂/v̂ = unet(x_t, t, z_sem) and the semantic encoder z_sem = enc(x_0)
outside eager PyTorch. The networks are exported once per model, torch version and runtime version
to ONNX files under a cache directory (`MODEL_CACHE_DIR` in the worker), with a dynamic batch axis,
and loaded from there afterwards; two maintained runtimes read them:

- `onnxruntime`: ONNX Runtime's CPU provider, fp32. Its output equals eager fp32 to ~2e-6 (relative)
  and on the served 64 px model it is ~5x faster per step than eager fp32 (docs/benchmarks.md);
- `openvino`: OpenVINO's CPU plugin at fp32 or bf16 (`INFERENCE_PRECISION_HINT`); its compiled
  blobs are cached too (OpenVINO's `CACHE_DIR`). bf16 pays at official sizes on CPUs with AMX.

`choose_engine` builds the candidates, checks each one's output against the eager network on a
probe input (a wrong engine is never used), times them interleaved against eager and returns the
fastest when it beats eager, with a report. Every failure (a runtime missing, an export error, a
corrupt cache file, a wrong output) is logged and falls back to eager: an engine is an optimisation,
never a new way to fail. Only CPU devices: on CUDA the eager path (fp16 autocast) is the fast one.

The runtimes are imported only when an engine is built.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import statistics
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from models.unet import DiffAEUNet

log = logging.getLogger(__name__)

ENGINES = ("onnxruntime", "openvino")
OPSET = 17
# Per-evaluation error allowed when an engine is checked against eager fp32 (max-abs error over the
# output's max-abs value). fp32 runtimes differ by ~1e-6; bf16 by ~2-3e-2 (8 significand bits),
# which the solvers carry through 5-50 steps at PSNR >= 40 dB on trained weights (tests/models/
# test_fast_path.py). Anything above is a broken export, not rounding.
TOLERANCE = {"float32": 1e-3, "bfloat16": 0.08}


class Engine(Protocol):
    name: str  # "onnxruntime" | "openvino"
    precision: str  # "float32" | "bfloat16"

    def step(self, x_t: torch.Tensor, t: torch.Tensor, z_sem: torch.Tensor) -> torch.Tensor: ...

    def encode(self, x_0: torch.Tensor) -> torch.Tensor: ...


class _Step(nn.Module):
    def __init__(self, unet: DiffAEUNet) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, z_sem: torch.Tensor) -> torch.Tensor:
        return self.unet(x_t, t, z_sem)


class _Encode(nn.Module):
    def __init__(self, unet: DiffAEUNet) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, x_0: torch.Tensor) -> torch.Tensor:
        return self.unet.encode(x_0)


def model_key(unet: DiffAEUNet) -> str:
    """A digest of the network's config and weights: cache files are per model."""
    digest = hashlib.sha256(json.dumps(unet.cfg.__dict__, sort_keys=True, default=str).encode())
    for name, tensor in sorted(unet.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class OnnxFiles:
    """The exported networks of one model in the cache: `step.onnx` and `encode.onnx`."""

    step: Path
    encode: Path
    exported: bool  # False when both came from the cache

    @property
    def directory(self) -> Path:
        return self.step.parent


_export_lock = threading.Lock()


def export_onnx(unet: DiffAEUNet, cache_dir: Path) -> OnnxFiles:
    """The model's ONNX files under `cache_dir/<model key>-torch<version>-opset<N>/`, exported now
    (written to a temporary name, then renamed: a crash leaves no half file) unless present."""
    unet = unet.float().eval()
    size, z_dim = unet.cfg.image_size, unet.cfg.z_dim
    directory = Path(cache_dir) / f"{model_key(unet)}-torch{torch.__version__.split('+')[0]}-opset{OPSET}"
    directory.mkdir(parents=True, exist_ok=True)
    example_x = torch.zeros(2, unet.cfg.in_channels, size, size)
    jobs: Sequence[tuple[str, nn.Module, tuple[torch.Tensor, ...], list[str]]] = (
        ("step", _Step(unet), (example_x, torch.full((2,), 500, dtype=torch.long), torch.zeros(2, z_dim)),
         ["x_t", "t", "z_sem"]),
        ("encode", _Encode(unet), (example_x,), ["x_0"]),
    )
    exported = False
    with _export_lock:
        for name, module, args, inputs in jobs:
            path = directory / f"{name}.onnx"
            if path.is_file():
                continue
            tmp = directory / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
            start = time.perf_counter()
            # The tracer warns about shape-derived Python values (GroupNorm's, the attention's
            # split); the batch axis is declared dynamic and tests/models/test_engine.py checks
            # batches 1, 3 and 5 against eager.
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    module, args, str(tmp), dynamo=False, opset_version=OPSET,
                    input_names=inputs, output_names=["out"],
                    dynamic_axes={**{n: {0: "batch"} for n in inputs}, "out": {0: "batch"}},
                )
            tmp.replace(path)
            exported = True
            log.info("exported %s to %s in %.1f s", name, path, time.perf_counter() - start)
    return OnnxFiles(directory / "step.onnx", directory / "encode.onnx", exported)


def _numpy(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())


class OnnxRuntimeEngine:
    """ONNX Runtime, CPU provider, fp32."""

    name = "onnxruntime"
    precision = "float32"

    def __init__(self, files: OnnxFiles, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._step = ort.InferenceSession(str(files.step), options, providers=["CPUExecutionProvider"])
        self._encode = ort.InferenceSession(str(files.encode), options, providers=["CPUExecutionProvider"])

    def step(self, x_t: torch.Tensor, t: torch.Tensor, z_sem: torch.Tensor) -> torch.Tensor:
        feed = {"x_t": _numpy(x_t), "t": t.detach().cpu().long().numpy(), "z_sem": _numpy(z_sem)}
        return torch.from_numpy(self._step.run(None, feed)[0])

    def encode(self, x_0: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self._encode.run(None, {"x_0": _numpy(x_0)})[0])


class OpenVinoEngine:
    """OpenVINO, CPU plugin, at `precision` ("float32" or "bfloat16"); compiled blobs cached."""

    name = "openvino"

    def __init__(self, files: OnnxFiles, threads: int, precision: str) -> None:
        import openvino as ov

        self.precision = precision
        core = ov.Core()
        core.set_property({"CACHE_DIR": str(files.directory / "openvino")})
        config = {"INFERENCE_PRECISION_HINT": "bf16" if precision == "bfloat16" else "f32",
                  "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        self._step = core.compile_model(str(files.step), "CPU", config)
        self._encode = core.compile_model(str(files.encode), "CPU", config)

    @staticmethod
    def _run(compiled: Any, inputs: list[np.ndarray]) -> torch.Tensor:
        request = compiled.create_infer_request()  # one per call: requests are not thread-safe
        request.infer(inputs)
        return torch.from_numpy(request.get_output_tensor(0).data.copy())

    def step(self, x_t: torch.Tensor, t: torch.Tensor, z_sem: torch.Tensor) -> torch.Tensor:
        return self._run(self._step, [_numpy(x_t), t.detach().cpu().long().numpy(), _numpy(z_sem)])

    def encode(self, x_0: torch.Tensor) -> torch.Tensor:
        return self._run(self._encode, [_numpy(x_0)])


def build_engine(name: str, unet: DiffAEUNet, cache_dir: Path, *, precision: str = "float32",
                 threads: int | None = None) -> Engine:
    """One engine over the model's cached ONNX files (exported first when missing)."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; allowed: {', '.join(ENGINES)}")
    files = export_onnx(unet, cache_dir)
    threads = threads or torch.get_num_threads()
    if name == "onnxruntime":
        if precision != "float32":
            raise ValueError("the onnxruntime engine runs float32 only")
        return OnnxRuntimeEngine(files, threads)
    return OpenVinoEngine(files, threads, precision)


def check_engine(engine: Engine, unet: DiffAEUNet, size: int) -> float:
    """The engine's relative error against eager fp32 on a probe (batch 2, t = 50 and 700, and
    the encoder); raises ValueError above `TOLERANCE[engine.precision]`."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, unet.cfg.in_channels, size, size, generator=gen).clamp(-1, 1)
    z = torch.randn(2, unet.cfg.z_dim, generator=gen)
    t = torch.tensor([50, 700])
    with torch.inference_mode():
        want = (unet.float()(x, t, z), unet.encode(x))
    got = (engine.step(x, t, z), engine.encode(x))
    errors = [float((g - w).abs().max() / w.abs().max().clamp_min(1e-12))
              for g, w in zip(got, want, strict=True)]
    error = max(errors)
    if not np.isfinite(error) or error > TOLERANCE[engine.precision]:
        raise ValueError(f"{engine.name} ({engine.precision}) differs from eager fp32 by {error:.2e} "
                         f"(relative; allowed {TOLERANCE[engine.precision]:.0e})")
    return error


@dataclass
class Choice:
    """What `choose_engine` found: the engine to use (None: eager) and why."""

    engine: Engine | None
    seconds_per_step: dict[str, float] = field(default_factory=dict)  # median, batch 1, by candidate
    errors: dict[str, float] = field(default_factory=dict)  # relative error vs eager fp32
    failures: dict[str, str] = field(default_factory=dict)
    build_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return "eager" if self.engine is None else f"{self.engine.name}-{self.engine.precision}"

    def summary(self) -> str:
        times = ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in self.seconds_per_step.items())
        failed = "; ".join(f"{k}: {v}" for k, v in self.failures.items())
        return f"engine {self.name} (per step: {times})" + (f"; not used: {failed}" if failed else "")


def _median_seconds(fns: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(rounds):
        for k, fn in fns.items():  # interleaved: a load change hits every candidate alike
            start = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def choose_engine(
    unet: DiffAEUNet,
    eager_step: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    cache_dir: Path,
    candidates: Sequence[tuple[str, str]],
    *,
    rounds: int = 7,
    margin: float = 0.9,
) -> Choice:
    """Build each (engine, precision) candidate, check it, time it against `eager_step` (what is
    served without an engine) at batch 1 and return the fastest if it takes at most `margin` of
    eager's time. Never raises: a candidate that fails is reported in `Choice.failures`."""
    # A private fp32, contiguous copy: exporting traces the network, which must not disturb the
    # eager one serving requests meanwhile.
    unet = copy.deepcopy(unet).float().to(memory_format=torch.contiguous_format).eval()  # type: ignore[call-overload]
    size = unet.cfg.image_size
    choice = Choice(engine=None)
    built: dict[str, Engine] = {}
    for name, precision in candidates:
        label = f"{name}-{precision}"
        start = time.perf_counter()
        try:
            engine = build_engine(name, unet, cache_dir, precision=precision)
            choice.errors[label] = check_engine(engine, unet, size)
        except Exception as exc:
            choice.failures[label] = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("engine %s not usable, serving without it: %s", label, choice.failures[label])
            continue
        choice.build_seconds[label] = time.perf_counter() - start
        built[label] = engine
    if not built:
        return choice
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, unet.cfg.in_channels, size, size, generator=gen)
    z = torch.randn(1, unet.cfg.z_dim, generator=gen)
    t = torch.tensor([500])

    def call(fn: Callable[..., torch.Tensor]) -> Callable[[], torch.Tensor]:
        def run() -> torch.Tensor:
            with torch.inference_mode():
                return fn(x, t, z)
        return run

    fns = {"eager": call(eager_step), **{k: call(e.step) for k, e in built.items()}}
    choice.seconds_per_step = _median_seconds(fns, rounds)
    best = min(built, key=lambda k: choice.seconds_per_step[k])
    if choice.seconds_per_step[best] <= margin * choice.seconds_per_step["eager"]:
        choice.engine = built[best]
    return choice
