"""Attribute directions: one logistic regression per attribute on normalised z_sem.

The weight rows become the classifier of `models.classifier.AttributeClassifier`; editing uses
their unit vectors (official manipulation formula). Held-out AUROC says how well each attribute
is linearly readable from z_sem, i.e. how trustworthy its slider is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score


@dataclass(frozen=True)
class DirectionFit:
    names: list[str]
    weight: np.ndarray  # (K, D) in normalised z space
    bias: np.ndarray  # (K,)
    conds_mean: np.ndarray  # (D,)
    conds_std: np.ndarray  # (D,)
    auroc: list[float]  # held-out, per attribute
    positive_rate: list[float]  # in the training labels


def fit_directions(
    z_train: torch.Tensor,
    y_train: np.ndarray,
    z_test: torch.Tensor,
    y_test: np.ndarray,
    names: Sequence[str],
    C: float = 1.0,
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
                        std.astype(np.float32), aucs, rates)
