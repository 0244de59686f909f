"""Preflight: can the execution host's Python load what this client sends? One cheap remote check.

A payload is a pickle: the job's Python must import clustrix (whose runner and payload format
must match this client's), and code that travels *by value* (functions defined in ``__main__``,
lambdas, closures) is CPython bytecode that only the same minor version loads, through
cloudpickle. A mismatch used to surface as a traceback from inside the job, after a wait in the
queue; :func:`check_remote_python` finds it before the first submission, with one command
(``PYTHON -c PROBE_SCRIPT``, after the profile's ``env`` and ``setup`` lines, as the job runs
them), and raises :class:`~clustrix.errors.PreflightError` naming both sides and the fix.

Results are cached for the process per (host, python, env, setup): the check costs one round
trip per session (a failed check is asked again next time, so fixing the cluster needs no restart). ``clustrix doctor`` shows the same :class:`Check` rows as a table; the
environment builder runs :func:`check_remote_python` against the Python of the venv it built.

What counts (:func:`compare`):

- clustrix missing, or another payload ``FORMAT_VERSION``: always fatal; a clustrix too old to
  put shipped code on ``sys.path``: fatal when code is shipped; another clustrix version: a warning.
- Python implementation or minor version differs: fatal when code travels by value (bytecode),
  a warning otherwise (pickles by reference load across versions).
- cloudpickle missing or another major version: fatal when the payload needs it (by-value
  code); another minor version: a warning.
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from clustrix.errors import PreflightError
from clustrix.payload.format import FORMAT_VERSION

log = logging.getLogger(__name__)

MARKER = "CLUSTRIX-PREFLIGHT "
PREFLIGHT_TIMEOUT_S = 60.0

# Runs on the execution host under any Python 3 (no f-strings: an ancient interpreter must still
# report its version rather than a SyntaxError). One JSON line after MARKER; setup lines may print.
PROBE_SCRIPT = r"""
import json, os, sys
out = {"python": list(sys.version_info[:3]), "implementation": sys.implementation.name,
       "executable": sys.executable}
try:
    import cloudpickle
    out["cloudpickle"] = getattr(cloudpickle, "__version__", "0")
except Exception as exc:
    out["cloudpickle_error"] = "%s: %s" % (type(exc).__name__, exc)
try:
    import clustrix
    from clustrix.payload import format as fmt
    out["clustrix"] = getattr(clustrix, "__version__", "0")
    out["clustrix_path"] = os.path.dirname(os.path.abspath(clustrix.__file__))
    out["format_version"] = fmt.FORMAT_VERSION
    import importlib.util
    out["ships_code"] = importlib.util.find_spec("clustrix.payload.code_paths") is not None
except Exception as exc:
    out["clustrix_error"] = "%s: %s" % (type(exc).__name__, exc)
print("CLUSTRIX-PREFLIGHT " + json.dumps(out))
"""


class ProbeTransport(Protocol):
    """The part of a transport the probe needs (:class:`clustrix.transports.base.Transport`)."""

    host: str | None

    def run(self, argv: Sequence[str], *, stdin: bytes | str | None = None,
            timeout_s: float | None = None, retry_safe: bool = False) -> object: ...


@dataclass(frozen=True)
class PythonInfo:
    """One side's Python, as far as loading a payload is concerned."""

    python: tuple[int, int, int]
    implementation: str
    executable: str
    cloudpickle: str | None
    clustrix: str | None
    format_version: int | None
    ships_code: bool
    cloudpickle_error: str = ""
    clustrix_error: str = ""
    clustrix_path: str = ""

    @property
    def python_text(self) -> str:
        name = {"cpython": "CPython", "pypy": "PyPy"}.get(self.implementation, self.implementation)
        return f"{name} {'.'.join(map(str, self.python))}"

    @classmethod
    def here(cls) -> PythonInfo:
        """This client's Python."""
        # The package is loaded whenever this submodule is; naming it in an import would be a cycle.
        version = str(getattr(sys.modules.get("clustrix"), "__version__", "0"))
        try:
            import cloudpickle

            cp: str | None = getattr(cloudpickle, "__version__", "0")
        except ImportError:
            cp = None
        return cls(tuple(sys.version_info[:3]), sys.implementation.name, sys.executable,  # type: ignore[arg-type]
                   cp, version, FORMAT_VERSION, True)

    @classmethod
    def from_probe(cls, data: dict[str, object]) -> PythonInfo:
        version = data.get("python") or [0, 0, 0]
        return cls(tuple(int(v) for v in version)[:3],  # type: ignore[arg-type, union-attr]
                   str(data.get("implementation", "?")), str(data.get("executable", "?")),
                   _opt(data.get("cloudpickle")), _opt(data.get("clustrix")),
                   int(data["format_version"]) if isinstance(data.get("format_version"), int) else None,  # type: ignore[arg-type]
                   bool(data.get("ships_code", False)), str(data.get("cloudpickle_error", "")),
                   str(data.get("clustrix_error", "")), str(data.get("clustrix_path", "")))


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Needs:
    """What a payload needs from the host's Python (None: not known, as for ``clustrix doctor``)."""

    by_value: bool | None = None
    ships_code: bool = False


