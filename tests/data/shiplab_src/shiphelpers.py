"""A top-level module beside the package (the script directory's helpers.py)."""


def offset():
    return 1000
