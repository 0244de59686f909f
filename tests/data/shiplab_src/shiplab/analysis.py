"""Functions a test decorates: they use a sibling module, a submodule and a data file."""

import os

import shiphelpers

from . import VERSION


def fit(x):
    """A module-level function: cloudpickle sends it by reference, so shiplab must be shipped."""
    import shiplab.util  # imported at run time, inside the body: invisible to pickling

    with open(os.path.join(os.path.dirname(__file__), "data", "table.csv")) as fh:
        table = fh.read().split()
    return {"value": shiplab.util.double(x) + shiphelpers.offset(), "version": VERSION,
            "table": table, "file": __file__}


class Point:
    def __init__(self, x):
        self.x = x


def norm(point):
    return abs(point.x)

