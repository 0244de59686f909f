"""pytest plugin entry point (registered as ``pytest11: clustrix``).

Holds only hooks; everything heavy is imported lazily so that installing clustrix does not slow
down pytest runs that never use it.
"""

from __future__ import annotations
