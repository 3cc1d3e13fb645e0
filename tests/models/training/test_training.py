"""`python -m models.training` smoke runs on a tiny preset, in-process: the autoencoder learns,
resumes bit-exactly, and the latent DPM, directions and export produce a directory that
`from_pretrained` serves; the command line parses into the options the loops take."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models import config
from models.facegen import drawn as facegen
from models.images import batch_to_tensor
from models.pipeline import DiffAEPipeline
from models.schedule import alphas_cumprod
from models.training import data
from models.training.autoencoder import loss_weights, parameter_groups, train_autoencoder
from models.training.cli import COMMANDS, main, parse
from models.training.options import (
    AutoencoderOptions,
    DirectionsOptions,
    ExportOptions,
    LatentOptions,
    defaults,
    record,
)
from models.unet import DiffAEUNet
from tests.models.nets import TINY_CONFIG, TINY_SIZE, TINY_Z

SIZE, Z = TINY_SIZE, TINY_Z
# dropout > 0 on purpose: exact resume must then also restore torch's global generator.
TINY = replace(TINY_CONFIG, autoencoder=replace(TINY_CONFIG.autoencoder, dropout=0.1))
NUM_IMAGES, NUM_TRAIN, NUM_TEST = 8, 64, 32
LEARN_STEPS = 20


@pytest.fixture(autouse=True, scope="module")
def _tiny_preset() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(config.PRESETS, "tiny", TINY)
        yield


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated-face cache the CLI reads, filled here in-process (no worker pool)."""
    path = tmp_path_factory.mktemp("cache")
    data.facegen_images(NUM_IMAGES, SIZE, cache=path, workers=1)
    data.facegen_images(NUM_TRAIN, SIZE, cache=path, workers=1)
    _, y_test = data.facegen_images(NUM_TEST, SIZE, test=True, cache=path, workers=1)
    assert ((y_test > 0.5).any(0) & ~(y_test > 0.5).all(0)).all(), "test faces need both classes"
    return path


def _autoencoder(run: Path, cache: Path, steps: int, *extra: str) -> dict[str, Any]:
    main(["autoencoder", "--run", str(run), "--preset", "tiny", "--num-images", str(NUM_IMAGES),
                "--cache", str(cache), "--steps", str(steps), "--batch", "4", "--lr", "1e-3",
                "--ckpt-every", "1000", "--log-every", "1", "--quiet", *extra])
    return torch.load(run / "autoencoder.pt", weights_only=False)


def _fixed_batch(images: np.ndarray, seed: int) -> tuple[torch.Tensor, ...]:
    """x_0 (4 timesteps per image), t, ε and ᾱ_t, the same for every call with the same seed."""
    g = torch.Generator().manual_seed(seed)
    x_0 = batch_to_tensor(images).repeat(4, 1, 1, 1)
    t = torch.randint(0, 1000, (len(x_0),), generator=g)
    eps = torch.randn(x_0.shape, generator=g)
    a = torch.from_numpy(alphas_cumprod("linear")).float()[t].view(-1, 1, 1, 1)
    return x_0, t, eps, a


def _fixed_batch_loss(state: dict[str, torch.Tensor], images: np.ndarray, predict_v: bool = False,
                      seed: int = 123) -> float:
    """ε-MSE (or v-MSE) of a checkpointed model on fixed images, timesteps and noise (eval mode)."""
    model = DiffAEUNet(TINY.autoencoder)
    model.load_state_dict(state)
    model.eval()
    x_0, t, eps, a = _fixed_batch(images, seed)
    target = a.sqrt() * eps - (1 - a).sqrt() * x_0 if predict_v else eps
    with torch.no_grad():
        out = model(a.sqrt() * x_0 + (1 - a).sqrt() * eps, t, model.encode(x_0))
    return F.mse_loss(out, target).item()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, cache: Path) -> Path:
    run = tmp_path_factory.mktemp("run")
    _autoencoder(run, cache, LEARN_STEPS)
    return run


