"""Training: the autoencoder (UNet decoder + semantic encoder, jointly), the latent DPM, and the
attribute directions; then export to a `from_pretrained` directory.

    python -m models.training.cli autoencoder --run runs/demo64 --preset demo64 --minutes 90 --bf16
    python -m models.training.cli latent      --run runs/demo64 --steps 6000
    python -m models.training.cli directions  --run runs/demo64
    python -m models.training.cli export      --run runs/demo64 --out models/weights/demo64

Data: `--data facegen` (our procedural faces, see models/facegen.py) or `--data DIR` (a folder of
aligned face images, resized and centre-cropped like the official ImageDataset). Training state
is checkpointed atomically every `--ckpt-every` steps and resumed exactly (model, EMA, optimiser,
step and every random generator), so a run can be stopped and continued at will.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from tqdm import tqdm

from models.config import DiffusionConfig, ModelConfig, preset
from models.ddim import make_betas
from models.latent_net import LatentMLP
from models.unet import DiffAEUNet

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")


# ---------------------------------------------------------------------------------- data
def facegen_digest() -> str:
    """Hash of the generator's source (sampling and drawing): a changed generator regenerates."""
    from models.facegen import drawn as facegen
    from models.facegen import render as facegen_draw

    h = hashlib.sha256()
    for module in (facegen, facegen_draw):
        h.update(Path(str(module.__file__)).read_bytes())
    return h.hexdigest()[:12]


def facegen_images(n: int, size: int, *, test: bool = False, cache: Path | None = None,
                   workers: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W, 3) uint8 faces and (N, K) attribute values from the generator's train or test
    seed range; cached on disk keyed by the generator's source, so a changed generator regenerates."""
    from models.facegen import drawn as facegen

    seeds = (facegen.TEST_SEEDS if test else facegen.TRAIN_SEEDS)[:n]
    digest = facegen_digest()
    path = cache / f"facegen{size}_{'test' if test else 'train'}_{n}_{digest}.npz" if cache else None
    if cache is not None:
        # Seeds are taken in order, so any larger cache of the same generator holds these faces.
        for cached in sorted(cache.glob(f"facegen{size}_{'test' if test else 'train'}_*_{digest}.npz")):
            if int(cached.stem.split("_")[2]) >= n:
                data = np.load(cached)
                return data["images"][:n], data["labels"][:n]
    images, labels = facegen.generate(list(seeds), size=size, workers=workers)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, images=images, labels=labels)
        os.replace(tmp, path)
    return images, labels


def folder_images(root: Path, size: int) -> np.ndarray:
    """Every image under `root`: RGB, shorter side resized to `size`, centre-cropped."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTS)}) under {root}")
    out = np.empty((len(files), size, size, 3), dtype=np.uint8)
    for i, f in enumerate(files):
        img = Image.open(f).convert("RGB")
        scale = size / min(img.size)
        w, h = max(size, round(img.width * scale)), max(size, round(img.height * scale))
        img = img.resize((w, h), Image.Resampling.BILINEAR)
        left, top = (w - size) // 2, (h - size) // 2
        out[i] = np.asarray(img.crop((left, top, left + size, top + size)))
    return out


def to_model_range(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 → (N, 3, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def photoface_images(n: int, size: int, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """(seeds (N,), (N, H, W, 3) uint8) of the first n cached photoreal training faces
    (models/photofaces.py; render them first with `python -m models.facegen.photo generate`)."""
    from models.facegen.photo import FaceCache

    return FaceCache(cache).load("train", n, size)


def load_training_images(args: argparse.Namespace, size: int) -> np.ndarray:
    if args.data == "facegen":
        return facegen_images(args.num_images, size, cache=Path(args.cache))[0]
    if args.data == "photofaces":
        return photoface_images(args.num_images, size, Path(args.cache))[1]
    return folder_images(Path(args.data), size)


def sample_batch(images: np.ndarray, batch: int, gen: torch.Generator, flip: bool) -> torch.Tensor:
    idx = torch.randint(0, len(images), (batch,), generator=gen)
    x = to_model_range(images[idx.numpy()])
    if flip:
        mask = torch.rand(batch, generator=gen) < 0.5
        x[mask] = x[mask].flip(-1)
    return x


# ---------------------------------------------------------------------------------- state
class EMA:
    """Exponential moving average of a module's parameters, with the usual warm-up
    (decay grows as (1 + n)/(10 + n)) so that short runs are not dominated by the init."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for e, p in zip(self.model.parameters(), model.parameters(), strict=True):
            e.lerp_(p.detach(), 1 - d)


