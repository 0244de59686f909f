"""Where a payload's code comes from: import-root hints for the runner, and the code's file name.

Functions defined at module level travel by reference, so their module must be importable on
the execution host; a payload carries ``sys_path`` hints (the submitting script's directory and
the working directory) the runner puts in front of ``sys.path`` where they exist there. By-value
code (cloudpickle) loses its file name; the payload carries it so remote tracebacks name it.
Imports only :mod:`os` and :mod:`sys` (the runner loads it with :mod:`clustrix.payload.codec`).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


def default_sys_path_hints() -> list[str]:
    """Directories the runner should put on ``sys.path``: the script's directory and the cwd."""
    hints: list[str] = []
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if isinstance(main_file, str):
        hints.append(os.path.dirname(os.path.abspath(main_file)))
    try:
        hints.append(os.getcwd())
    except OSError:  # the cwd was deleted; nothing to hint
        pass
    return list(dict.fromkeys(hints))


def code_file(fn: object) -> str | None:
    """The source file of ``fn`` (cloudpickle blanks it to ``<dynamic-code>`` for by-value code)."""
    fn = getattr(fn, "func", fn)  # functools.partial
    code = getattr(fn, "__code__", None)
    if code is None:  # a callable object: its class's __call__
        code = getattr(vars(type(fn)).get("__call__"), "__code__", None)
    name = getattr(code, "co_filename", None)
    return name if isinstance(name, str) and not name.startswith("<") else None


def sys_path_hints(sys_path: Sequence[str] | None) -> list[str]:
    """``sys_path`` (None: :func:`default_sys_path_hints`) without empty or non-string entries."""
    hints = default_sys_path_hints() if sys_path is None else list(sys_path)
    return [p for p in hints if isinstance(p, str) and p]
