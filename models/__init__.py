"""DiffAE model core: pure PyTorch networks, the schedule, DDIM and the pipeline (no HTTP, no env,
no Celery). Importing the package, `models.config`, `models.schedule` or `models.errors` does not
import torch; `DiffAEPipeline` is loaded on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.pipeline import DiffAEPipeline

__all__ = ["DiffAEPipeline"]


def __getattr__(name: str) -> Any:
    if name == "DiffAEPipeline":
        from models.pipeline import DiffAEPipeline

        return DiffAEPipeline
    raise AttributeError(f"module 'models' has no attribute {name!r}")
