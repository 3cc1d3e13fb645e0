"""Directions taught from examples (#17 item 1): the fit finds the direction that separates the
examples, says how well it does on held-out ones, and learns from positives and unlabelled faces."""

from __future__ import annotations

import numpy as np
import pytest

from models.teach import MIN_EXAMPLES, teach


def faces(n: int, shift: float, direction: np.ndarray, seed: int) -> np.ndarray:
    """n normalised z_sem around `shift` along `direction`."""
    return np.random.default_rng(seed).standard_normal((n, len(direction))) + shift * direction


def test_labelled_examples_give_the_separating_direction_and_its_held_out_accuracy() -> None:
    truth = np.zeros(32)
    truth[3] = 1.0
    fit = teach(faces(15, 1.5, truth, 0), faces(15, -1.5, truth, 1))
    assert fit.direction.shape == (32,) and abs(float(np.linalg.norm(fit.direction)) - 1) < 1e-5
    assert float(fit.direction @ truth) > 0.8 and fit.method == "labelled"
    assert fit.accuracy is not None and fit.accuracy > 0.85 and fit.auroc > 0.9 and fit.folds == 5
    noise = teach(faces(15, 0.0, truth, 2), faces(15, 0.0, truth, 3))  # nothing to learn
    assert noise.accuracy is not None and noise.accuracy < 0.75  # held out, it says so


def test_positives_against_unlabelled_faces_find_the_same_direction() -> None:
    truth = np.zeros(32)
    truth[5] = 1.0
    unlabelled = np.concatenate([faces(60, -1.5, truth, 4), faces(20, 1.5, truth, 5)])  # some have it
    fit = teach(faces(12, 1.5, truth, 6), unlabelled, "positive-unlabelled")
    # a random unit vector has |cos| ~ 1/sqrt(32) = 0.18 with it
    assert float(fit.direction @ truth) > 0.5 and fit.accuracy is None and fit.auroc > 0.65


def test_too_few_examples_are_refused() -> None:
    truth = np.ones(8) / np.sqrt(8)
    with pytest.raises(ValueError, match=f"at least {MIN_EXAMPLES} faces without"):
        teach(faces(12, 1, truth, 0), faces(MIN_EXAMPLES - 1, -1, truth, 1))
    with pytest.raises(ValueError, match="one D"):
        teach(faces(12, 1, truth, 0), np.zeros((12, 9)))
