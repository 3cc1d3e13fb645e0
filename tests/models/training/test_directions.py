"""`fit_directions` on synthetic z_sem with known attribute directions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.classifier import AttributeClassifier
from models.training.directions import fit_directions

D, K = 16, 3
NAMES = ("Smiling", "Young", "Male")


def _data(n: int, truth: np.ndarray, seed: int, rates: tuple[float, ...] = (0.5, 0.3, 0.7),
          ) -> tuple[torch.Tensor, np.ndarray]:
    """z = offset + N(0, I) + Σ_k ±2·u_k: attribute k shifts z by ±2 along its unit direction u_k
    (independent labels), on top of a per-dimension offset and scale the fit must normalise away."""
    rng = np.random.default_rng(seed)
    y = rng.random((n, K)) < np.asarray(rates)
    z = rng.standard_normal((n, D)) + (2.0 * np.where(y, 1.0, -1.0)) @ truth
    scale = np.linspace(0.5, 3.0, D)
    return torch.from_numpy(3.0 + z * scale).float(), y


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    """K orthonormal directions (K, D) in the unscaled z space."""
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((D, K)))
    return q.T


def test_recovers_directions_and_separates(truth: np.ndarray) -> None:
    z_tr, y_tr = _data(2000, truth, 1)
    z_te, y_te = _data(1000, truth, 2)
    fit = fit_directions(z_tr, y_tr, z_te, y_te, NAMES)
    assert fit.names == list(NAMES)
    assert fit.weight.shape == (K, D) and fit.bias.shape == (K,)
    np.testing.assert_allclose(fit.conds_mean, z_tr.double().mean(0).numpy(), rtol=1e-5)
    np.testing.assert_allclose(fit.conds_std, z_tr.double().std(0).numpy(), rtol=1e-5)
    np.testing.assert_allclose(fit.positive_rate, y_tr.mean(0), atol=1e-6)
    # The weights live in normalised space z_n = (z − μ)/σ; in the data's own (unscaled) space the
    # classifier direction is w ⊙ (scale / σ), which must point along the true direction, sign included.
    scale = np.linspace(0.5, 3.0, D)
    for k in range(K):
        w = fit.weight[k] * scale / fit.conds_std
        cos = float(w @ truth[k] / np.linalg.norm(w))
        assert cos > 0.9, f"{NAMES[k]}: cosine {cos:.3f} with the true direction"
        assert fit.auroc[k] > 0.95


def test_classifier_from_fit_scores_held_out_faces(truth: np.ndarray) -> None:
    """Loaded into an AttributeClassifier (as `train export` does), the logits match the fit and
    an edit along an attribute raises that attribute's logit by a·√D·‖w‖."""
    z_tr, y_tr = _data(500, truth, 3)
    z_te, y_te = _data(300, truth, 4)
    fit = fit_directions(z_tr, y_tr, z_te, y_te, NAMES)
    clf = AttributeClassifier(NAMES, D)
    with torch.no_grad():
        for name in ("weight", "bias", "conds_mean", "conds_std"):
            getattr(clf, name).copy_(torch.from_numpy(getattr(fit, name)))
    logits = clf(z_te)
    accuracy = ((logits > 0).numpy() == y_te).mean(0)
    assert (accuracy > 0.85).all()
    delta = clf(clf.manipulate(z_te, {"Young": 0.3})) - logits
    expected = 0.3 * D**0.5 * float(np.linalg.norm(fit.weight[1]))
    np.testing.assert_allclose(delta[:, 1].detach().numpy(), expected, rtol=1e-4)


def test_single_class_column_names_the_attribute(truth: np.ndarray) -> None:
    z, y = _data(200, truth, 5)
    y[:, 1] = True
    with pytest.raises(ValueError, match="'Young'"):
        fit_directions(z, y, z, y, NAMES)
    y[:, 1] = False
    with pytest.raises(ValueError, match=r"'Young'.*single class"):
        fit_directions(z, y, z, y, NAMES)


def test_names_must_match_label_columns(truth: np.ndarray) -> None:
    z, y = _data(100, truth, 6)
    with pytest.raises(ValueError, match="3 columns for 2 names"):
        fit_directions(z, y, z, y, NAMES[:2])
    with pytest.raises(ValueError, match="columns"):
        fit_directions(z, y, z, y[:, :2], NAMES)


def test_stronger_regularisation_turns_the_direction_towards_the_class_means() -> None:
    """Two correlated dimensions: the label shifts both by +1, but their difference has a tiny
    variance, so the unregularised fit leans on that narrow difference (w ∝ Σ⁻¹Δμ, far from Δμ);
    a push along it leaves the data. Small C brings w back towards Δμ, where the data vary."""
    rng = np.random.default_rng(5)
    n = 4000
    y = rng.random(n) < 0.5
    common = rng.standard_normal(n) * 2.0 + np.where(y, 1.0, -1.0)
    z = np.stack([common + 0.05 * rng.standard_normal(n) + 0.1 * y,
                  common + 0.05 * rng.standard_normal(n)], 1)
    z = torch.from_numpy(np.concatenate([z, rng.standard_normal((n, 2))], 1)).float()
    labels = np.stack([y, rng.random(n) < 0.5], 1)
    names = ("Smiling", "Young")

    def cosine_with_mean_difference(C: float) -> float:
        fit = fit_directions(z, labels, z, labels, names, C=C)
        assert fit.C == C
        zn = (z.double().numpy() - fit.conds_mean) / fit.conds_std
        delta = zn[y].mean(0) - zn[~y].mean(0)
        w = fit.weight[0]
        return float(w @ delta / np.linalg.norm(w) / np.linalg.norm(delta))

    loose, tight = cosine_with_mean_difference(100.0), cosine_with_mean_difference(1e-3)
    assert tight > 0.95 > 0.8 > loose, (loose, tight)


def test_partial_labels_fit_each_attribute_on_its_own_faces() -> None:
    from models.training.directions import fit_directions_partial

    g = torch.Generator().manual_seed(0)
    z = torch.randn(400, 8, generator=g)
    y = np.full((400, 2), np.nan)
    y[:, 0] = (z[:, 0] > 0).numpy()  # every face labelled for attribute 0 (along axis 0)
    y[:100, 1] = (z[:100, 3] > 0).numpy()  # only 100 faces for attribute 1 (along axis 3)
    held_out = np.arange(400) % 5 == 0
    fit = fit_directions_partial(z, y, ["a", "b"], held_out, C=1.0)
    assert np.argmax(np.abs(fit.weight[0])) == 0 and np.argmax(np.abs(fit.weight[1])) == 3
    assert min(fit.auroc) > 0.9
    y[:100, 1] = 1.0  # a single class among the labelled faces is refused, naming the attribute
    with pytest.raises(ValueError, match="'b' has a single class"):
        fit_directions_partial(z, y, ["a", "b"], held_out)
