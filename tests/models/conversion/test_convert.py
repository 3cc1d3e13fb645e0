"""The conversion (`python -m models.conversion`) on tiny fake official checkpoints (Lightning
layout, real prefixes).

The fake files carry what makes the real ones awkward: `callbacks` keyed by a class from a
module that no longer exists when they are read, a Lightning-style `AttributeDict`, and a
payload that writes a marker file if anything unpickles it without restriction.
"""

from __future__ import annotations

import collections
import contextlib
import json
import pickle
import runpy
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from models.checkpoint import canonical_state
from models.classifier import CELEBA_ATTRIBUTES
from models.config import AutoencoderConfig, LatentNetConfig, ModelConfig
from models.conversion.cli import main
from models.conversion.infer_config import infer_autoencoder_config, preset_name
from models.conversion.official import load_checkpoint
from models.conversion.safe_pickle import Placeholder
from models.latent_net import LatentMLP
from models.pipeline import DiffAEPipeline
from models.unet import DiffAEUNet
from tests.models.nets import TINY_CONFIG

# Its own shape on purpose, not the shared tiny config: 32 px, an encoder one level deeper than
# the UNet and with fewer ResBlocks per level (which the shape inference must tell apart).
SMALL = AutoencoderConfig(
    image_size=32, model_channels=32, channel_mult=(1, 2), attention_resolutions=(16,),
    embed_channels=64, enc_out_channels=64, enc_channel_mult=(1, 2, 2), enc_num_res_blocks=1,
)
# and a latent MLP whose skip layers are not all but the first, as the inference must read them
SMALL_LATENT = LatentNetConfig(num_channels=64, num_hid_channels=128, num_layers=4, skip_layers=(1, 3),
                               num_time_emb_channels=32)
FAKE_PL = "fake_lightning"
CALLBACK_CLASS = f"{FAKE_PL}.callbacks.model_checkpoint.ModelCheckpoint"
Capture = pytest.CaptureFixture[str]