@dataclass(frozen=True)
class Check:
    """One row of a preflight or doctor report: ``status`` is ``ok``, ``warn`` or ``fail``."""

    name: str
    status: str
    detail: str


def _major(version: str) -> str:
    return version.split(".")[0]


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def compare(local: PythonInfo, remote: PythonInfo, needs: Needs, *, where: str) -> list[Check]:
    """The rows for python, clustrix and cloudpickle (see the module docstring for the rules).

    ``where`` names the remote interpreter in messages (``/usr/bin/python3 on login1``).
    """
    rows: list[Check] = []
    strict = needs.by_value is not False  # unknown: assume by-value code (scripts, notebooks)
    same_minor = (local.implementation, local.python[:2]) == (remote.implementation, remote.python[:2])
    if same_minor:
        rows.append(Check("python", "ok", f"{remote.python_text} (client {local.python_text})"))
    else:
        want = f"{local.python_text.rsplit('.', 1)[0]}"
        detail = (f"this client runs {local.python_text}, {where} runs {remote.python_text}; code defined "
                  "in __main__, lambdas and closures travels as bytecode that only the same minor version "
                  f"loads. Fix: point the profile's python at a {want} on the cluster (a module, a conda "
                  f"env or a venv), or run this client with {remote.python_text.rsplit('.', 1)[0]}")
        rows.append(Check("python", "fail" if strict else "warn", detail))

    if remote.clustrix is None:
        rows.append(Check("clustrix", "fail", f"not importable by {where} ({remote.clustrix_error or 'unknown error'}). "
                          f"Fix: install it there ({remote.executable} -m pip install 'clustrix=={local.clustrix}'), "
                          "or export PYTHONPATH to a copy of clustrix with the profile's env"))
    elif remote.format_version != FORMAT_VERSION:
        rows.append(Check("clustrix", "fail", f"{where} has clustrix {remote.clustrix} (payload format "
                          f"{remote.format_version}), this client {local.clustrix} (payload format {FORMAT_VERSION}); "
                          f"neither can read the other's files. Fix: install clustrix {local.clustrix} there"))
    elif needs.ships_code and not remote.ships_code:
        rows.append(Check("clustrix", "fail", f"{where} has clustrix {remote.clustrix}, too old to load the local "
                          f"code this client ships (this client: {local.clustrix}). Fix: install clustrix "
                          f"{local.clustrix} there, or install your package there and set ship_local_code: false"))
    elif remote.clustrix != local.clustrix:
        rows.append(Check("clustrix", "warn", f"{remote.clustrix} at {remote.clustrix_path} (client {local.clustrix}); "
                          "same payload format, so jobs run, but install the same version to be safe"))
    else:
        rows.append(Check("clustrix", "ok", f"{remote.clustrix} at {remote.clustrix_path}"))

    needs_cp = needs.by_value is not False
    fix_cp = f"Fix: {remote.executable} -m pip install 'cloudpickle=={local.cloudpickle}' on the cluster"
    if remote.cloudpickle is None:
        detail = (f"not importable by {where} ({remote.cloudpickle_error or 'unknown error'}); it loads functions "
                  f"defined in __main__, lambdas and closures. {fix_cp}")
        rows.append(Check("cloudpickle", "fail" if needs_cp else "warn", detail))
    elif local.cloudpickle and _major(remote.cloudpickle) != _major(local.cloudpickle):
        detail = (f"{where} has cloudpickle {remote.cloudpickle}, this client {local.cloudpickle}; pickles of "
                  f"functions by value do not load across major versions. {fix_cp}")
        rows.append(Check("cloudpickle", "fail" if needs_cp else "warn", detail))
    elif local.cloudpickle and _minor(remote.cloudpickle) != _minor(local.cloudpickle):
        rows.append(Check("cloudpickle", "warn", f"{remote.cloudpickle} (client {local.cloudpickle}); usually "
                          f"compatible, but by-value pickles are only guaranteed between equal versions. {fix_cp}"))
    else:
        rows.append(Check("cloudpickle", "ok", f"{remote.cloudpickle} (client {local.cloudpickle})"))
    return rows


