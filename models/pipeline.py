"""`DiffAEPipeline`: encode, edit, decode, interpolate and sample with one DiffAE model.

Images are float tensors (B, 3, H, W) in [-1, 1]; z_sem is (B, D); x_T is (B, 3, H, W).
A model directory holds `config.json`, `autoencoder.safetensors`, and optionally
`latent_net.safetensors` (latent DPM + the z statistics it was trained on) and
`classifier.safetensors` + `attributes.json` (attribute directions).

Precision: `dtype=torch.float32` is the exact path (matches the official code); a lower dtype
runs the networks under autocast with channels-last memory (GroupNorm and all DDIM arithmetic
stay float32); the default is the fast one (`default_dtype`). `use_engine` moves the two networks
to a compiled engine (`models.engine`); the samplers' arithmetic stays here in fp32.

Failures a user can cause are `models.errors` errors with a code: an unknown attribute or a model
without a classifier (`UnknownAttributeError`), sampling without a latent DPM
(`SamplingUnavailableError`), an illegal step count (`InvalidStepsError`, from `models.schedule`).
The recipes (manipulation, interpolation, sampling order) are the official ones
(docs/official.md, "Manipulation, interpolation, sampling").
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from models.checkpoint import (
    CheckpointError,
    canonical_state,
    load_strict,
    load_tensors,
    save_tensors,
)
from models.classifier import AttributeClassifier
from models.config import ModelConfig
from models.ddim import ddim_sample
from models.errors import SamplingUnavailableError, UnknownAttributeError
from models.latent_net import LatentMLP
from models.schedule import Schedule, alphas_cumprod, eps_from_v
from models.solvers import invert, sample
from models.unet import DiffAEUNet

if TYPE_CHECKING:
    from models.engine import Engine

# progress(done, total): called after every network evaluation of a long operation.
Progress = Callable[[int, int], None]
# preview(done, total, x0): called after every decoding step with the x̂0 (B, 3, H, W) in [-1, 1]
# that step predicted: what the final image will roughly be (the paper's Fig. 6).
Preview = Callable[[int, int, torch.Tensor], None]


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def fast_dtype(device: torch.device) -> torch.dtype:
    """The fast path's dtype: fp16 autocast on CUDA (as the official sampler does), bf16 on CPUs
    with native bf16 matmul support, else fp32."""
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and torch.backends.mkldnn.is_available() and _cpu_has_bf16():
        return torch.bfloat16
    return torch.float32


def default_dtype(device: torch.device) -> torch.dtype:
    """The dtype `from_pretrained` uses when none is given: the fast path (`fast_dtype`). On the
    shipped models bf16 stays at PSNR >= 50 dB of the exact fp32 output through encode + decode
    (tests/models/test_fast_path.py, docs/benchmarks.md); pass dtype=torch.float32 for the exact,
    official-parity path."""
    return fast_dtype(device)


def _cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class DiffAEPipeline:
    """The model core behind every product feature: encode, edit, decode, interpolate, sample."""

    def __init__(
        self,
        config: ModelConfig,
        autoencoder: DiffAEUNet,
        *,
        classifier: AttributeClassifier | None = None,
        latent_net: LatentMLP | None = None,
        latent_stats: tuple[torch.Tensor, torch.Tensor] | None = None,
        attribute_info: Mapping[str, Any] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.config = config
        self.device = torch.device(device) if device is not None else default_device()
        self.dtype = dtype if dtype is not None else default_dtype(self.device)
        if self.fast:  # channels-last is a layout change: never impose it on a caller's network
            autoencoder = copy.deepcopy(autoencoder).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.autoencoder = autoencoder.eval().to(self.device)
        self.classifier = classifier.eval().to(self.device) if classifier is not None else None
        self.latent_net = latent_net.eval().to(self.device) if latent_net is not None else None
        if (latent_net is None) != (latent_stats is None):
            raise ValueError("a latent DPM needs its z statistics (conds_mean, conds_std) and vice versa")
        self.latent_stats = (
            tuple(s.to(self.device).float() for s in latent_stats) if latent_stats else None
        )
        self.attribute_info = dict(attribute_info or {})
        self.engine: Engine | None = None  # set by `use_engine`

    # ------------------------------------------------------------------ properties
    @property
    def fast(self) -> bool:
        return self.dtype != torch.float32

    @property
    def image_size(self) -> int:
        return self.config.autoencoder.image_size

    @property
    def z_dim(self) -> int:
        return self.config.autoencoder.z_dim

    @property
    def attributes(self) -> tuple[str, ...]:
        return self.classifier.names if self.classifier is not None else ()

    @property
    def can_sample(self) -> bool:
        return self.latent_net is not None

    # ------------------------------------------------------------------ internals
    def _autocast(self) -> AbstractContextManager[Any]:
        if not self.fast:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, torch.float32)
        return x.contiguous(memory_format=torch.channels_last) if self.fast else x

    def schedule(self, steps: int | None, grid: str = "uniform") -> Schedule:
        """The image process over `steps` timesteps (default: the config's) of `grid`
        (`models.schedule.GRIDS`; "uniform" is the official respacing)."""
        d = self.config.diffusion
        return Schedule.create(d.beta_schedule, d.default_steps if steps is None else steps,
                               d.num_timesteps, grid)

    def _eps_fn(self, z_sem: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """ε̂(x_t, t) for the samplers, whatever the network predicts (`DiffusionConfig.prediction`);
        t holds original timesteps. A v-prediction is turned into ε in fp32, outside autocast.
        With an engine (`use_engine`) the network runs there; the one in use when the call starts
        serves all of its steps."""
        v_to_eps = self._v_to_eps()
        engine = self.engine
        if engine is not None:
            z = z_sem.to(self.device, torch.float32)

            def engine_eps(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
                out = engine.step(x_t, t, z)
                return out if v_to_eps is None else v_to_eps(out, x_t, t)

            return engine_eps
        with self._autocast():
            z_scales = self.autoencoder.z_scales(z_sem.to(self.device, torch.float32))

        def eps_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            with self._autocast():
                out = self.autoencoder(x_t, t, z_scales=z_scales).float()
            return out if v_to_eps is None else v_to_eps(out, x_t, t)

        return eps_fn

    def eager_step(self, x_t: torch.Tensor, t: torch.Tensor, z_sem: torch.Tensor) -> torch.Tensor:
        """One network evaluation on the eager path (this pipeline's dtype), ignoring any engine:
        what an engine is measured against."""
        with self._autocast():
            return self.autoencoder(self._prepare(x_t), t.to(self.device),
                                    z_sem.to(self.device, torch.float32)).float()

    def use_engine(self, engine: Engine | None) -> None:
        """Run the networks on `engine` (`models.engine`) from the next call on; None: eager.
        Only for CPU pipelines (an engine returns CPU tensors)."""
        if engine is not None and self.device.type != "cpu":
            raise ValueError(f"engines run on the CPU; this pipeline is on {self.device}")
        self.engine = engine

    def _v_to_eps(self) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None:
        d = self.config.diffusion
        if d.prediction == "eps":
            return None
        alpha_bar = torch.as_tensor(alphas_cumprod(d.beta_schedule, d.num_timesteps),
                                    dtype=torch.float32, device=self.device)

        def convert(v: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return eps_from_v(v, x_t.float(), alpha_bar[t].view(-1, 1, 1, 1))

        return convert

    @staticmethod
    def _progress(
        progress: Progress | None, total: int, preview: Preview | None = None
    ) -> Callable[..., None] | None:
        if progress is None and preview is None:
            return None

        def step(i: int, _n: int, _x: torch.Tensor, x0: torch.Tensor) -> None:
            if preview is not None:
                preview(i + 1, total, x0)
            if progress is not None:
                progress(i + 1, total)

        return step

    # ------------------------------------------------------------------ public API
    @torch.inference_mode()
    def encode_semantic(self, x_0: torch.Tensor) -> torch.Tensor:
        """x_0 (B, 3, H, W) in [-1, 1] → z_sem (B, D) float32."""
        engine = self.engine
        if engine is not None:
            return engine.encode(x_0.to(self.device, torch.float32))
        with self._autocast():
            return self.autoencoder.encode(self._prepare(x_0)).float()

    @torch.inference_mode()
    def encode(
        self,
        x_0: torch.Tensor,
        steps: int | None = None,
        progress: Progress | None = None,
        *,
        solver: str = "ddim",
        grid: str = "uniform",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode images into (z_sem (B, D), x_T (B, 3, H, W)); x_T by deterministic inversion
        with `solver` ("ddim", the official one, or "dpm++2m": `models.solvers`) over `steps`
        timesteps of `grid` (default: the config's `encode_steps`, else `default_steps`),
        conditioned on the image's own z_sem."""
        z_sem = self.encode_semantic(x_0)
        sched = self.schedule(self.config.diffusion.encode_steps if steps is None else steps, grid)
        x_T = invert(solver, self._eps_fn(z_sem), self._prepare(x_0), sched,
                     clip=self.config.diffusion.clip_denoised,
                     callback=self._progress(progress, len(sched)))
        return z_sem, x_T.contiguous()

    @torch.inference_mode()
    def decode(
        self,
        z_sem: torch.Tensor,
        x_T: torch.Tensor,
        steps: int | None = None,
        progress: Progress | None = None,
        *,
        solver: str = "ddim",
        grid: str = "uniform",
        preview: Preview | None = None,
        region: tuple[torch.Tensor, int] | None = None,
    ) -> torch.Tensor:
        """Render images (B, 3, H, W) in [-1, 1] from z_sem (B, D) and x_T (B, 3, H, W) with
        `solver` over `steps` timesteps of `grid`; `preview` gets every step's x̂0.

        region: (mask (H, W) in [0, 1], b): a region-limited edit. Every image but number b takes
        ε̂ = ε̂_b + mask · (ε̂ − ε̂_b) at every step, so where the mask is 0 it follows image b's
        own trajectory exactly (all rows start from the same x_T; each step is elementwise in
        x_t and ε̂, for DDIM and DPM-Solver++ alike) and where it is 1 its own; image b (the
        unedited render) is unchanged.
        """
        sched = self.schedule(steps, grid)
        eps_fn = self._eps_fn(z_sem)
        if region is not None:
            eps_fn = _limited(eps_fn, region[0].to(self.device, torch.float32), region[1])
        x_0 = sample(solver, eps_fn, self._prepare(x_T), sched,
                     clip=self.config.diffusion.clip_denoised,
                     callback=self._progress(progress, len(sched), preview))
        return x_0.contiguous()

    def _require_classifier(self) -> AttributeClassifier:
        if self.classifier is None:
            raise UnknownAttributeError(
                f"model {self.config.preset!r} has no attribute classifier, so it has no attributes to edit")
        return self.classifier

    @torch.inference_mode()
    def manipulate(
        self,
        z_sem: torch.Tensor,
        edits: Mapping[str, float],
        keep: Sequence[str] = (),
        custom: Mapping[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Move z_sem (B, D) along attribute directions: {name: amount}, official formula
        (normalise, add amount·√D·ŵ, denormalise); with `keep`, along each direction's part
        orthogonal to the kept attributes' (`AttributeClassifier.direction`); `custom` adds
        directions by name (unit vectors in normalised z space, e.g. `models.teach`). Decode the
        result with the x_T inverted from the original z_sem."""
        return self._require_classifier().manipulate(z_sem.to(self.device).float(), edits, keep, custom)

    def normalize_z(self, z_sem: torch.Tensor) -> torch.Tensor:
        """z_sem (B, D) in the classifier's normalised space, where directions live."""
        return self._require_classifier().normalize(z_sem.to(self.device).float())

    @torch.inference_mode()
    def attribute_scores(self, z_sem: torch.Tensor) -> torch.Tensor:
        """Classifier logits (B, K) for z_sem (B, D), in `self.attributes` order."""
        return self._require_classifier()(z_sem.to(self.device).float())

    @torch.inference_mode()
    def interpolate(
        self,
        a: tuple[torch.Tensor, torch.Tensor],
        b: tuple[torch.Tensor, torch.Tensor],
        alphas: Sequence[float],
        steps: int | None = None,
        progress: Progress | None = None,
        *,
        solver: str = "ddim",
        grid: str = "uniform",
    ) -> torch.Tensor:
        """Decode the path from a = (z_sem, x_T) to b: lerp z_sem, slerp x_T (the official recipe),
        with `solver` over `steps` timesteps of `grid`.

        a, b: z_sem (D,) or (1, D) and x_T (3, H, W) or (1, 3, H, W). Returns (N, 3, H, W).
        """
        z, x_T = interpolate_latents(a, b, alphas)
        return self.decode(z, x_T, steps, progress, solver=solver, grid=grid)

    @torch.inference_mode()
    def sample(
        self,
        n: int,
        steps: int | None = None,
        latent_steps: int | None = None,
        generator: torch.Generator | None = None,
        progress: Progress | None = None,
        *,
        solver: str = "ddim",
        grid: str = "uniform",
    ) -> torch.Tensor:
        """Unconditional samples (n, 3, H, W): latent DDIM → z_sem → image rendering with `solver`
        over `steps` timesteps of `grid` (the latent DPM always samples with DDIM on its official
        grid: its quality with another solver is not measured). Noise is drawn from `generator` on
        the CPU: x_T first, then the latent noise (the official order)."""
        z_sem, x_T = self.sample_codes(n, latent_steps, generator)
        latent = len(self._latent_schedule(latent_steps))
        total = len(self.schedule(steps, grid)) + latent
        if progress is not None:
            progress(latent, total)
        return self.decode(z_sem, x_T, steps,
                           None if progress is None else lambda i, _n: progress(latent + i, total),
                           solver=solver, grid=grid)

    @torch.inference_mode()
    def sample_codes(
        self, n: int, latent_steps: int | None = None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The codes of `n` new faces: (z_sem (n, D) from the latent DPM, x_T (n, 3, H, W) ~ N(0, I)),
        noise drawn as `sample` draws it (the same generator state gives the same faces).
        `decode(z_sem, x_T, ...)` renders them; they edit and mix like an upload's."""
        if self.latent_net is None or self.latent_stats is None:
            raise SamplingUnavailableError(
                f"model {self.config.preset!r} has no latent DPM: it cannot sample")
        s = self.image_size
        x_T = torch.randn(n, 3, s, s, generator=generator)
        noise = torch.randn(n, self.z_dim, generator=generator).to(self.device)
        ld = self.config.latent_diffusion
        net = self.latent_net
        z_n = ddim_sample(lambda x, t: net(x, t).float(), noise, self._latent_schedule(latent_steps),
                          clip=ld.clip_denoised)
        mean, std = self.latent_stats
        return z_n * std + mean, x_T.to(self.device)

    def _latent_schedule(self, latent_steps: int | None) -> Schedule:
        ld = self.config.latent_diffusion
        return Schedule.create(ld.beta_schedule, ld.default_steps if latent_steps is None else latent_steps,
                               ld.num_timesteps)

    # ------------------------------------------------------------------ persistence
    def save_pretrained(self, path: str | Path) -> None:
        """Write config.json + safetensors (+ attributes.json) that `from_pretrained` reads."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(self.config.to_dict(), indent=2) + "\n")
        save_tensors(canonical_state(self.autoencoder), out / "autoencoder.safetensors")
        if self.latent_net is not None and self.latent_stats is not None:
            tensors = canonical_state(self.latent_net, LatentMLP.ALIASES)
            tensors["conds_mean"], tensors["conds_std"] = self.latent_stats
            save_tensors(tensors, out / "latent_net.safetensors")
        if self.classifier is not None:
            save_tensors(self.classifier.state_dict(), out / "classifier.safetensors")
            info = {**self.attribute_info, "names": list(self.classifier.names)}
            (out / "attributes.json").write_text(json.dumps(info, indent=2) + "\n")

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> DiffAEPipeline:
        """Load a model directory strictly: any missing, unexpected or misshaped tensor is a
        `CheckpointError` naming it."""
        root = Path(path)
        if not (root / "config.json").is_file():
            raise CheckpointError(f"{root}: no config.json (not a model directory)")
        config = ModelConfig.from_dict(json.loads((root / "config.json").read_text()))
        autoencoder = DiffAEUNet(config.autoencoder)
        load_strict(autoencoder, load_tensors(root / "autoencoder.safetensors"),
                    f"{root}/autoencoder.safetensors")
        latent_net = latent_stats = None
        if (root / "latent_net.safetensors").exists():
            if config.latent_net is None:
                raise CheckpointError(f"{root}: latent_net.safetensors present but no latent_net config")
            tensors = load_tensors(root / "latent_net.safetensors")
            stats = tensors.pop("conds_mean", None), tensors.pop("conds_std", None)
            if stats[0] is None or stats[1] is None:
                raise CheckpointError(f"{root}/latent_net.safetensors: missing conds_mean/conds_std")
            latent_net = LatentMLP(config.latent_net)
            load_strict(latent_net, tensors, f"{root}/latent_net.safetensors", LatentMLP.ALIASES)
            latent_stats = (stats[0].reshape(-1), stats[1].reshape(-1))
        classifier = None
        info: dict[str, Any] = {}
        if (root / "classifier.safetensors").exists():
            if not (root / "attributes.json").is_file():
                raise CheckpointError(f"{root}: classifier.safetensors without attributes.json")
            info = json.loads((root / "attributes.json").read_text())
            classifier = AttributeClassifier(info["names"], config.autoencoder.z_dim)
            load_strict(classifier, load_tensors(root / "classifier.safetensors"),
                        f"{root}/classifier.safetensors")
        return cls(config, autoencoder, classifier=classifier, latent_net=latent_net,
                   latent_stats=latent_stats, attribute_info=info, device=device, dtype=dtype)


def slerp(a: torch.Tensor, b: torch.Tensor, alpha: float) -> torch.Tensor:
    """Spherical interpolation of two same-shape tensors, treated as flat vectors (θ from their
    cosine similarity); falls back to lerp when they are (nearly) parallel."""
    if alpha in (0.0, 1.0):
        return (a if alpha == 0.0 else b).clone()
    fa, fb = a.flatten().double(), b.flatten().double()
    cos = torch.dot(fa, fb) / (fa.norm() * fb.norm())
    theta = torch.arccos(cos.clamp(-1.0, 1.0))
    if theta.abs() < 1e-6:
        return torch.lerp(a, b, alpha)
    s = torch.sin(theta)
    out = (torch.sin((1 - alpha) * theta) * fa + torch.sin(alpha * theta) * fb) / s
    return out.reshape(a.shape).to(a.dtype)


def _limited(
    eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], mask: torch.Tensor, base: int
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """`eps_fn` with every row's ε̂ outside `mask` (H, W) taken from row `base` (`decode`)."""

    def limited(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        eps = eps_fn(x_t, t)
        own = eps[base : base + 1]
        return own + mask.to(eps.device) * (eps - own)

    return limited


def interpolate_latents(
    a: tuple[torch.Tensor, torch.Tensor],
    b: tuple[torch.Tensor, torch.Tensor],
    alphas: Sequence[float],
) -> tuple[torch.Tensor, torch.Tensor]:
    """(z_sem (N, D), x_T (N, 3, H, W)) along the path: z lerped, x_T slerped."""
    (z_a, xt_a), (z_b, xt_b) = a, b
    z_a, z_b = z_a.reshape(-1), z_b.reshape(-1)
    xt_a, xt_b = xt_a.reshape(xt_a.shape[-3:]), xt_b.reshape(xt_b.shape[-3:])
    if not alphas:
        raise ValueError("alphas must not be empty")
    z = torch.stack([torch.lerp(z_a, z_b, float(al)) for al in alphas])
    x_T = torch.stack([slerp(xt_a, xt_b, float(al)) for al in alphas])
    return z, x_T


def linspace_alphas(frames: int) -> list[float]:
    """The official α grid: linspace(0, 1, frames)."""
    if frames < 2:
        raise ValueError(f"frames must be at least 2, got {frames}")
    return [i / (frames - 1) for i in range(frames)]