def _randomized(module: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Random values for every tensor (zero-initialised layers included), with aliases kept."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return {k: v.clone() for k, v in module.state_dict().items()}


class _MarkerPayload:
    """Unpickling this with a plain unpickler creates `path` (stands in for arbitrary code)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


@contextlib.contextmanager
def fake_lightning() -> Iterator[None]:
    """Importable Lightning look-alike modules, only while a file is written (or, for the
    control test, read): every other load happens with the module impossible to import."""
    names = [FAKE_PL, f"{FAKE_PL}.callbacks", f"{FAKE_PL}.callbacks.model_checkpoint",
             f"{FAKE_PL}.utilities", f"{FAKE_PL}.utilities.parsing"]
    modules = {n: types.ModuleType(n) for n in names}
    mc, parsing = modules[names[2]], modules[names[4]]
    mc.ModelCheckpoint = type("ModelCheckpoint", (), {"__module__": mc.__name__})  # type: ignore[attr-defined]
    parsing.AttributeDict = type("AttributeDict", (dict,), {"__module__": parsing.__name__})  # type: ignore[attr-defined]
    sys.modules.update(modules)
    try:
        yield
    finally:
        for n in names:
            del sys.modules[n]


def _lightning_file(path: Path, state: dict[str, torch.Tensor], marker: Path, step: int) -> Path:
    """torch.save a PL-1.4-like checkpoint dict around `state`."""
    with fake_lightning():
        mc = sys.modules[f"{FAKE_PL}.callbacks.model_checkpoint"]
        hparams = sys.modules[f"{FAKE_PL}.utilities.parsing"].AttributeDict(
            name="fake", lr=1e-4, payload=_MarkerPayload(marker)
        )
        first = next(iter(state.values()))
        torch.save({
            "epoch": 3, "global_step": step, "pytorch-lightning_version": "1.4.5",
            "state_dict": collections.OrderedDict(state),
            "callbacks": {mc.ModelCheckpoint: {"monitor": None, "best_model_score": torch.tensor(0.5),
                                               "best_model_path": "/ckpt/last.ckpt"}},
            "optimizer_states": [{"state": {0: {"step": 10, "exp_avg": torch.zeros_like(first)}},
                                  "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "params": [0]}]}],
            "lr_schedulers": [], "native_amp_scaling_state": {"scale": 65536.0, "_growth_tracker": 7},
            "hyper_parameters": hparams,
            "extras": {b"raw": {1, 2}, "span": slice(1, 3), "z": complex(1, 2)},
        }, path)
    assert FAKE_PL not in sys.modules
    return path


class Fake:
    """The three official-layout files plus the reference networks they came from."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.marker = root / "pwned-marker"
        self.ema_net = DiffAEUNet(SMALL)
        self.ema = _randomized(self.ema_net, seed=1)
        raw = _randomized(DiffAEUNet(SMALL), seed=2)  # `model.*`: must be ignored
        self.x_T = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(3))
        self.autoenc_state = {"x_T": self.x_T, **{f"model.{k}": v for k, v in raw.items()},
                              **{f"ema_model.{k}": v for k, v in self.ema.items()}}

        self.latent_net = LatentMLP(SMALL_LATENT)
        self.latent = _randomized(self.latent_net, seed=4)
        raw_latent = _randomized(LatentMLP(SMALL_LATENT), seed=5)
        self.latent_net.load_state_dict(self.latent)
        g = torch.Generator().manual_seed(6)
        self.conds_mean = torch.randn(1, 64, generator=g)
        self.conds_std = torch.rand(1, 64, generator=g) + 0.5
        self.latent_state = {
            "x_T": self.x_T, "conds_mean": self.conds_mean, "conds_std": self.conds_std,
            **{f"model.{k}": v for k, v in raw.items()},
            **{f"model.latent_net.{k}": v for k, v in raw_latent.items()},
            **{f"ema_model.{k}": v for k, v in self.ema.items()},
            **{f"ema_model.latent_net.{k}": v for k, v in self.latent_net.state_dict().items()},
        }
        self.cls_state = {
            "conds_mean": self.conds_mean, "conds_std": self.conds_std,
            "classifier.weight": torch.randn(40, 64, generator=g),
            "classifier.bias": torch.randn(40, generator=g),
            "ema_classifier.weight": torch.randn(40, 64, generator=g),
            "ema_classifier.bias": torch.randn(40, generator=g),
        }
        self.autoenc = self.write("autoenc.ckpt", self.autoenc_state)
        self.latent_file = self.write("latent.ckpt", self.latent_state)
        self.cls = self.write("cls.ckpt", self.cls_state, step=9375)

    def write(self, name: str, state: dict[str, torch.Tensor], step: int = 1234) -> Path:
        return _lightning_file(self.root / name, state, self.marker, step)


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Fake:
    files = Fake(tmp_path_factory.mktemp("official"))
    assert not files.marker.exists()
    return files


@pytest.fixture(scope="module")
def converted(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    out = tmp_path_factory.mktemp("converted") / "model"
    code = main(["--autoenc", str(fake.autoenc), "--latent", str(fake.latent_file),
                 "--classifier", str(fake.cls), "--out", str(out)])
    return out, code


def run(*argv: str | Path) -> int:
    return main([str(a) for a in argv])


# ------------------------------------------------------------------ safe loading
def test_weights_only_load_refuses_the_lightning_file(fake: Fake) -> None:
    """Why the custom loader exists: torch's safe mode rejects the Lightning class globals."""
    with pytest.raises(pickle.UnpicklingError, match=FAKE_PL):
        torch.load(fake.autoenc, weights_only=True)


def test_marker_payload_is_live_under_plain_pickle(tmp_path: Path) -> None:
    """Control for the next test: an unrestricted load does run the payload."""
    marker = tmp_path / "plain-marker"
    path = _lightning_file(tmp_path / "plain.ckpt", {"a": torch.zeros(1)}, marker, 1)
    with fake_lightning():
        torch.load(path, weights_only=False)
    assert marker.exists()


def test_safe_loader_reads_tensors_and_runs_nothing(fake: Fake) -> None:
    ckpt = load_checkpoint(fake.autoenc)
    assert not fake.marker.exists()
    (key,) = ckpt["callbacks"]
    assert issubclass(key, Placeholder) and key.target == CALLBACK_CLASS
    hparams = ckpt["hyper_parameters"]
    assert isinstance(hparams, Placeholder) and hparams.entries["lr"] == 1e-4
    assert isinstance(hparams.entries["payload"], Placeholder)
    assert hparams.entries["payload"].target in ("io.open", "builtins.open")
    assert ckpt["extras"] == {b"raw": {1, 2}, "span": slice(1, 3), "z": complex(1, 2)}
    assert ckpt["global_step"] == 1234
    state = ckpt["state_dict"]
    assert list(state) == list(fake.autoenc_state)
    assert all(torch.equal(state[k], v) for k, v in fake.autoenc_state.items())


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_safe_loader_never_calls_a_blocked_global(tmp_path: Path, zip_format: bool) -> None:
    """getattr (how protocol 2 pickles methods) and system calls stay inert placeholders, in
    the zip format and in the legacy one (which also reads its headers through `load`)."""
    marker = tmp_path / "touched"

    class Touch:
        def __reduce__(self) -> tuple[Any, ...]:
            return (Path.touch, (marker,))

    class System:
        def __reduce__(self) -> tuple[Any, ...]:
            import os

            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "a": Touch(), "b": System()}, path,
               _use_new_zipfile_serialization=zip_format)
    loaded = load_checkpoint(path)
    assert not marker.exists()
    assert isinstance(loaded["a"], Placeholder) and isinstance(loaded["b"], Placeholder)
    assert torch.equal(loaded["state_dict"]["w"], torch.ones(2))