def probe_command(python: str, *, env: Sequence[tuple[str, str]] = (), setup: Sequence[str] = (),
                  script: str = PROBE_SCRIPT, args: Sequence[str] = ()) -> list[str]:
    """``sh -c`` running ``python -c script args...`` as a job would: env exported, setup lines first."""
    lines = [f"export {k}={shlex.quote(v)}" for k, v in env]
    lines += list(setup)  # the user's own shell lines, verbatim, as in the batch script
    quoted = " ".join(shlex.quote(a) for a in args)
    lines.append(f"exec {shlex.quote(python)} -c {shlex.quote(script)} {quoted}".rstrip())
    # Batch scripts are bash scripts; setup lines (``source venv/bin/activate``) may need it.
    return ["bash" if setup else "sh", "-c", "\n".join(lines)]


def where_text(transport: ProbeTransport, python: str) -> str:
    return f"{python} on {transport.host or 'this machine'}"


def probe(transport: ProbeTransport, python: str, *, env: Sequence[tuple[str, str]] = (),
          setup: Sequence[str] = (), timeout_s: float = PREFLIGHT_TIMEOUT_S) -> PythonInfo:
    """Run the probe on the host (uncached); :class:`PreflightError` if ``python`` cannot run it."""
    done = transport.run(probe_command(python, env=env, setup=setup), timeout_s=timeout_s, retry_safe=True)
    stdout, stderr = getattr(done, "stdout", ""), getattr(done, "stderr", "")
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                data = json.loads(line[len(MARKER):])
            except ValueError:
                break
            if isinstance(data, dict):
                return PythonInfo.from_probe(data)
    where = where_text(transport, python)
    tail = (stderr or stdout).strip()[-600:] or "(no output)"
    raise PreflightError(f"cannot run the profile's python ({where}): exit status "
                         f"{getattr(done, 'returncode', '?')}: {tail}. Fix: set the profile's python to an "
                         "interpreter that exists there (e.g. python3, or the full path of a venv's python)",
                         problems=[f"python: cannot run {where}"])


_cache: dict[tuple[object, ...], PythonInfo] = {}
_cache_lock = threading.Lock()
_key_locks: dict[tuple[object, ...], threading.Lock] = {}


def remote_python(transport: ProbeTransport, python: str, *, env: Sequence[tuple[str, str]] = (),
                  setup: Sequence[str] = (), timeout_s: float = PREFLIGHT_TIMEOUT_S) -> PythonInfo:
    """:func:`probe`, cached for the process per (host, python, env, setup).

    Concurrent callers for the same key wait for one probe (a background prefetch and the first
    submission, or 200 threads submitting at once) instead of each running it. A failed probe
    is not cached: the next caller asks again.
    """
    key = (transport.host, python, tuple(env), tuple(setup))
    with _cache_lock:
        hit = _cache.get(key)
        key_lock = _key_locks.setdefault(key, threading.Lock())
    if hit is not None:
        return hit
    with key_lock:  # bounded: the probe itself has a deadline (timeout_s)
        with _cache_lock:
            hit = _cache.get(key)
        if hit is not None:
            return hit
        info = probe(transport, python, env=env, setup=setup, timeout_s=timeout_s)
        with _cache_lock:
            _cache[key] = info
    return info


def forget_cache() -> None:
    """Drop every cached probe (after installing something on the cluster, in the same process)."""
    with _cache_lock:
        _cache.clear()


_warned: set[tuple[object, ...]] = set()


def check_remote_python(transport: ProbeTransport, python: str, *, needs: Needs | None = None,
                        env: Sequence[tuple[str, str]] = (), setup: Sequence[str] = (),
                        timeout_s: float = PREFLIGHT_TIMEOUT_S) -> PythonInfo:
    """Check that ``python`` on the transport's host can load this client's payloads.

    ``needs`` says what the payload needs (default: assume by-value code, no shipped code).
    Raises :class:`PreflightError` listing every fatal mismatch; warnings are logged once per
    session. Returns what the host reported.
    """
    needs = needs if needs is not None else Needs()
    info = remote_python(transport, python, env=env, setup=setup, timeout_s=timeout_s)
    where = where_text(transport, python)
    rows = compare(PythonInfo.here(), info, needs, where=where)
    failed = [f"{r.name}: {r.detail}" for r in rows if r.status == "fail"]
    if failed:
        with _cache_lock:  # ask again next time: the user may fix the cluster within the session
            _cache.pop((transport.host, python, tuple(env), tuple(setup)), None)
        raise PreflightError(f"{where} cannot run this client's jobs:\n  " + "\n  ".join(failed),
                             problems=failed)
    for row in rows:
        key = (transport.host, python, row.name, row.detail)
        if row.status == "warn" and key not in _warned:
            _warned.add(key)
            log.warning("preflight of %s: %s: %s", where, row.name, row.detail)
    return info
