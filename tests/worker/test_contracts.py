"""The torch-free contracts: payloads, results by image id, model facts read without torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from models.config import AutoencoderConfig, DiffusionConfig, LatentNetConfig, ModelConfig
from worker.contracts import EncodeJob, ManipulateJob, ModelInfo


def test_payloads_carry_ids_and_small_parameters_only() -> None:
    job = EncodeJob(job_id="a" * 32, image_key="c" * 32, latent_id="b" * 32, steps=10)
    assert EncodeJob.model_validate(json.loads(job.model_dump_json())) == job
    with pytest.raises(ValidationError):
        EncodeJob(job_id="a" * 32, image_key="c" * 32, latent_id="b" * 32, steps=10, image=b"...")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ManipulateJob(job_id="not-an-id", image_key="c" * 32, latent_id="b" * 32, edits={}, steps=10)
    with pytest.raises(ValidationError):  # every job names its images with a secret of its own
        ManipulateJob(job_id="a" * 32, latent_id="b" * 32, edits={}, steps=10)  # type: ignore[call-arg]


def _write_model(root: Path, *, classifier: bool, latent: bool) -> None:
    root.mkdir()
    config = ModelConfig(
        "tiny",
        AutoencoderConfig(image_size=32, channel_mult=(1, 1), enc_channel_mult=(1, 1)),
        diffusion=DiffusionConfig(default_steps=20, encode_steps=50 if latent else None),
        latent_net=LatentNetConfig(num_channels=8) if latent else None,
        latent_diffusion=DiffusionConfig(default_steps=10, beta_schedule="const0.008", clip_denoised=False),
    ).to_dict()
    if latent:
        (root / "latent_net.safetensors").write_bytes(b"")
    (root / "config.json").write_text(json.dumps(config))
    if classifier:
        (root / "classifier.safetensors").write_bytes(b"")
        info = {"names": ["Young", "Male"], "auroc": {"Young": 0.9}, "ranges": {"Male": [-0.3, 0.3]}}
        (root / "attributes.json").write_text(json.dumps(info))


def test_model_info_reads_a_model_dir_without_torch(tmp_path: Path) -> None:
    _write_model(tmp_path / "full", classifier=True, latent=True)
    info = ModelInfo.from_dir(tmp_path / "full")
    assert (info.preset, info.image_size, info.default_steps, info.latent_default_steps) == (
        "tiny",
        32,
        20,
        10,
    )
    assert info.can_sample and info.attributes == ["Young", "Male"] and info.default_encode_steps == 50
    assert info.auroc == {"Young": 0.9} and info.ranges == {"Male": (-0.3, 0.3)}

    _write_model(tmp_path / "bare", classifier=False, latent=False)
    bare = ModelInfo.from_dir(tmp_path / "bare")
    assert not bare.can_sample and bare.attributes == [] and bare.latent_default_steps is None
    assert bare.default_encode_steps is None  # older configs have no encode_steps

    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        ModelInfo.from_dir(tmp_path / "missing")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="not a DiffAE model config"):
        ModelInfo.from_dir(tmp_path / "junk")
