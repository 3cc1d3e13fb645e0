"""Directions taught from examples: a slider a person makes by marking faces that have a property
and faces that do not (the paper's Table 3: linear classifiers on z_sem from a few labelled faces).

The fit is the one the shipped directions use (`models.training.directions`): an L2-regularised
logistic regression on normalised z_sem (z_n = (z_sem − μ)/σ, the classifier's statistics), whose
unit weight vector is the direction the official manipulation formula moves along. With
positives only, the negatives are unlabelled faces drawn from the latent DPM: under "selected
completely at random" labelling, positives-vs-unlabelled has the same linear decision direction
as positives-vs-negatives (Elkan & Noto, KDD 2008), the positive-unlabelled option the paper
mentions.

How well the direction reads the property is measured on examples it was not fitted on: stratified
k-fold cross-validation (k ≤ 5), as held-out accuracy (balanced, at the fitted threshold) and AUROC.
With unlabelled negatives only the AUROC of positives against unlabelled faces is meaningful (a
lower bound: some unlabelled faces have the property).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

#: Inverse L2 strength: the shipped directions' (`DirectionsOptions.C`), for the same reason
#: (strong regularisation keeps the direction where z_sem varies: edits decode well).
C = 0.1
#: The fewest examples of a class a direction is taught from.
MIN_EXAMPLES = 10

Method = Literal["labelled", "positive-unlabelled"]


@dataclass(frozen=True)
class TaughtDirection:
    """A unit direction (D,) in normalised z_sem space, and how well it separated held-out examples."""

    direction: np.ndarray
    method: Method
    accuracy: float | None  # balanced held-out accuracy; None for positive-unlabelled
    auroc: float  # held-out; against unlabelled faces for positive-unlabelled
    folds: int


def teach(positives: np.ndarray, negatives: np.ndarray, method: Method = "labelled") -> TaughtDirection:
    """Fit a direction from normalised z_sem of faces with the property (P, D) and without it, or
    unlabelled (N, D) when `method` is "positive-unlabelled".

    Raises:
        ValueError: fewer than MIN_EXAMPLES of a class, or shapes that do not agree.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    pos, neg = np.asarray(positives, np.float64), np.asarray(negatives, np.float64)
    if pos.ndim != 2 or neg.ndim != 2 or pos.shape[1] != neg.shape[1]:
        raise ValueError(f"examples must be (N, D) with one D, got {pos.shape} and {neg.shape}")
    for kind, rows in (("with the property", pos), ("without it", neg)):
        if len(rows) < MIN_EXAMPLES:
            raise ValueError(f"at least {MIN_EXAMPLES} faces {kind} are needed, got {len(rows)}")
    x = np.concatenate([pos, neg])
    y = np.concatenate([np.ones(len(pos), bool), np.zeros(len(neg), bool)])

    def model() -> LogisticRegression:
        return LogisticRegression(C=C, class_weight="balanced", max_iter=2000)

    folds = min(5, len(pos), len(neg))
    scores, predicted = np.empty(len(x)), np.empty(len(x), bool)
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(x, y):
        fitted = model().fit(x[train], y[train])
        scores[test], predicted[test] = fitted.decision_function(x[test]), fitted.predict(x[test])
    weight = model().fit(x, y).coef_[0]
    norm = float(np.linalg.norm(weight))
    if norm == 0:
        raise ValueError("the examples do not differ along any direction: mark other faces")
    accuracy = float(balanced_accuracy_score(y, predicted)) if method == "labelled" else None
    return TaughtDirection((weight / norm).astype(np.float32), method, accuracy,
                           float(roc_auc_score(y, scores)), folds)