# ------------------------------------------------------------------ successful conversion
def test_conversion_exits_zero_and_takes_the_ema_weights(fake: Fake, converted: tuple[Path, int]) -> None:
    out, code = converted
    assert code == 0
    assert not fake.marker.exists()
    pipe = DiffAEPipeline.from_pretrained(out, device="cpu", dtype=torch.float32)
    assert pipe.config == ModelConfig("custom", SMALL, latent_net=SMALL_LATENT)
    g = torch.Generator().manual_seed(7)
    x_t, z = torch.randn(2, 3, 32, 32, generator=g), torch.randn(2, 64, generator=g)
    t = torch.tensor([10, 900])
    with torch.no_grad():
        assert torch.equal(pipe.autoencoder(x_t, t, z), fake.ema_net.eval()(x_t, t, z))
        assert torch.equal(pipe.autoencoder.encode(x_t), fake.ema_net.encode(x_t))
        z_t = torch.randn(2, 64, generator=g)
        assert torch.equal(pipe.latent_net(z_t, t), fake.latent_net.eval()(z_t, t))
    ours = canonical_state(pipe.autoencoder)
    assert all(torch.equal(ours[k], fake.ema[k]) for k in ours)
    assert not torch.equal(ours["out.2.weight"], fake.autoenc_state["model.out.2.weight"])


def test_classifier_is_the_non_ema_one_and_stats_are_flat(fake: Fake, converted: tuple[Path, int]) -> None:
    out, _ = converted
    pipe = DiffAEPipeline.from_pretrained(out, device="cpu", dtype=torch.float32)
    assert pipe.classifier is not None and pipe.latent_stats is not None
    assert torch.equal(pipe.classifier.weight, fake.cls_state["classifier.weight"])
    assert torch.equal(pipe.classifier.bias, fake.cls_state["classifier.bias"])
    assert torch.equal(pipe.classifier.conds_mean, fake.conds_mean.reshape(64))
    assert torch.equal(pipe.classifier.conds_std, fake.conds_std.reshape(64))
    mean, std = pipe.latent_stats
    assert mean.shape == std.shape == (64,)
    assert torch.equal(mean, fake.conds_mean.reshape(64)) and torch.equal(std, fake.conds_std.reshape(64))
    assert pipe.attributes == CELEBA_ATTRIBUTES
    info = json.loads((out / "attributes.json").read_text())
    assert info["names"] == list(CELEBA_ATTRIBUTES)
    assert info["global_step"] == 9375 and info["file"].endswith("cls.ckpt")
    assert pipe.can_sample


def test_summary_names_preset_and_sizes(fake: Fake, tmp_path: Path, capsys: Capture) -> None:
    assert run("--autoenc", fake.autoenc, "--out", tmp_path / "m", "--preset-name", "tiny") == 0
    text = capsys.readouterr().out
    assert "preset 'tiny'" in text and "32 px" in text and "can sample: no" in text
    assert f"{sum(p.numel() for p in fake.ema_net.parameters()):,} parameters" in text
    assert json.loads((tmp_path / "m" / "config.json").read_text())["preset"] == "tiny"
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "m").iterdir()}
    assert len(set(modes.values())) == 1, modes  # weights as readable as config.json
    assert not (tmp_path / "m" / "classifier.safetensors").exists()


