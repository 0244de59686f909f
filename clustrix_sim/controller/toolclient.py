"""The compiled tool client (``toolclient.c``): built once per machine, copied into ``bin/``.

A tool script is a Python program, and a Python interpreter takes 15-25 ms to start before the
script does anything: more than the simulator needs to serve the request. Real ``sbatch`` and
``qstat`` are C programs that start in a millisecond, so when a C compiler is at hand the
controller puts a small C client under each tool's name instead. It speaks the tool server's
wire (:mod:`clustrix_sim.controller.toolserver`) and, whenever the server cannot be used, execs
the Python tool script, which then runs the tool itself: output, exit codes and errors are those
of the same Python code either way.

The binary is cached under ``$XDG_CACHE_HOME/clustrix-sim`` (``~/.cache/clustrix-sim``), named by
the hash of its source, so it is compiled once (about 0.2 s) and reused by every cluster. Without
a compiler (or with ``CLUSTRIX_SIM_TOOL_CLIENT=python``) the tools are the Python scripts, and
the controller's log says so.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "toolclient.c")
CONF_NAME = ".toolclient"
CHOICE_ENV = "CLUSTRIX_SIM_TOOL_CLIENT"  # "python" forces the Python tool scripts
COMPILE_TIMEOUT_S = 60.0
MAGIC = "clustrix-sim-tool/2"  # toolserver.MAGIC, and the fourth line of ``.toolclient``


def wanted() -> bool:
    """False when ``$CLUSTRIX_SIM_TOOL_CLIENT`` asks for the Python tool scripts."""
    choice = os.environ.get(CHOICE_ENV, "").strip().lower()
    if choice not in ("", "c", "python"):
        raise ValueError(f"${CHOICE_ENV}={choice!r}: use 'c' (the default) or 'python'")
    return choice != "python"


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "clustrix-sim")


def _private_dir(path: str) -> bool:
    """True when ``path`` is a directory only this user can write (a binary we will run lives there)."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def build(log: Callable[[str], None], fallback_dir: str) -> str | None:
    """The path of the compiled client, compiling it when the cache lacks it; None when there
    is no compiler or it fails (the reason goes to ``log``). ``fallback_dir`` holds the binary
    when the cache directory is not private to this user."""
    try:
        with open(SOURCE, "rb") as fh:
            source = fh.read()
    except OSError as exc:
        log(f"the tool client's source is missing ({exc}); the tools are Python scripts")
        return None
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        log("no C compiler (cc, gcc or $CC): the tools are Python scripts (about 20 ms slower per call)")
        return None
    digest = hashlib.sha256(source + compiler.encode()).hexdigest()[:16]
    folder = cache_dir() if _private_dir(cache_dir()) else fallback_dir
    target = os.path.join(folder, f"toolclient-{digest}")
    if os.access(target, os.X_OK):
        return target
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".toolclient-", dir=folder)
    os.close(fd)
    try:
        proc = subprocess.run([compiler, "-O2", "-o", tmp, SOURCE], capture_output=True, text=True,
                              timeout=COMPILE_TIMEOUT_S, check=False)
        if proc.returncode != 0:
            log(f"compiling the tool client failed ({compiler}, exit {proc.returncode}): "
                f"{proc.stderr.strip()[-500:]}; the tools are Python scripts")
            return None
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)  # atomic: clusters starting at once may race to build it
        return target
    except (OSError, subprocess.TimeoutExpired) as exc:
        log(f"compiling the tool client failed: {exc!r}; the tools are Python scripts")
        return None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def install(binary: str, bin_dir: str, tools: list[str], flavor: str, socket_path: str, script_dir: str) -> None:
    """Copy ``binary`` into ``bin_dir`` under each name in ``tools`` and write its settings."""
    conf = os.path.join(bin_dir, CONF_NAME)
    with open(f"{conf}.tmp", "w") as fh:
        fh.write(f"{flavor}\n{socket_path}\n{script_dir}\n{MAGIC}\n")
    os.replace(f"{conf}.tmp", conf)
    for tool in tools:
        path = os.path.join(bin_dir, tool)
        shutil.copyfile(binary, f"{path}.tmp")
        os.chmod(f"{path}.tmp", 0o755)
        os.replace(f"{path}.tmp", path)
