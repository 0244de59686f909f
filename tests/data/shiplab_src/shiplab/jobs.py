"""A function decorated where it is defined (this module needs clustrix with its dependencies)."""

import os

from clustrix import cluster


@cluster(memory="256M")
def decorated(x):
    """The module holds the wrapper under this name; the job needs the original function."""
    from . import util

    with open(os.path.join(os.path.dirname(__file__), "data", "table.csv")) as fh:
        first = fh.read().split()[0]
    return util.double(x), first, __file__
