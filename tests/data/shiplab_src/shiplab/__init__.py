"""A tiny user package for the code-shipping tests: importable here, unknown to the cluster."""

VERSION = "one"
