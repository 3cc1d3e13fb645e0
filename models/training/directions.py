"""Attribute directions: one logistic regression per attribute on normalised z_sem.

The weight rows become the classifier of `models.classifier.AttributeClassifier`; editing uses
their unit vectors (official manipulation formula). Held-out AUROC says how well each attribute
is linearly readable from z_sem, i.e. how trustworthy its slider is.

Regularisation matters for editing, not only for AUROC. A weakly regularised logistic regression
approaches w ∝ Σ⁻¹Δμ: it leans on low-variance z_sem directions that separate the classes best,
and a push along those leaves the region of z_sem the decoder was trained on, so the decoded
edit can even move the opposite way (demo64's Young, C = 1: re-encoded logit −0.005 when
pushed). Stronger regularisation moves w towards the class-mean difference Δμ, along which the
data actually vary, at a small cost in AUROC (DEFAULT_C; models/weights/demo64/README.md).
The official classifier (a linear layer trained briefly with Adam) is implicitly regularised
by its short training in the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

DEFAULT_C = 0.1


@dataclass(frozen=True)
class DirectionFit:
    names: list[str]
    weight: np.ndarray  # (K, D) in normalised z space
    bias: np.ndarray  # (K,)
    conds_mean: np.ndarray  # (D,)
    conds_std: np.ndarray  # (D,)
    auroc: list[float]  # held-out, per attribute
    positive_rate: list[float]  # in the training labels
    C: float  # inverse L2 strength of the logistic regressions


def fit_directions(
    z_train: torch.Tensor,
    y_train: np.ndarray,
    z_test: torch.Tensor,
    y_test: np.ndarray,
    names: Sequence[str],
    C: float = DEFAULT_C,
) -> DirectionFit:
    """Fit directions.

    Args:
        z_train, z_test: (N, D) z_sem. y_train, y_test: (N, K) binary labels.
        names: the K attribute names. C: inverse L2 strength of the logistic regression.
    """
    z_tr, z_te = z_train.double().numpy(), z_test.double().numpy()
    y_tr, y_te = np.asarray(y_train, dtype=bool), np.asarray(y_test, dtype=bool)
    for split, y in (("training", y_tr), ("held-out", y_te)):
        if y.shape[1] != len(names):
            raise ValueError(f"{split} labels have {y.shape[1]} columns for {len(names)} names")
    mean, std = z_tr.mean(0), z_tr.std(0, ddof=1)
    std = np.where(std > 0, std, 1.0)
    n_tr, n_te = (z_tr - mean) / std, (z_te - mean) / std
    weights, biases, aucs, rates = [], [], [], []
    for k, name in enumerate(names):
        for split, y in (("training", y_tr), ("held-out", y_te)):
            if y[:, k].all() or not y[:, k].any():
                raise ValueError(f"attribute {name!r} has a single class in the {split} labels")
        clf = LogisticRegression(C=C, max_iter=2000).fit(n_tr, y_tr[:, k])
        weights.append(clf.coef_[0])
        biases.append(clf.intercept_[0])
        aucs.append(float(roc_auc_score(y_te[:, k], clf.decision_function(n_te))))
        rates.append(float(y_tr[:, k].mean()))
    return DirectionFit(list(names), np.stack(weights).astype(np.float32),
                        np.asarray(biases, dtype=np.float32), mean.astype(np.float32),
                        std.astype(np.float32), aucs, rates, float(C))


def fit_directions_partial(
    z: torch.Tensor,
    y: np.ndarray,
    names: Sequence[str],
    held_out: np.ndarray,
    C: float = DEFAULT_C,
) -> DirectionFit:
    """Fit directions when each attribute is labelled on its own subset of the faces.

    Args:
        z: (N, D) z_sem of every face (the normalisation statistics use them all).
        y: (N, K) float labels: 1, 0, or NaN where an attribute is not labelled for a face.
        names: the K attribute names.
        held_out: (N,) bool: faces kept out of the fits and used for the held-out AUROC.
        C: inverse L2 strength of the logistic regression.
    """
    z_np = z.double().numpy()
    if y.shape != (len(z_np), len(names)):
        raise ValueError(f"labels have shape {y.shape}; expected {(len(z_np), len(names))}")
    mean, std = z_np.mean(0), z_np.std(0, ddof=1)
    std = np.where(std > 0, std, 1.0)
    n = (z_np - mean) / std
    weights, biases, aucs, rates = [], [], [], []
    for k, name in enumerate(names):
        known = ~np.isnan(y[:, k])
        tr, te = known & ~held_out, known & held_out
        for split, rows in (("training", tr), ("held-out", te)):
            values = y[rows, k]
            if len(values) == 0 or values.all() or not values.any():
                raise ValueError(f"attribute {name!r} has a single class in the {split} labels "
                                 f"({len(values)} faces)")
        clf = LogisticRegression(C=C, max_iter=2000).fit(n[tr], y[tr, k] > 0.5)
        weights.append(clf.coef_[0])
        biases.append(clf.intercept_[0])
        aucs.append(float(roc_auc_score(y[te, k] > 0.5, clf.decision_function(n[te]))))
        rates.append(float(np.mean(y[tr, k] > 0.5)))
    return DirectionFit(list(names), np.stack(weights).astype(np.float32),
                        np.asarray(biases, dtype=np.float32), mean.astype(np.float32),
                        std.astype(np.float32), aucs, rates, float(C))
