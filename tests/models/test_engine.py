"""Compiled engines (`models.engine`): exported once per model and cached on disk, checked
against eager before use, chosen by measurement, and never a new way to fail."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from models.engine import build_engine, check_engine, choose_engine, export_onnx, model_key
from models.pipeline import DiffAEPipeline
from models.unet import DiffAEUNet
from tests.models.nets import TINY_CONFIG, TINY_SIZE, perturbed


def tiny_unet(seed: int) -> DiffAEUNet:
    torch.manual_seed(seed)
    return perturbed(DiffAEUNet(TINY_CONFIG.autoencoder), seed).eval()


def test_export_is_cached_per_model(tmp_path: Path) -> None:
    unet = tiny_unet(0)
    first = export_onnx(unet, tmp_path)
    assert first.exported and first.step.is_file() and first.encode.is_file()
    stamp = first.step.stat().st_mtime_ns
    again = export_onnx(unet, tmp_path)
    assert not again.exported and again.step == first.step and again.step.stat().st_mtime_ns == stamp
    other = export_onnx(tiny_unet(1), tmp_path)  # other weights: another entry
    assert other.exported and other.directory != first.directory
    assert model_key(tiny_unet(1)) == model_key(tiny_unet(1)) != model_key(unet)
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize("name,precision", [("onnxruntime", "float32"), ("openvino", "float32")])
def test_engine_matches_eager_at_any_batch(tmp_path: Path, name: str, precision: str) -> None:
    unet = tiny_unet(0)
    engine = build_engine(name, unet, tmp_path, precision=precision)
    assert check_engine(engine, unet, TINY_SIZE) < 1e-4
    g = torch.Generator().manual_seed(3)
    for batch in (1, 3, 5):  # the batch axis is dynamic: strips and interpolations batch
        x = torch.randn(batch, 3, TINY_SIZE, TINY_SIZE, generator=g)
        z = torch.randn(batch, TINY_CONFIG.autoencoder.z_dim, generator=g)
        t = torch.randint(0, 1000, (batch,), generator=g)
        with torch.inference_mode():
            want_eps, want_z = unet(x, t, z), unet.encode(x)
        torch.testing.assert_close(engine.step(x, t, z), want_eps, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(engine.encode(x), want_z, atol=1e-4, rtol=1e-4)


def test_an_engine_of_other_weights_fails_its_check(tmp_path: Path) -> None:
    wrong = build_engine("onnxruntime", tiny_unet(1), tmp_path)
    with pytest.raises(ValueError, match="differs from eager fp32"):
        check_engine(wrong, tiny_unet(0), TINY_SIZE)


def test_a_corrupt_cache_falls_back_to_eager_with_a_log_line(tmp_path: Path, caplog) -> None:
    unet = tiny_unet(0)
    files = export_onnx(unet, tmp_path)
    files.step.write_bytes(b"not an onnx file")
    with caplog.at_level(logging.WARNING, logger="models.engine"):
        choice = choose_engine(unet, lambda x, t, z: unet(x, t, z), tmp_path, [("onnxruntime", "float32")])
    assert choice.engine is None and choice.name == "eager"
    assert "onnxruntime-float32" in choice.failures
    assert "not usable" in caplog.text and "onnxruntime-float32" in caplog.text


def test_choice_keeps_the_fastest_only_when_it_beats_eager(tmp_path: Path) -> None:
    unet = tiny_unet(0)

    def eager(x: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return unet(x, t, z)

    chosen = choose_engine(unet, eager, tmp_path, [("onnxruntime", "float32")], rounds=3, margin=float("inf"))
    assert chosen.engine is not None and chosen.name == "onnxruntime-float32"
    assert set(chosen.seconds_per_step) == {"eager", "onnxruntime-float32"}
    never = choose_engine(unet, eager, tmp_path, [("onnxruntime", "float32")], rounds=3, margin=0.0)
    assert never.engine is None and never.seconds_per_step  # measured, then refused
    assert "engine eager" in never.summary() and "onnxruntime-float32" in never.summary()


def test_unknown_engine_and_precision_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown engine"):
        build_engine("tensorrt", tiny_unet(0), tmp_path)
    with pytest.raises(ValueError, match="float32 only"):
        build_engine("onnxruntime", tiny_unet(0), tmp_path, precision="bfloat16")


def test_pipeline_runs_its_networks_on_the_engine(tmp_path: Path) -> None:
    pipe = DiffAEPipeline(TINY_CONFIG, tiny_unet(0), device="cpu", dtype=torch.float32)
    engine = build_engine("onnxruntime", pipe.autoencoder, tmp_path)
    calls = {"step": 0, "encode": 0}

    class Counting:
        name, precision = engine.name, engine.precision

        def step(self, *args: torch.Tensor) -> torch.Tensor:
            calls["step"] += 1
            return engine.step(*args)

        def encode(self, x: torch.Tensor) -> torch.Tensor:
            calls["encode"] += 1
            return engine.encode(x)

    x = torch.rand(2, 3, TINY_SIZE, TINY_SIZE) * 2 - 1
    z, x_T = pipe.encode(x, 4)
    eager = pipe.decode(z, x_T, 4)
    pipe.use_engine(Counting())
    z_e, x_T_e = pipe.encode(x, 4)
    on_engine = pipe.decode(z_e, x_T_e, 4)
    assert calls == {"step": 8, "encode": 1}
    torch.testing.assert_close(on_engine, eager, atol=1e-3, rtol=0)
    pipe.use_engine(None)
    pipe.decode(z, x_T, 4)
    assert calls["step"] == 8  # back on eager