def test_inference_reads_the_small_config_and_names_presets_by_shape() -> None:
    shapes = {k: tuple(v.shape) for k, v in DiffAEUNet(SMALL).state_dict().items()}
    assert infer_autoencoder_config(shapes, 32) == SMALL
    assert preset_name(SMALL) == "custom"
    with pytest.raises(ValueError, match=r"encoder\.input_blocks"):
        infer_autoencoder_config({k: v for k, v in shapes.items() if not k.startswith("encoder.input")}, 32)


def test_refuses_a_non_empty_output_directory(fake: Fake, tmp_path: Path,
                                              capsys: Capture) -> None:
    (tmp_path / "keep.txt").write_text("x")
    assert run("--autoenc", fake.autoenc, "--out", tmp_path) == 1
    assert "not empty" in capsys.readouterr().err and (tmp_path / "keep.txt").exists()


# ------------------------------------------------------------------ layout errors
def _convert_modified(fake: Fake, tmp_path: Path, capsys: Capture, which: str,
                      state: dict[str, torch.Tensor]) -> str:
    path = fake.write(f"modified-{which}.ckpt", state)
    files = {"autoenc": fake.autoenc, "latent": fake.latent_file, "classifier": fake.cls, which: path}
    code = run("--autoenc", files["autoenc"], "--latent", files["latent"],
               "--classifier", files["classifier"], "--out", tmp_path / "out")
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err and err.startswith("error: ")
    assert not (tmp_path / "out" / "config.json").exists()
    return err


KEY = "ema_model.output_blocks.0.0.emb_layers.1.bias"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("missing", ["missing 1", "output_blocks.0.0.emb_layers.1.bias"]),
        ("extra", ["unexpected 1", "input_blocks.1.0.extra.weight"]),
        ("misshaped", ["misshaped 1", "middle_block.0.cond_emb_layers.1.weight (32, 64)"]),
        ("stray", ["unexpected tensors", "optimizer.exp_avg"]),
        ("uninferable", ["autoenc.ckpt (ema_model.*): cannot infer", "time_embed.time_embed.0.weight"]),
    ],
)
def test_autoencoder_layout_errors_name_the_key(fake: Fake, tmp_path: Path, capsys: Capture,
                                                change: str, expected: list[str]) -> None:
    state = dict(fake.autoenc_state)
    if change == "missing":
        del state[KEY]
    elif change == "extra":
        state["ema_model.input_blocks.1.0.extra.weight"] = torch.zeros(3)
    elif change == "misshaped":
        state["ema_model.middle_block.0.cond_emb_layers.1.weight"] = torch.zeros(32, 64)
    elif change == "stray":
        state["optimizer.exp_avg"] = torch.zeros(3)
    else:
        del state["ema_model.time_embed.time_embed.0.weight"]
    err = _convert_modified(fake, tmp_path, capsys, "autoenc", state)
    for text in expected:
        assert text in err


def test_latent_alias_and_z_size_errors(fake: Fake, tmp_path: Path, capsys: Capture) -> None:
    state = dict(fake.latent_state)
    state["ema_model.latent_net.layers.1.cond_layers.1.weight"] = torch.zeros(128, 64)
    err = _convert_modified(fake, tmp_path, capsys, "latent", state)
    assert "layers.1.cond_layers.1.weight differs from its alias layers.1.linear_emb.weight" in err

    state = dict(fake.latent_state)
    state["ema_model.latent_net.layers.3.cond_layers.1.weight"] = torch.zeros(64, 64)  # last layer: none
    err = _convert_modified(fake, tmp_path, capsys, "latent", state)
    assert "without their twin: ema_model.latent_net.layers.3.cond_layers.1.weight" in err

    assert TINY_CONFIG.latent_net is not None  # a latent MLP for z of size 32, not the files' 64
    other = LatentMLP(TINY_CONFIG.latent_net)
    state = {**{k: v for k, v in fake.latent_state.items() if "latent_net" not in k},
             **{f"ema_model.latent_net.{k}": v for k, v in other.state_dict().items()}}
    err = _convert_modified(fake, tmp_path, capsys, "latent", state)
    assert "z of size 32" in err and "z_dim is 64" in err


