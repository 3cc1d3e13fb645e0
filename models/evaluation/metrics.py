"""Image metrics, as the official evaluation computes them (docs/official.md, "Metrics").

SSIM: on images mapped to [0, 1], an 11×11 Gaussian window (σ = 1.5) applied per channel as a
depthwise convolution with zero padding (the map keeps the input's size), C1 = 0.01², C2 = 0.03²,
the map averaged over channels, height and width: one value per image. MSE: the mean squared
difference per image on [0, 1]. `to_unit` maps the model's [-1, 1] range to [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """(size, size) float32 Gaussian window summing to 1 (outer product of the 1-D one)."""
    x = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g).float()


def ssim_map(x: torch.Tensor, y: torch.Tensor, size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """The SSIM map (B, C, H, W) of images x, y (B, C, H, W) in [0, 1]: local statistics from a
    depthwise Gaussian conv with zero padding (size // 2), so the map has the input's size."""
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"expected two (B, C, H, W) tensors of one shape, got {tuple(x.shape)}, "
                         f"{tuple(y.shape)}")
    c = x.shape[1]
    w = gaussian_window(size, sigma).to(x.device, x.dtype).expand(c, 1, size, size)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, padding=size // 2, groups=c)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    return ((2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)) / (
        (mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2)
    )


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (B,) of (B, C, H, W) images in [0, 1]: the map averaged over C, H, W."""
    return ssim_map(x, y).mean(dim=(1, 2, 3))


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error (B,) of (B, C, H, W) images in [0, 1]."""
    return (x - y).pow(2).mean(dim=(1, 2, 3))


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] model range → [0, 1], clamped."""
    return ((x.float() + 1) / 2).clamp(0, 1)


def auroc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC of scores against binary labels; None when the labels hold a single class."""
    if labels.all() or not labels.any():
        return None
    return float(roc_auc_score(labels, scores))
