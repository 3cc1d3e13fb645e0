"""Conversion of the official DiffAE checkpoints into our model directories, and golden-vector
parity with the official implementation. Depends on the core only.

- `official`: a safe load of the official Lightning files (`safe_pickle`: no code runs) and the
  split of their state dicts into our networks' tensors;
- `infer_config`: the network configuration read off the tensor shapes;
- `convert`: the conversion, written and verified; CLI `python -m models.conversion` (`cli`);
- `parity`: recompute a golden file's outputs; CLI `python -m models.conversion.parity FILE`.

Importing this package imports nothing.
"""
