"""Linear attribute classifier on normalised z_sem, and the official manipulation formula.

The classifier is `Linear(z_dim, K)` over z_n = (z_sem − μ)/σ, as the official one. Editing moves
z_n along the unit weight row of an attribute (docs/official.md, "Manipulation"):

    z_n' = z_n + a · √d · w/‖w‖,     z' = z_n'·σ + μ

An attribute name the classifier does not have is a `models.errors.UnknownAttributeError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from models.errors import InvalidRequestError, UnknownAttributeError

# The 40 CelebA-HQ attributes in the official classifier's output order (docs/official.md,
# "Classifier").
CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup",
    "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns",
    "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)


class AttributeClassifier(nn.Module):
    """Logits for K attributes from z_sem, plus the z statistics used for normalisation.

    Tensors (the `classifier.safetensors` layout): `weight` (K, D), `bias` (K,),
    `conds_mean` (D,), `conds_std` (D,).
    """

    conds_mean: torch.Tensor
    conds_std: torch.Tensor

    def __init__(self, names: Sequence[str], z_dim: int) -> None:
        super().__init__()
        if len(set(names)) != len(names):
            raise ValueError("attribute names must be unique")
        self.names = tuple(names)
        self.weight = nn.Parameter(torch.zeros(len(names), z_dim))
        self.bias = nn.Parameter(torch.zeros(len(names)))
        self.register_buffer("conds_mean", torch.zeros(z_dim))
        self.register_buffer("conds_std", torch.ones(z_dim))

    @property
    def z_dim(self) -> int:
        return self.weight.shape[1]

    def normalize(self, z_sem: torch.Tensor) -> torch.Tensor:
        return (z_sem - self.conds_mean) / self.conds_std

    def denormalize(self, z_n: torch.Tensor) -> torch.Tensor:
        return z_n * self.conds_std + self.conds_mean

    def forward(self, z_sem: torch.Tensor) -> torch.Tensor:
        """(B, D) z_sem → (B, K) logits."""
        return F.linear(self.normalize(z_sem), self.weight, self.bias)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise UnknownAttributeError(
                f"unknown attribute {name!r}; available: {', '.join(self.names)}") from None

    def direction(
        self, name: str, keep: Sequence[str] = (), custom: Mapping[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Unit direction (D,) of an attribute in normalised z space: a classifier row, or one of
        `custom` (name → unit direction, e.g. taught from examples: `models.teach`).

        With `keep`, a conditional direction (InterFaceGAN, Shen et al. 2020, §2.3): the part of
        it orthogonal to the kept attributes' directions, normalised again. Moving along it leaves
        their classifier logits exactly as they were (the logit is linear in z_n), so "smile, but
        keep age and gender" does not drift in age or gender as far as the classifier can tell.

        Raises:
            UnknownAttributeError: `name` or a kept name is not one of the classifier's.
            InvalidRequestError: the direction lies in the span of the kept ones (nothing is left).
        """
        if custom is not None and name in custom:
            d = F.normalize(custom[name].to(self.weight), dim=0, eps=1e-12)
            own: set[int] = set()
        else:
            own = {self.index(name)}
            d = F.normalize(self.weight[self.index(name)], dim=0, eps=1e-12)
        kept = sorted({self.index(k) for k in keep} - own)
        if not kept:
            return d
        basis = torch.linalg.qr(self.weight[kept].T).Q  # (D, k): orthonormal basis of the kept rows
        rest = d - basis @ (basis.T @ d)
        if float(rest.norm()) < 1e-4:
            raise InvalidRequestError(
                f"{name!r} cannot move while {', '.join(sorted(set(keep) - {name}))} stay fixed: its "
                "direction is theirs")
        return F.normalize(rest, dim=0)

    def manipulate(
        self,
        z_sem: torch.Tensor,
        edits: Mapping[str, float],
        keep: Sequence[str] = (),
        custom: Mapping[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Apply {attribute: amount} edits (official formula); amount 0 returns z unchanged.

        Args:
            z_sem: (B, D). edits: amounts, typically in [-0.5, 0.5]; positive adds the attribute.
            keep: attributes to hold fixed: each edit moves along its `direction(name, keep)`.
            custom: directions other than the classifier's, by the names `edits` uses for them.
        Returns:
            (B, D) edited z_sem.
        """
        for name in (*edits, *keep):
            if custom is None or name not in custom or name in keep:
                self.index(name)  # validate every name before computing anything
        active = {k: float(a) for k, a in edits.items() if a != 0}
        if not active:
            return z_sem
        z_n = self.normalize(z_sem)
        scale = math.sqrt(self.z_dim)
        for name, amount in active.items():
            z_n = z_n + amount * scale * self.direction(name, keep, custom)
        return self.denormalize(z_n)
