"""DiffAE model core: pure PyTorch networks, DDIM and the pipeline (no HTTP, no env, no Celery)."""

from models.pipeline import DiffAEPipeline

__all__ = ["DiffAEPipeline"]
