"""Load a decorated function's original by name: ``module.qualname``, then ``__wrapped__`` n times.

A function decorated in its own module (``@cluster def fit(x): ...`` in ``mylab/analysis.py``)
is not the object its module holds under its name (that is the decorator's wrapper), so
cloudpickle would send the original *by value*: its bytecode, with ``__file__`` and relative
imports pointing at the client's files. :mod:`clustrix.payload.pickle_refs` sends it *by
reference* instead, as ``(load_wrapped, (module, qualname, depth))``; the job imports the module
(shipped, or installed there) and unwraps. Standard library only: the job's unpickler imports it.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def load_wrapped(module: str, qualname: str, depth: int) -> Any:
    """``module.qualname`` with its ``__wrapped__`` followed ``depth`` times."""
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    for _ in range(depth):
        obj = obj.__wrapped__
    return obj
