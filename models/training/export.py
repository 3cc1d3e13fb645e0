"""Export a run directory as a `DiffAEPipeline.from_pretrained` model directory: the EMA
autoencoder, plus the latent DPM and the attribute directions when the run has them, and the
run's lineage in `attributes.json` ("training")."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from models.classifier import AttributeClassifier
from models.latent_net import LatentMLP
from models.pipeline import DiffAEPipeline
from models.training.options import ExportOptions
from models.training.state import load_run_autoencoder


def export(o: ExportOptions) -> Path:
    """Assemble the `from_pretrained` directory `o.out` from run `o.run`; returns `o.out`."""
    run, out = Path(o.run), Path(o.out)
    ae, config, unet = load_run_autoencoder(run)
    if o.encode_steps is not None:  # a serving default: does not change the weights
        config = replace(config, diffusion=replace(config.diffusion, encode_steps=o.encode_steps))
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
