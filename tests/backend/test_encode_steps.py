"""Which inversion step count an encode without `steps` gets (DEFAULT_ENCODE_STEPS, the model's
`encode_steps`, the default steps; capped at MAX_STEPS by a legal count)."""

from __future__ import annotations

from backend.facts import encode_default_steps
from backend.settings import Settings
from worker.contracts import ModelInfo


def _info(encode_steps: int | None, default_steps: int = 20) -> ModelInfo:
    return ModelInfo(model_dir="m", preset="demo64", image_size=64, num_timesteps=1000,
                     default_steps=default_steps, latent_default_steps=None, can_sample=False,
                     attributes=[], default_encode_steps=encode_steps)


def test_the_setting_wins_then_the_model_then_the_default_steps() -> None:
    assert encode_default_steps(Settings(default_encode_steps=100), _info(50)) == 100
    assert encode_default_steps(Settings(), _info(50)) == 50
    assert encode_default_steps(Settings(default_steps=10), _info(None)) == 10
    assert encode_default_steps(Settings(), _info(None, default_steps=25)) == 25


def test_a_model_default_above_max_steps_becomes_the_largest_legal_count_within() -> None:
    assert encode_default_steps(Settings(max_steps=37), _info(250)) == 36  # 37 is not legal
    assert encode_default_steps(Settings(max_steps=250), _info(250)) == 250