def _plain(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in vars(args).items() if k != "func"}


def save_atomic(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def rng_state(gen: torch.Generator) -> dict[str, Any]:
    return {"data": gen.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(gen: torch.Generator, state: dict[str, Any]) -> None:
    gen.set_state(state["data"])
    torch.set_rng_state(state["torch"])


# ---------------------------------------------------------------------------------- loops
def loss_weights(alpha_bar: torch.Tensor, x0_weight_max: float) -> torch.Tensor:
    """Per-timestep weight on the ε-MSE. 0 → the paper's plain ε-MSE (all ones).

    W > 0 → clamp(1/SNR, 1, W), normalised to mean 1 over t. Since ε-MSE = SNR·x_0-MSE, this is
    "truncated SNR" weighting (x_0-MSE where SNR < 1), capped at W: the high-noise steps, where the
    decoder can only know the image through z_sem, count as much as the low-noise ones. Plain
    ε-MSE gives them almost no weight, which lets a young decoder ignore z_sem altogether.
    The network still predicts ε, so sampling and checkpoints are unchanged.
    """
    if x0_weight_max <= 0:
        return torch.ones_like(alpha_bar)
    w = ((1 - alpha_bar) / alpha_bar).clamp(1.0, x0_weight_max)
    return w / w.mean()


def parameter_groups(model: DiffAEUNet, semantic_lr_mult: float) -> list[dict[str, Any]]:
    """Two AdamW groups: the semantic path (the encoder and every ResBlock's z_sem projection,
    `cond_emb_layers`) at `semantic_lr_mult` × the learning rate, and the rest of the UNet.

    The semantic path only gets a useful gradient once the decoder relies on z_sem, and the
    decoder only relies on z_sem once it carries information: a short run on few cores can sit
    in that loop with z_sem nearly ignored. A larger step on that path breaks the loop sooner.
    """
    semantic: list[nn.Parameter] = []
    rest: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        (semantic if name.startswith("encoder.") or ".cond_emb_layers." in name else rest).append(p)
    return [{"params": rest, "lr_mult": 1.0}, {"params": semantic, "lr_mult": semantic_lr_mult}]


def load_init(model: DiffAEUNet, directory: str) -> None:
    """Start a new run from a `from_pretrained` directory's autoencoder (fine-tuning)."""
    from models.checkpoint import load_strict, load_tensors

    root = Path(directory)
    load_strict(model, load_tensors(root / "autoencoder.safetensors"), f"{root}/autoencoder.safetensors")


def train_autoencoder(args: argparse.Namespace) -> Path:
    """ε-MSE on x_t = √ᾱ x_0 + √(1−ᾱ) ε with z_sem = Enc(x_0) trained jointly (paper §3); with
    `--prediction v` the MSE on v = √ᾱ ε − √(1−ᾱ) x_0 instead (= ε-MSE·(1 + 1/SNR))."""
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    ckpt_path = run / "autoencoder.pt"
    resume = torch.load(ckpt_path, weights_only=False) if ckpt_path.exists() else None
    if resume:
        config = ModelConfig.from_dict(resume["config"])
    elif args.init:
        config = ModelConfig.from_dict(json.loads((Path(args.init) / "config.json").read_text()))
    else:
        config = preset(args.preset)
    if args.name and not resume:
        config = replace(config, preset=args.name)
    if args.prediction and args.prediction != config.diffusion.prediction:
        if resume:
            raise SystemExit(f"{ckpt_path} predicts {config.diffusion.prediction!r}; "
                             f"it cannot resume as {args.prediction!r}")
        config = replace(config, diffusion=replace(config.diffusion, prediction=args.prediction))
    predict_v = config.diffusion.prediction == "v"
    if predict_v and args.x0_weight_max > 0:
        raise SystemExit("--x0-weight-max weights the ε-MSE; the v-MSE already weights x_0 at high noise")
    torch.manual_seed(args.seed)
    model = DiffAEUNet(config.autoencoder)
    if args.init and not resume:
        load_init(model, args.init)
    ema = EMA(model, args.ema)
    opt = torch.optim.AdamW(parameter_groups(model, args.semantic_lr_mult), lr=args.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(args.seed)
    step = 0
    if resume:
        model.load_state_dict(resume["model"])
        ema.model.load_state_dict(resume["ema"])
        opt.load_state_dict(resume["optimizer"])
        set_rng_state(gen, resume["rng"])
        step = resume["step"]
    images = load_training_images(args, config.autoencoder.image_size)
    alpha_bar = torch.from_numpy(np.cumprod(1 - make_betas(config.diffusion.beta_schedule))).float()
    weights = loss_weights(alpha_bar, args.x0_weight_max)
    model.train()

    def save() -> None:
        save_atomic({"config": config.to_dict(), "model": model.state_dict(),
                     "ema": ema.model.state_dict(), "optimizer": opt.state_dict(),
                     "rng": rng_state(gen), "step": step, "args": _plain(args)}, ckpt_path)

    bar = tqdm(total=args.steps, initial=step, desc="autoencoder", disable=args.quiet)
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else math.inf
    t0, seen = time.perf_counter(), 0
    with (run / "autoencoder_log.jsonl").open("a") as log:
        while step < args.steps and time.monotonic() < deadline:
            x_0 = sample_batch(images, args.batch, gen, flip=args.flip)
            t = torch.randint(0, len(alpha_bar), (args.batch,), generator=gen)
            eps = torch.randn(x_0.shape, generator=gen)
            a = alpha_bar[t].view(-1, 1, 1, 1)
            x_t = a.sqrt() * x_0 + (1 - a).sqrt() * eps
            target = a.sqrt() * eps - (1 - a).sqrt() * x_0 if predict_v else eps
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                out = model(x_t, t, model.encode(x_0))
            per_sample = (out.float() - target).pow(2).mean(dim=(1, 2, 3))
            loss = (weights[t] * per_sample).mean()
            for group in opt.param_groups:  # linear warm-up (a fresh optimiser on a trained net)
                warm = min(1.0, (step + 1) / args.warmup) if args.warmup else 1.0
                group["lr"] = args.lr * group["lr_mult"] * warm
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
            opt.step()
            ema.update(model, step)
            step += 1
            seen += args.batch
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}",
                            img_s=f"{seen / (time.perf_counter() - t0):.1f}")
            if step % args.log_every == 0:
                log.write(json.dumps({"step": step, "loss": loss.item(), "time": time.time()}) + "\n")
                log.flush()
            if step % args.ckpt_every == 0:
                save()
    save()
    bar.close()
    return ckpt_path


def encode_images(encoder: nn.Module, images: np.ndarray, batch: int = 256) -> torch.Tensor:
    """z_sem (N, D) for uint8 images, float32, in inference mode."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            out.append(encoder(to_model_range(images[i:i + batch])).float())
    return torch.cat(out)


def train_latent(args: argparse.Namespace) -> Path:
    """The latent DPM on normalised z_sem with L1 on ε and the const0.008 schedule (paper §4)."""
    run = Path(args.run)
    ae = torch.load(run / "autoencoder.pt", weights_only=False)
    config = ModelConfig.from_dict(ae["config"])
    if config.latent_net is None:
        raise ValueError(f"preset {config.preset!r} has no latent_net config")
    unet = DiffAEUNet(config.autoencoder)
    unet.load_state_dict(ae["ema"])
    images = load_training_images(args, config.autoencoder.image_size)
    z = encode_images(unet.encoder.eval(), images)
    mean, std = z.mean(0), z.std(0)
    z_n = (z - mean) / std
    torch.manual_seed(args.seed)
    net = LatentMLP(config.latent_net)
    ema = EMA(net, args.ema)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(args.seed)
    ld: DiffusionConfig = config.latent_diffusion
    alpha_bar = torch.from_numpy(np.cumprod(1 - make_betas(ld.beta_schedule))).float()
    bar = tqdm(range(args.steps), desc="latent DPM", disable=args.quiet)
    for step in bar:
        idx = torch.randint(0, len(z_n), (args.batch,), generator=gen)
        t = torch.randint(0, len(alpha_bar), (args.batch,), generator=gen)
        eps = torch.randn(args.batch, z_n.shape[1], generator=gen)
        a = alpha_bar[t].view(-1, 1)
        loss = F.l1_loss(net(a.sqrt() * z_n[idx] + (1 - a).sqrt() * eps, t), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), args.grad_clip)
        opt.step()
        ema.update(net, step)
        bar.set_postfix(loss=f"{loss.item():.4f}")
    path = run / "latent.pt"
    save_atomic({"latent_net": ema.model.state_dict(), "conds_mean": mean, "conds_std": std,
                 "steps": args.steps, "final_loss": loss.item()}, path)
    return path


def fit_directions_cmd(args: argparse.Namespace) -> Path:
    """Encode labelled faces and fit one logistic regression per attribute: generated cartoon
    faces with their drawn attributes (`--data facegen`), or cached photoreal faces with a label
    CSV by seed (`--data photofaces --labels CSV`, blank cells = not labelled)."""
    from models.training.directions import fit_directions, fit_directions_partial

    run = Path(args.run)
    ae = torch.load(run / "autoencoder.pt", weights_only=False)
    config = ModelConfig.from_dict(ae["config"])
    unet = DiffAEUNet(config.autoencoder)
    unet.load_state_dict(ae["ema"])
    size, cache = config.autoencoder.image_size, Path(args.cache)
    encoder = unet.encoder.eval()
    if args.data == "photofaces":
        if not args.labels:
            raise SystemExit("--data photofaces needs --labels CSV (models.facegen.labels merge)")
        names, table = read_label_table(Path(args.labels))
        seeds = np.array(sorted(table))
        _, images = photoface_images(int(seeds.max()) + 1, size, cache)
        y = np.array([[table[s][a] for a in names] for s in seeds], dtype=np.float64)
        # Held out: a fixed fifth of the faces by seed, so every attribute is scored on its own labels.
        held_out = (seeds * 2654435761 % 2**32) % 5 == 0
        result = fit_directions_partial(encode_images(encoder, images[seeds]), y, names, held_out, C=args.C)
    else:
        from models.facegen import drawn as facegen

        x_train, y_train = facegen_images(args.num_train, size, cache=cache)
        x_test, y_test = facegen_images(args.num_test, size, test=True, cache=cache)
        result = fit_directions(encode_images(encoder, x_train), y_train > 0.5,
                                encode_images(encoder, x_test), y_test > 0.5,
                                names=facegen.ATTRIBUTES, C=args.C)
    path = run / "directions.pt"
    save_atomic({**asdict(result), "source": args.labels or "facegen"}, path)
    for name, auc in zip(result.names, result.auroc, strict=True):
        print(f"{name:16s} held-out AUROC {auc:.3f}")
    return path


def read_label_table(path: Path) -> tuple[list[str], dict[int, dict[str, float]]]:
    """(attribute names, {seed: {name: 1.0 / 0.0 / NaN}}) from a CSV with a `seed` column."""
    import csv

    with path.open() as f:
        reader = csv.DictReader(f)
        names = [n for n in (reader.fieldnames or []) if n != "seed"]
        table = {int(r["seed"]): {n: float(r[n]) if r[n] != "" else math.nan for n in names} for r in reader}
    return names, table


def export(args: argparse.Namespace) -> Path:
    """Assemble the `from_pretrained` directory: EMA autoencoder (+ latent DPM, + directions)."""
    from models.classifier import AttributeClassifier
    from models.pipeline import DiffAEPipeline

    run, out = Path(args.run), Path(args.out)
    ae = torch.load(run / "autoencoder.pt", weights_only=False)
    config = ModelConfig.from_dict(ae["config"])
    if args.encode_steps is not None:  # a serving default: does not change the weights
        config = replace(config, diffusion=replace(config.diffusion, encode_steps=args.encode_steps))
    unet = DiffAEUNet(config.autoencoder)
    unet.load_state_dict(ae["ema"])
    latent_net = latent_stats = None
    if (run / "latent.pt").exists() and config.latent_net is not None:
        lat = torch.load(run / "latent.pt", weights_only=False)
        latent_net = LatentMLP(config.latent_net)
        latent_net.load_state_dict(lat["latent_net"])
        latent_stats = (lat["conds_mean"], lat["conds_std"])
    classifier, info = None, {}
    if (run / "directions.pt").exists():
        d = torch.load(run / "directions.pt", weights_only=False)
        classifier = AttributeClassifier(d["names"], config.autoencoder.z_dim)
        with torch.no_grad():
            classifier.weight.copy_(torch.as_tensor(d["weight"]))
            classifier.bias.copy_(torch.as_tensor(d["bias"]))
            classifier.conds_mean.copy_(torch.as_tensor(d["conds_mean"]))
            classifier.conds_std.copy_(torch.as_tensor(d["conds_std"]))
        info = {"auroc": dict(zip(d["names"], d["auroc"], strict=True)),
                "positive_rate": dict(zip(d["names"], d["positive_rate"], strict=True)),
                "source": "logistic regression on normalised z_sem of generated faces"
                          + (f" labelled by {Path(d['source']).name}"
                             if d.get("source", "facegen") != "facegen" else ""),
                "C": d.get("C")}
    training: dict[str, Any] = {"autoencoder_steps": ae["step"], "args": ae.get("args", {})}
    info["training"] = training
    init = ae.get("args", {}).get("init")
    if init:  # a fine-tune: keep the lineage (what the starting model's own export recorded)
        info_path = Path(init) / "attributes.json"
        earlier = json.loads(info_path.read_text()).get("training", {}) if info_path.is_file() else {}
        training["init"] = {"path": init, **earlier}
        if "autoencoder_steps" in earlier:
            training["total_autoencoder_steps"] = ae["step"] + earlier.get(
                "total_autoencoder_steps", earlier["autoencoder_steps"])
    pipe = DiffAEPipeline(config, unet, classifier=classifier, latent_net=latent_net,
                          latent_stats=latent_stats, attribute_info=info, device="cpu",
                          dtype=torch.float32)
    pipe.save_pretrained(out)
    return out


# ---------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    from models.training.directions import DEFAULT_C

    parser = argparse.ArgumentParser(prog="python -m models.training.cli", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--run", required=True, help="run directory (checkpoints, logs)")
        p.add_argument("--data", default="facegen",
                       help="'facegen' (drawn faces), 'photofaces' (cached photoreal faces) "
                            "or a folder of images")
        p.add_argument("--num-images", type=int, default=50_000, help="generated training faces")
        p.add_argument("--cache", default="runs/cache", help="where generated faces are cached")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
        p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("autoencoder", help="train the UNet decoder and semantic encoder")
    common(p)
    p.add_argument("--preset", default="demo64")
    p.add_argument("--name", default=None, help="the model's name (config preset) of a new run; "
                                                  "default: --preset's or --init's")
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--minutes", type=float, default=None, help="stop (and checkpoint) after this")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (CPUs with AVX-512 BF16, GPUs)")
    p.add_argument("--no-flip", dest="flip", action="store_false")
    p.add_argument("--ckpt-every", type=int, default=200)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--init", default=None, help="start from this from_pretrained directory (fine-tune)")
    p.add_argument("--warmup", type=int, default=0, help="linear learning-rate warm-up steps")
    p.add_argument("--semantic-lr-mult", type=float, default=1.0,
                   help="learning-rate factor for the encoder and the z_sem projections")
    p.add_argument("--x0-weight-max", type=float, default=0.0,
                   help="0: plain ε-MSE (paper); W>0: weight clamp(1/SNR, 1, W) (see loss_weights)")
    p.add_argument("--prediction", choices=("eps", "v"), default=None,
                   help="network output; default: the preset's, --init's or the checkpoint's (eps)")
    p.set_defaults(func=train_autoencoder)

    p = sub.add_parser("latent", help="train the latent DPM on z_sem")
    common(p)
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.set_defaults(func=train_latent)

    p = sub.add_parser("directions", help="fit attribute directions (logistic regression)")
    common(p)
    p.add_argument("--num-train", type=int, default=10_000)
    p.add_argument("--num-test", type=int, default=2_000)
    p.add_argument("--labels", default=None, help="label CSV by seed for --data photofaces")
    p.add_argument("--C", type=float, default=DEFAULT_C,
                   help="inverse L2 strength; smaller keeps edits on the data (models/directions.py)")
    p.set_defaults(func=fit_directions_cmd)

    p = sub.add_parser("export", help="write the from_pretrained directory")
    p.add_argument("--run", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--encode-steps", type=int, default=None,
                   help="the model's default DDIM inversion steps (config diffusion.encode_steps); "
                        "default: the run's (none: the default steps)")
    p.add_argument("--threads", type=int, default=0)
    p.set_defaults(func=export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(args.func(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
