"""Training the autoencoder: the UNet decoder and the semantic encoder, jointly (paper §3).

ε-MSE on x_t = √ᾱ x_0 + √(1−ᾱ) ε with z_sem = Enc(x_0) trained jointly; with `prediction="v"`
the MSE on v = √ᾱ ε − √(1−ᾱ) x_0 instead (= ε-MSE·(1 + 1/SNR)). Training state is checkpointed
atomically every `ckpt_every` steps and resumed exactly (model, EMA, optimiser, step and every
random generator), so a run can be stopped and continued at will.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from models.checkpoint import load_strict, load_tensors
from models.config import ModelConfig, preset
from models.schedule import alphas_cumprod, q_sample, v_target
from models.training.data import sample_batch, training_images
from models.training.options import AutoencoderOptions, OptionsError, record
from models.training.state import EMA, rng_state, save_atomic, set_rng_state
from models.unet import DiffAEUNet


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
    root = Path(directory)
    load_strict(model, load_tensors(root / "autoencoder.safetensors"), f"{root}/autoencoder.safetensors")


def _model_config(o: AutoencoderOptions, resume: dict[str, Any] | None, ckpt_path: Path) -> ModelConfig:
    """The run's model config: the checkpoint's when resuming, else `init`'s or the preset's,
    renamed and switched to `prediction` as asked."""
    if resume:
        config = ModelConfig.from_dict(resume["config"])
    elif o.init:
        config = ModelConfig.from_dict(json.loads((Path(o.init) / "config.json").read_text()))
    else:
        config = preset(o.preset)
    if o.name and not resume:
        config = replace(config, preset=o.name)
    if o.prediction and o.prediction != config.diffusion.prediction:
        if resume:
            raise OptionsError(f"{ckpt_path} predicts {config.diffusion.prediction!r}; "
                               f"it cannot resume as {o.prediction!r}")
        config = replace(config, diffusion=replace(config.diffusion, prediction=o.prediction))
    if config.diffusion.prediction == "v" and o.x0_weight_max > 0:
        raise OptionsError("--x0-weight-max weights the ε-MSE; the v-MSE already weights x_0 at high noise")
    return config


def train_autoencoder(o: AutoencoderOptions) -> Path:
    """Train (or resume) the autoencoder of run `o.run`; returns its checkpoint path."""
    run = Path(o.run)
    run.mkdir(parents=True, exist_ok=True)
    ckpt_path = run / "autoencoder.pt"
    resume = torch.load(ckpt_path, weights_only=False) if ckpt_path.exists() else None
    config = _model_config(o, resume, ckpt_path)
    predict_v = config.diffusion.prediction == "v"
    torch.manual_seed(o.seed)
    model = DiffAEUNet(config.autoencoder)
    if o.init and not resume:
        load_init(model, o.init)
    ema = EMA(model, o.ema)
    opt = torch.optim.AdamW(parameter_groups(model, o.semantic_lr_mult), lr=o.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(o.seed)
    step = 0
    if resume:
        model.load_state_dict(resume["model"])
        ema.model.load_state_dict(resume["ema"])
        opt.load_state_dict(resume["optimizer"])
        set_rng_state(gen, resume["rng"])
        step = resume["step"]
    images = training_images(o, config.autoencoder.image_size)
    d = config.diffusion
    alpha_bar = torch.from_numpy(alphas_cumprod(d.beta_schedule, d.num_timesteps)).float()
    weights = loss_weights(alpha_bar, o.x0_weight_max)
    model.train()

    def save() -> None:
        save_atomic({"config": config.to_dict(), "model": model.state_dict(),
                     "ema": ema.model.state_dict(), "optimizer": opt.state_dict(),
                     "rng": rng_state(gen), "step": step, "args": record("autoencoder", o)}, ckpt_path)

    bar = tqdm(total=o.steps, initial=step, desc="autoencoder", disable=o.quiet)
    deadline = time.monotonic() + o.minutes * 60 if o.minutes else math.inf
    t0, seen = time.perf_counter(), 0
    with (run / "autoencoder_log.jsonl").open("a") as log:
        while step < o.steps and time.monotonic() < deadline:
            x_0 = sample_batch(images, o.batch, gen, flip=o.flip)
            t = torch.randint(0, len(alpha_bar), (o.batch,), generator=gen)
            eps = torch.randn(x_0.shape, generator=gen)
            a = alpha_bar[t].view(-1, 1, 1, 1)
            x_t = q_sample(x_0, eps, a)
            target = v_target(x_0, eps, a) if predict_v else eps
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=o.bf16):
                out = model(x_t, t, model.encode(x_0))
            per_sample = (out.float() - target).pow(2).mean(dim=(1, 2, 3))
            loss = (weights[t] * per_sample).mean()
            for group in opt.param_groups:  # linear warm-up (a fresh optimiser on a trained net)
                warm = min(1.0, (step + 1) / o.warmup) if o.warmup else 1.0
                group["lr"] = o.lr * group["lr_mult"] * warm
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), o.grad_clip)
            opt.step()
            ema.update(model, step)
            step += 1
            seen += o.batch
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}",
                            img_s=f"{seen / (time.perf_counter() - t0):.1f}")
            if step % o.log_every == 0:
                log.write(json.dumps({"step": step, "loss": loss.item(), "time": time.time()}) + "\n")
                log.flush()
            if step % o.ckpt_every == 0:
                save()
    save()
    bar.close()
    return ckpt_path
