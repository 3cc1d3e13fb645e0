"""Attribute directions: one logistic regression per attribute on normalised z_sem, and the
`directions` training command that fits them on a run's encoder (`fit_run_directions`).

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
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from models.facegen import drawn
from models.training.data import encode_images, facegen_images, photoface_images, read_label_table
from models.training.options import DirectionsOptions, OptionsError
from models.training.state import load_run_autoencoder, save_atomic

DEFAULT_C = DirectionsOptions.C  # 0.1


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


def fit_run_directions(o: DirectionsOptions) -> Path:
    """Encode labelled faces with run `o.run`'s EMA encoder and fit one logistic regression per
    attribute: drawn faces with their drawn attributes (`data="facegen"`), or cached photoreal
    faces with a label CSV by seed (`data="photofaces"`, `labels=CSV`, blank cells = not
    labelled). Writes `directions.pt`, prints each held-out AUROC and returns the path."""
    run = Path(o.run)
    _, config, unet = load_run_autoencoder(run)
    size, cache = config.autoencoder.image_size, Path(o.cache)
    encoder = unet.encoder.eval()
    if o.data == "photofaces":
        if not o.labels:
            raise OptionsError("--data photofaces needs --labels CSV (models.facegen.labels merge)")
        names, table = read_label_table(Path(o.labels))
        seeds = np.array(sorted(table))
        _, images = photoface_images(int(seeds.max()) + 1, size, cache)
        y = np.array([[table[s][a] for a in names] for s in seeds], dtype=np.float64)
        # Held out: a fixed fifth of the faces by seed, so every attribute is scored on its own labels.
        held_out = (seeds * 2654435761 % 2**32) % 5 == 0
        result = fit_directions_partial(encode_images(encoder, images[seeds]), y, names, held_out, C=o.C)
    else:
        x_train, y_train = facegen_images(o.num_train, size, cache=cache)
        x_test, y_test = facegen_images(o.num_test, size, test=True, cache=cache)
        result = fit_directions(encode_images(encoder, x_train), y_train > 0.5,
                                encode_images(encoder, x_test), y_test > 0.5,
                                names=drawn.ATTRIBUTES, C=o.C)
    path = run / "directions.pt"
    save_atomic({**asdict(result), "source": o.labels or "facegen"}, path)
    for name, auc in zip(result.names, result.auroc, strict=True):
        print(f"{name:16s} held-out AUROC {auc:.3f}")
    return path
