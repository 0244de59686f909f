"""clustrix: run Python functions on HPC clusters, and test that code without one."""

from __future__ import annotations

__version__ = "0.3.0.dev0"
