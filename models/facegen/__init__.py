"""Training and evaluation faces, made here: the data source of `models.training` and
`models.evaluation` (the one wing other wings may import).

- `drawn`: procedural cartoon portraits from a seed, with 13 CelebA-named attribute labels (the
  `demo64` data); `face` holds a drawn face's parameters and geometry, `render` draws it.
  CLI: `python -m models.facegen.drawn` (contact sheets, attribute strips, salience).
- `photo`: photoreal faces from MobileStyleGAN (the `random-face` package) on OpenVINO, rendered
  from seeds into a sharded cache (the `faces64` data). CLI: `python -m models.facegen.photo
  generate|sheet`.
- `labels`: attribute labels for the photoreal faces from judges other than the DiffAE model
  (landmark geometry, photometry, packaged age/gender networks, by-eye labels in
  `label_data/`). CLI: `python -m models.facegen.labels calibrate|label|merge`.

Depends on the core only (`models.images`); `labels` lazily uses `backend.landmarks` for the
service's own landmark model. Importing this package imports nothing.
"""
