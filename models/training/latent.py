"""Training the latent DPM: an MLP predicting ε for normalised z_sem, on the run's own
autoencoder (its EMA encoder), with L1 on ε and the const0.008 schedule (paper §4)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from models.latent_net import LatentMLP
from models.schedule import alphas_cumprod, q_sample
from models.training.data import encode_images, training_images
from models.training.options import LatentOptions
from models.training.state import EMA, load_run_autoencoder, save_atomic


def train_latent(o: LatentOptions) -> Path:
    """Fit the latent DPM of run `o.run` on the z_sem of its training faces; writes `latent.pt`
    (the EMA MLP and the z statistics it normalises with) and returns its path."""
    run = Path(o.run)
    _, config, unet = load_run_autoencoder(run)
    if config.latent_net is None:
        raise ValueError(f"preset {config.preset!r} has no latent_net config")
    images = training_images(o, config.autoencoder.image_size)
    z = encode_images(unet.encoder.eval(), images)
    mean, std = z.mean(0), z.std(0)
    z_n = (z - mean) / std
    torch.manual_seed(o.seed)
    net = LatentMLP(config.latent_net)
    ema = EMA(net, o.ema)
    opt = torch.optim.AdamW(net.parameters(), lr=o.lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(o.seed)
    ld = config.latent_diffusion
    alpha_bar = torch.from_numpy(alphas_cumprod(ld.beta_schedule, ld.num_timesteps)).float()
    bar = tqdm(range(o.steps), desc="latent DPM", disable=o.quiet)
    for step in bar:
        idx = torch.randint(0, len(z_n), (o.batch,), generator=gen)
        t = torch.randint(0, len(alpha_bar), (o.batch,), generator=gen)
        eps = torch.randn(o.batch, z_n.shape[1], generator=gen)
        loss = F.l1_loss(net(q_sample(z_n[idx], eps, alpha_bar[t].view(-1, 1)), t), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), o.grad_clip)
        opt.step()
        ema.update(net, step)
        bar.set_postfix(loss=f"{loss.item():.4f}")
    path = run / "latent.pt"
    save_atomic({"latent_net": ema.model.state_dict(), "conds_mean": mean, "conds_std": std,
                 "steps": o.steps, "final_loss": loss.item()}, path)
    return path
