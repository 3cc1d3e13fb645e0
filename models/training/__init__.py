"""Training of DiffAE models and their export. Depends on the core and on `models.facegen` (the
training faces).

- `options`: one options dataclass per command (the CLI's flags);
- `data`: the training faces (drawn, photoreal, or a folder), batches and their z_sem;
- `state`: EMA, atomic checkpoints, random-generator state;
- `autoencoder`, `latent`: the two training loops; `directions`: the attribute directions;
- `export`: a run → a `from_pretrained` model directory;
- `cli`: `python -m models.training autoencoder|latent|directions|export ...`.

Importing this package imports nothing.
"""