def test_files_from_different_autoencoders_are_flagged(fake: Fake, tmp_path: Path, capsys: Capture) -> None:
    """Same shapes, other values: the latent file's encoder and the z statistics disagree."""
    state = dict(fake.latent_state)
    state["conds_mean"] = fake.conds_mean + 1
    state["ema_model.encoder.out.3.weight"] = fake.autoenc_state["model.encoder.out.3.weight"]
    path = fake.write("other-latent.ckpt", state)
    assert run("--autoenc", fake.autoenc, "--latent", path, "--classifier", fake.cls,
               "--out", tmp_path / "out") == 0
    err = capsys.readouterr().err
    assert "semantic encoder stored in" in err and "differs from --autoenc's" in err
    assert "classifier's conds_mean differs from the latent checkpoint's" in err


def test_classifier_errors(fake: Fake, tmp_path: Path, capsys: Capture) -> None:
    wrong_z = {**fake.cls_state, "classifier.weight": torch.zeros(40, 512)}
    err = _convert_modified(fake, tmp_path, capsys, "classifier", wrong_z)
    assert "classifier.weight is (40, 512)" in err and "z_dim 64" in err

    extra = {**fake.cls_state, "classifier.extra": torch.zeros(1)}
    assert "unexpected 1: classifier.extra" in _convert_modified(fake, tmp_path, capsys, "classifier", extra)

    no_ema = {k: v for k, v in fake.cls_state.items() if not k.startswith("ema_")}
    err = _convert_modified(fake, tmp_path, capsys, "classifier", no_ema)
    assert "missing 2: ema_classifier.bias, ema_classifier.weight" in err

    err = _convert_modified(fake, tmp_path, capsys, "autoenc", fake.cls_state)
    assert "no ema_model.* tensors" in err and "--classifier" in err


def test_missing_classifier_stats_come_from_latent_pkl(fake: Fake, tmp_path: Path) -> None:
    pkl = tmp_path / "latent.pkl"
    torch.save({"conds": torch.randn(5, 64), "conds_mean": fake.conds_mean[0] + 1,
                "conds_std": fake.conds_std[0]}, pkl)
    no_stats = {k: v for k, v in fake.cls_state.items() if not k.startswith("conds_")}
    cls = fake.write("cls-no-stats.ckpt", no_stats)
    assert run("--autoenc", fake.autoenc, "--classifier", cls, "--out", tmp_path / "out") == 1
    assert run("--autoenc", fake.autoenc, "--classifier", cls, "--latent-stats", pkl,
               "--out", tmp_path / "out") == 0
    pipe = DiffAEPipeline.from_pretrained(tmp_path / "out", device="cpu", dtype=torch.float32)
    assert pipe.classifier is not None
    assert torch.equal(pipe.classifier.conds_mean, fake.conds_mean[0] + 1)


def test_not_a_checkpoint_and_missing_state_dict(fake: Fake, tmp_path: Path,
                                                 capsys: Capture) -> None:
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"this is not a checkpoint\n" * 10)
    assert run("--autoenc", junk, "--out", tmp_path / "a") == 1
    assert "not a readable PyTorch checkpoint" in capsys.readouterr().err

    bare = tmp_path / "bare.ckpt"
    torch.save({"epoch": 1, "weights": {"w": torch.zeros(1)}}, bare)
    assert run("--autoenc", bare, "--out", tmp_path / "b") == 1
    assert "no 'state_dict' entry" in capsys.readouterr().err

    assert run("--autoenc", tmp_path / "absent.ckpt", "--out", tmp_path / "c") == 1
    assert "file not found" in capsys.readouterr().err


def test_command_line_entry_point_reports_without_traceback(
        fake: Fake, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m models.conversion`, run in this interpreter: exit status 1 and one error line."""
    state = {k: v for k, v in fake.autoenc_state.items() if k != KEY}
    path = fake.write("cli-missing.ckpt", state)
    argv = ["models.conversion", "--autoenc", str(path), "--out", str(tmp_path / "o")]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("models.conversion", run_name="__main__", alter_sys=True)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "output_blocks.0.0.emb_layers.1.bias" in err
