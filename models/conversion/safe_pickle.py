"""Unpickling the official Lightning checkpoints without running their code.

The official `last.ckpt` files are PyTorch-Lightning 1.4 pickles whose `callbacks` dict is keyed
by class objects (`pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint`) and whose
`hyper_parameters` is a Lightning `AttributeDict`.
- `torch.load(weights_only=True)` refuses them: those globals are not on torch's allow-list.
- torch's own escape hatch, `torch.serialization.safe_globals([(stand_in, "dotted.name")])`,
  needs every name known in advance (registered process-wide), and its unpickler only fills
  exact `dict`/`OrderedDict` objects, so the `AttributeDict` still fails.
- `weights_only=False` with the plain `pickle` module would need Lightning installed and would
  call any callable the file names: a pickle can run `os.system` on load.
So `load_checkpoint` calls `torch.load(weights_only=False, pickle_module=SafePickle)`. torch
subclasses `SafePickle.Unpickler` (mapping legacy `*Storage` names to dtype tags, then deferring to
our `find_class`) and sets its `persistent_load` to read tensor storages from the zip archive.
Every GLOBAL / STACK_GLOBAL / INST opcode goes through `find_class`, the only way a pickle can
reach code. It returns the real object only for the allow-list `_ALLOWED`: the tensor rebuild
functions `torch._utils._rebuild_tensor{,_v2,_v3}` / `_rebuild_parameter{,_with_state}`,
`torch.Size`, `torch.device`, torch dtypes, `torch.UntypedStorage`, `collections.OrderedDict`,
`set`, `frozenset`, `slice`, `complex`, `bytearray`, `_codecs.encode` (how protocol 2 stores
bytes) and numpy's array/scalar/dtype reconstruction. Every other global becomes an inert
`Placeholder` subclass that records its dotted name and swallows arguments, state and items
without running anything; a placeholder inside `state_dict` is then refused by name.
"""

from __future__ import annotations

import codecs
import collections
import functools
import importlib
import pickle
import warnings
from typing import Any, ClassVar

import torch


class Placeholder:
    """Inert stand-in for a pickled global outside the allow-list. Calling the class, NEWOBJ,
    BUILD, SETITEMS and APPENDS only record their arguments; nothing of the original runs."""

    target: ClassVar[str] = "?"
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    state: Any
    entries: dict[Any, Any]  # from SETITEM(S)
    elements: list[Any]  # from APPEND(S)

    def __new__(cls, *args: Any, **kwargs: Any) -> Placeholder:
        self = super().__new__(cls)
        self.args, self.kwargs, self.state, self.entries, self.elements = args, kwargs, None, {}, []
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass  # arguments were recorded by __new__

    def __call__(self, *args: Any, **kwargs: Any) -> Placeholder:
        return type(self)(*args, **kwargs)  # e.g. getattr(cls, "method")(...) pickled by protocol 2

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.entries[key] = value

    def append(self, item: Any) -> None:
        self.elements.append(item)

    def extend(self, items: Any) -> None:
        self.elements.extend(items)

    def __repr__(self) -> str:
        return f"<placeholder for {self.target}>"


@functools.cache
def placeholder_class(module: str, name: str) -> type[Placeholder]:
    """One stand-in class per dotted name, so a class used as a dict key stays one key."""
    return type(name.rpartition(".")[2], (Placeholder,), {"target": f"{module}.{name}"})


def _allowed_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "slice"): slice,
        ("builtins", "complex"): complex,
        ("builtins", "bytearray"): bytearray,
        ("_codecs", "encode"): codecs.encode,
        ("torch", "Size"): torch.Size,
        ("torch", "device"): torch.device,
        ("torch", "UntypedStorage"): torch.UntypedStorage,
        ("torch.storage", "UntypedStorage"): torch.UntypedStorage,
    }
    for name in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3",
                 "_rebuild_parameter", "_rebuild_parameter_with_state"):
        if hasattr(torch._utils, name):
            allowed[("torch._utils", name)] = getattr(torch._utils, name)
    for name, value in vars(torch).items():
        if isinstance(value, torch.dtype):
            allowed[("torch", name)] = value
    return allowed


_ALLOWED = _allowed_globals()
# numpy scalars/arrays (resolved on use, so numpy stays optional); numpy 1 and 2 module names.
_NUMPY_ALLOWED = {
    (module, name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {("numpy", "ndarray"), ("numpy", "dtype")}


class RestrictedUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` whose globals come only from `_ALLOWED`; anything else is a placeholder."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "__builtin__":  # protocol 2 writes Python 2 names for builtins
            module = "builtins"
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if (module, name) in _NUMPY_ALLOWED:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return getattr(importlib.import_module(module), name)
        return placeholder_class(module, name)


class SafePickle:
    """The `pickle_module` handed to `torch.load` (it needs `Unpickler`, and `load` for the
    legacy non-zip format)."""

    Unpickler = RestrictedUnpickler
    UnpicklingError = pickle.UnpicklingError

    @staticmethod
    def load(file: Any, **kwargs: Any) -> Any:
        return RestrictedUnpickler(file, **kwargs).load()