def test_autoencoder_loss_decreases(trained: Path, cache: Path, tmp_path: Path) -> None:
    images, _ = data.facegen_images(NUM_IMAGES, SIZE, cache=cache)
    init = _autoencoder(tmp_path, cache, 0)  # 0 steps: the checkpoint holds the initial weights
    after = torch.load(trained / "autoencoder.pt", weights_only=False)
    assert init["step"] == 0 and after["step"] == LEARN_STEPS
    before_loss = _fixed_batch_loss(init["model"], images)
    after_loss = _fixed_batch_loss(after["model"], images)
    assert after_loss < 0.8 * before_loss, (before_loss, after_loss)
    # The logged training losses agree: the last steps are lower than the first ones.
    log = [json.loads(line)["loss"] for line in (trained / "autoencoder_log.jsonl").read_text().splitlines()]
    assert len(log) == LEARN_STEPS
    assert np.mean(log[-5:]) < np.mean(log[:5])


def _assert_identical(a: Any, b: Any, where: str = "") -> None:
    """Tensors equal bit for bit (torch.equal), containers recursively, other values with ==."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            _assert_identical(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_autoencoder_resume_is_bit_exact(tmp_path: Path, cache: Path) -> None:
    one_go = _autoencoder(tmp_path / "a", cache, 6)
    _autoencoder(tmp_path / "b", cache, 3)
    resumed = _autoencoder(tmp_path / "b", cache, 6)
    assert resumed["step"] == one_go["step"] == 6
    for key in ("config", "model", "ema", "optimizer", "rng"):
        _assert_identical(one_go[key], resumed[key], key)
    # Not vacuous: the EMA differs from the model, and training moved the weights.
    assert not torch.equal(one_go["model"]["out.2.weight"], one_go["ema"]["out.2.weight"])
    assert one_go["optimizer"]["state"], "optimizer state is empty"


def test_latent_directions_export_load(trained: Path, cache: Path, tmp_path: Path) -> None:
    common = ["--run", str(trained), "--cache", str(cache), "--quiet"]
    main(["latent", *common, "--num-images", str(NUM_IMAGES), "--steps", "5", "--batch", "8"])
    main(["directions", *common, "--num-train", str(NUM_TRAIN), "--num-test", str(NUM_TEST)])
    out = tmp_path / "model"
    main(["export", "--run", str(trained), "--out", str(out)])
    main(["export", "--run", str(trained), "--out", str(tmp_path / "finer"), "--encode-steps", "4"])
    finer = DiffAEPipeline.from_pretrained(tmp_path / "finer", device="cpu", dtype=torch.float32)
    assert finer.config.diffusion.encode_steps == 4 and finer.config == replace(
        TINY, diffusion=replace(TINY.diffusion, encode_steps=4))

    pipe = DiffAEPipeline.from_pretrained(out, device="cpu", dtype=torch.float32)
    assert pipe.config == TINY
    assert pipe.can_sample and pipe.attributes == facegen.ATTRIBUTES
    assert set(pipe.attribute_info["auroc"]) == set(facegen.ATTRIBUTES)
    assert pipe.attribute_info["training"]["autoencoder_steps"] == LEARN_STEPS
    # The export serves the EMA weights, not the raw ones.
    ema = torch.load(trained / "autoencoder.pt", weights_only=False)["ema"]
    for name, tensor in pipe.autoencoder.state_dict().items():
        assert torch.equal(tensor, ema[name]), name

    g = torch.Generator().manual_seed(0)
    x = pipe.decode(torch.randn(2, Z, generator=g), torch.randn(2, 3, SIZE, SIZE, generator=g), 3)
    assert x.shape == (2, 3, SIZE, SIZE) and x.abs().max() <= 1.0
    samples = pipe.sample(2, steps=2, latent_steps=3, generator=g)
    assert samples.shape == (2, 3, SIZE, SIZE) and torch.isfinite(samples).all()


def test_x0_weighting_is_plain_eps_mse_at_zero_and_caps_at_w() -> None:
    alpha_bar = torch.from_numpy(alphas_cumprod("linear")).float()
    assert torch.equal(loss_weights(alpha_bar, 0.0), torch.ones(1000))
    w = loss_weights(alpha_bar, 20.0)
    assert w.mean().item() == pytest.approx(1.0, rel=1e-5)
    assert (w[1:] >= w[:-1]).all(), "more noise never weighs less"
    assert (w.max() / w.min()).item() == pytest.approx(20.0, rel=1e-4)  # the cap, relative to SNR ≥ 1
    snr = alpha_bar / (1 - alpha_bar)
    low = snr > 1  # where SNR > 1 the weight is the plain ε-MSE one (the floor)
    assert torch.allclose(w[low], w[0].expand(int(low.sum())))


def test_fine_tune_starts_from_an_exported_model(trained: Path, cache: Path, tmp_path: Path) -> None:
    # directions (as test_latent_directions_export_load fits them): the export then has attributes.json
    main(["directions", "--run", str(trained), "--cache", str(cache), "--quiet",
                "--num-train", str(NUM_TRAIN), "--num-test", str(NUM_TEST), "--C", "0.5"])
    main(["export", "--run", str(trained), "--out", str(tmp_path / "model")])
    exported = DiffAEPipeline.from_pretrained(tmp_path / "model", device="cpu", dtype=torch.float32)
    assert exported.attribute_info["C"] == 0.5
    start = _autoencoder(tmp_path / "ft0", cache, 0, "--init", str(tmp_path / "model"))
    for name, tensor in exported.autoencoder.state_dict().items():
        assert torch.equal(start["model"][name], tensor), name
        assert torch.equal(start["ema"][name], tensor), name
    # A few weighted, warmed-up steps move it, and the run resumes like any other.
    tuned = _autoencoder(tmp_path / "ft", cache, 3, "--init", str(tmp_path / "model"),
                         "--warmup", "2", "--x0-weight-max", "20")
    assert not torch.equal(tuned["model"]["out.2.weight"], start["model"]["out.2.weight"])
    assert tuned["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-3)  # warm-up done
    assert tuned["args"]["init"] == str(tmp_path / "model")
    # Its export records the lineage: this run's steps on top of the exported model's.
    main(["latent", "--run", str(tmp_path / "ft"), "--cache", str(cache), "--quiet",
                "--num-images", str(NUM_IMAGES), "--steps", "2", "--batch", "8"])
    main(["directions", "--run", str(tmp_path / "ft"), "--cache", str(cache), "--quiet",
                "--num-train", str(NUM_TRAIN), "--num-test", str(NUM_TEST)])
    main(["export", "--run", str(tmp_path / "ft"), "--out", str(tmp_path / "tuned")])
    info = DiffAEPipeline.from_pretrained(tmp_path / "tuned", device="cpu").attribute_info["training"]
    assert info["autoencoder_steps"] == 3 and info["init"]["autoencoder_steps"] == LEARN_STEPS
    assert info["total_autoencoder_steps"] == 3 + LEARN_STEPS
    assert info["init"]["path"] == str(tmp_path / "model")


def test_semantic_path_gets_its_own_learning_rate(trained: Path, cache: Path, tmp_path: Path) -> None:
    model = DiffAEUNet(TINY.autoencoder)
    rest, semantic = parameter_groups(model, 10.0)
    names = {id(p): n for n, p in model.named_parameters()}
    sem_names = {names[id(p)] for p in semantic["params"]}
    assert {n for n in names.values() if n.startswith("encoder.")} <= sem_names
    assert any(".cond_emb_layers." in n for n in sem_names)
    assert all(n.startswith("encoder.") or ".cond_emb_layers." in n for n in sem_names)
    assert len(rest["params"]) + len(semantic["params"]) == len(names)
    state = _autoencoder(tmp_path, cache, 2, "--semantic-lr-mult", "10")
    rest_lr, sem_lr = (g["lr"] for g in state["optimizer"]["param_groups"])
    assert rest_lr == pytest.approx(1e-3) and sem_lr == pytest.approx(1e-2)


def test_the_face_cache_key_covers_the_drawing_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from models.facegen import face, render

    before = data.facegen_digest()
    for module in (render, face):  # the drawing, and the face geometry it draws
        edited = tmp_path / Path(str(module.__file__)).name
        edited.write_bytes(Path(str(module.__file__)).read_bytes() + b"\n# a changed renderer\n")
        with monkeypatch.context() as mp:
            mp.setattr(module, "__file__", str(edited))
            assert data.facegen_digest() != before
    assert data.facegen_digest() == before


def test_v_prediction_learns_v_and_the_pipeline_samples_with_its_epsilon(
        trained: Path, cache: Path, tmp_path: Path) -> None:
    main(["export", "--run", str(trained), "--out", str(tmp_path / "eps")])
    before = _autoencoder(tmp_path / "v0", cache, 0, "--init", str(tmp_path / "eps"), "--prediction", "v")
    state = _autoencoder(tmp_path / "v", cache, LEARN_STEPS, "--init", str(tmp_path / "eps"),
                         "--prediction", "v")
    assert state["config"]["diffusion"]["prediction"] == "v"
    # The loss it lowers is the v-MSE: v = √ᾱ ε − √(1−ᾱ) x_0 on fixed batches.
    images, _ = data.facegen_images(NUM_IMAGES, SIZE, cache=cache)
    assert (_fixed_batch_loss(state["model"], images, predict_v=True, seed=7)
            < 0.8 * _fixed_batch_loss(before["model"], images, predict_v=True, seed=7))
    x_0, t, eps, a = _fixed_batch(images, 7)
    x_t = a.sqrt() * x_0 + (1 - a).sqrt() * eps
    # Exported, the pipeline hands the sampler ε = √ᾱ v̂ + √(1−ᾱ) x_t, computed in fp32.
    main(["export", "--run", str(tmp_path / "v"), "--out", str(tmp_path / "vmodel")])
    pipe = DiffAEPipeline.from_pretrained(tmp_path / "vmodel", device="cpu", dtype=torch.float32)
    assert pipe.config.diffusion.prediction == "v"
    z = pipe.encode_semantic(x_0)
    with torch.no_grad():
        v_hat = pipe.autoencoder(x_t, t, z)
    assert torch.allclose(pipe._eps_fn(z)(x_t, t), a.sqrt() * v_hat + (1 - a).sqrt() * x_t, atol=1e-5)
    assert pipe.decode(z[:2], torch.randn(2, 3, SIZE, SIZE), steps=5).abs().max() <= 1
    # A v run resumes only as v, and the ε-weighting option does not apply to it.
    with pytest.raises(SystemExit, match="cannot resume"):
        _autoencoder(tmp_path / "v", cache, LEARN_STEPS + 1, "--prediction", "eps")
    with pytest.raises(SystemExit, match="x0-weight-max"):
        _autoencoder(tmp_path / "v2", cache, 1, "--prediction", "v", "--x0-weight-max", "50")


# ---------------------------------------------------------------------------------- options
def test_every_option_is_a_flag_and_the_flags_parse_into_the_options() -> None:
    for command, (kind, _) in COMMANDS.items():
        required = ["--run", "r"] + (["--out", "o"] if kind is ExportOptions else [])
        name, options = parse([command, *required])
        assert name == command and type(options) is kind
        assert {k: v for k, v in vars(options).items() if k in defaults(kind)} == defaults(kind)
    assert parse(["latent", "--run", "r", "--steps", "5"])[1] == LatentOptions(run="r", steps=5)
    flags = ["autoencoder", "--run", "r", "--no-flip", "--x0-weight-max", "50"]
    assert parse(flags)[1] == AutoencoderOptions(run="r", flip=False, x0_weight_max=50.0)
    assert parse(["directions", "--run", "r", "--C", "0.5"])[1] == DirectionsOptions(run="r", C=0.5)
    # What a run records (and an export copies into attributes.json) keeps the flags' names.
    assert list(record("latent", LatentOptions(run="r"))) == [
        "command", "run", "data", "num_images", "cache", "seed", "threads", "quiet",
        "steps", "batch", "lr", "ema", "grad_clip"]


def test_the_loop_runs_from_its_options_alone(cache: Path, tmp_path: Path) -> None:
    """No command line: the same options the CLI would build give the same checkpoint."""
    options = AutoencoderOptions(run=str(tmp_path / "direct"), preset="tiny", num_images=NUM_IMAGES,
                                 cache=str(cache), steps=2, batch=4, lr=1e-3, ckpt_every=1000,
                                 log_every=1, quiet=True)
    direct = torch.load(train_autoencoder(options), weights_only=False)
    via_cli = _autoencoder(tmp_path / "cli", cache, 2)
    assert direct["args"] == {**via_cli["args"], "run": str(tmp_path / "direct")}
    for key in ("model", "ema"):
        _assert_identical(direct[key], via_cli[key], key)
