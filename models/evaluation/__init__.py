"""Evaluation of DiffAE models: metrics, reports, diagnostics and speed. Depends on the core, on
`models.facegen` (the held-out faces and the independent judges) and, lazily, on the service's
aligner (`backend.faces`, so that photos are aligned exactly as the service aligns them).

- `metrics`: SSIM, MSE, AUROC as the official evaluation computes them;
- `batching`: a model run over many images in batches, every UNet evaluation counted;
- `evaluate`: the evaluation on held-out drawn faces, in stages; `report` writes it;
  CLI `python -m models.evaluation` (`cli`);
- `photos`: the evaluation on real photos, each slider judged by the classifier and by
  independent measures; CLI `python -m models.evaluation.photos [fetch]`;
- `diagnostics`: does the decoder use z_sem? (a one-step probe);
- `bench`: speed of the networks on CPU; CLI `python -m models.evaluation.bench`.

Importing this package imports nothing.
"""
