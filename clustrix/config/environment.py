"""The ``environment`` setting of a profile: which Python a job runs, and what it has installed.

One validated frozen value, :class:`Environment`, built from the mapping a profile (or
``@cluster(profile={...})``) gives::

    environment:
      python: /opt/py311/bin/python3     # an existing interpreter (what ``python:`` does)
      conda: analysis                    # or: activate a named conda environment
      modules: [gcc/12, python/3.11]     # ``module load`` lines, combinable with the others
      pip: [numpy==1.26.4, ./mypkg]      # requirements and local packages ...
      requirements: requirements.txt     # ... a requirements file ...
      replicate: true                    # ... or the caller's own installed distributions
      wheelhouse: true                   # install from wheels made here (no internet needed there)
      build_timeout_s: 900               # the deadline of one venv build on the cluster

With ``pip``/``requirements``/``replicate`` clustrix builds a virtual environment on the cluster
once per content hash and jobs run its interpreter (:mod:`clustrix.backends.environment`). This
module only checks what can be checked here, at configuration time: unknown keys (with a
did-you-mean), values of the wrong shape, requirement strings pip could not parse, a requirements
file that does not exist or holds options clustrix cannot carry, and local paths that are not a
package. Relative paths are taken from the current directory when the profile is built.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from clustrix.errors import ConfigError, ConfigErrors, did_you_mean

DEFAULT_BUILD_TIMEOUT_S = 900.0
"""How long one venv build on the cluster may take (15 minutes) before it is abandoned."""

PRELUDE_EXIT = 98
"""Exit code of a job (or build) whose ``module load`` or ``conda activate`` failed."""

PACKAGE_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg")
ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")
_MODULE_NAME = re.compile(r"^[A-Za-z0-9_.+/@:-]+$")
_CONDA_NAME = re.compile(r"^[^\s'\"$`\\;&|<>]+$")


@dataclass(frozen=True)
class Environment:
    """What a job's interpreter is and has (see the module docstring for each key).

    ``pip`` keeps requirement strings and local package paths (made absolute) in the order given;
    ``wheelhouse`` is False (the cluster's pip reaches an index), True (clustrix makes the wheels
    here and the cluster installs with ``--no-index``) or a local directory of extra wheels the
    caller prepared (implies True).
    """

    python: str | None = None
    conda: str | None = None
    modules: tuple[str, ...] = ()
    pip: tuple[str, ...] = ()
    requirements: str | None = None
    replicate: bool = False
    wheelhouse: bool | str = False
    build_timeout_s: float = DEFAULT_BUILD_TIMEOUT_S

    @property
    def builds_venv(self) -> bool:
        """Whether clustrix builds a venv on the cluster for this environment."""
        return bool(self.pip or self.requirements or self.replicate)

    @property
    def offline(self) -> bool:
        """Whether the cluster installs from uploaded wheels only (``--no-index``)."""
        return self.wheelhouse is not False

    @property
    def wheelhouse_dir(self) -> str | None:
        return self.wheelhouse if isinstance(self.wheelhouse, str) else None

    def prelude(self) -> tuple[str, ...]:
        """Shell lines that set up the interpreter before anything runs (job script and build).

        Module and environment names are ``shlex.quote``d: they are values, not shell.
        """
        import shlex

        lines: list[str] = []
        if self.modules:
            lines.append("module load " + " ".join(shlex.quote(m) for m in self.modules)
                         + f" || {{ echo 'clustrix: module load failed' >&2; exit {PRELUDE_EXIT}; }}")
        if self.conda:
            name = shlex.quote(self.conda)
            # A batch shell is not interactive: conda's shell functions must be loaded first.
            lines.append('if command -v conda >/dev/null 2>&1; then eval "$(conda shell.posix hook)"; fi')
            lines.append(f"conda activate {name} || {{ echo 'clustrix: conda activate '{name}' failed' >&2; exit {PRELUDE_EXIT}; }}")
        return tuple(lines)

    def base_python(self, profile_python: str) -> str:
        """The interpreter jobs run (or the venv is built from) before any venv is involved."""
        if self.python:
            return self.python
        if self.conda:
            return "python"  # the activated environment's
        return profile_python

    def to_mapping(self) -> dict[str, Any]:
        """Only the keys that differ from the defaults, in :meth:`from_mapping`'s form."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value != f.default:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_mapping(cls, data: object, *, source: str = "argument") -> Environment:
        """Validate a user's mapping; every problem is reported at once, each naming its item."""
        if isinstance(data, Environment):
            return data
        if not isinstance(data, Mapping):
            raise ConfigError(f"must be a mapping such as {{pip: [...]}}, got {data!r}",
                              source=source, key="environment")
        valid = [f.name for f in fields(cls)]
        problems: list[ConfigError] = []
        values: dict[str, Any] = {}

        def bad(key: str, message: str) -> None:
            problems.append(ConfigError(message, source=source, key=f"environment.{key}"))

        for key, value in data.items():
            if key not in valid:
                bad(str(key), f"unknown key{did_you_mean(key, valid)}; valid keys are: {', '.join(valid)}")
                continue
            checker = _CHECKS[key]
            try:
                values[key] = checker(value)
            except ValueError as exc:
                bad(key, str(exc))
        if values.get("python") and values.get("conda"):
            bad("conda", "give either python (an interpreter) or conda (an environment name), not both")
        if problems:
            raise ConfigErrors.of(problems)
        return cls(**values)


def _line(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or "\n" in value or "\0" in value:
        raise ValueError(f"must be {what} (a non-empty single-line string), got {value!r}")
    return value.strip()


def _python(value: object) -> str:
    return _line(value, "a path or command naming the interpreter")


def _conda(value: object) -> str:
    name = _line(value, "the name (or path) of a conda environment")
    if not _CONDA_NAME.match(name):
        raise ValueError(f"{name!r} is not a conda environment name or path; use letters, digits, '-', '_', '.' or '/'")
    return name


def _modules(value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"must be a list of module names such as [gcc/12, python/3.11], got {value!r}")
    out = []
    for item in items:
        name = _line(item, "a module name")
        if not _MODULE_NAME.match(name):
            raise ValueError(f"{name!r} is not a module name (letters, digits and _ . + / @ : -)")
        out.append(name)
    return tuple(out)


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


def _timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise ValueError(f"must be a positive number of seconds, got {value!r}")
    return float(value)


def _wheelhouse(value: object) -> bool | str:
    if isinstance(value, bool):
        return value
    path = os.path.abspath(os.path.expanduser(_line(value, "true, false or a directory of wheels")))
    if not os.path.isdir(path):
        raise ValueError(f"wheelhouse directory {value!r} does not exist (looked at {path}); "
                         "create it (pip wheel -w DIR ...) or write wheelhouse: true")
    return path


def _pip(value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"must be a list of requirements such as [numpy==1.26, ./mypkg], got {value!r}")
    problems = []
    out = []
    for item in items:
        try:
            out.append(check_pip_item(item))
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("; ".join(problems))
    return tuple(out)


def _requirements(value: object) -> str:
    path = os.path.abspath(os.path.expanduser(_line(value, "the path of a requirements file")))
    if not os.path.isfile(path):
        raise ValueError(f"requirements file {value!r} does not exist (looked at {path})")
    read_requirements_file(path)  # raises on lines clustrix cannot carry
    return path


_CHECKS = {"python": _python, "conda": _conda, "modules": _modules, "pip": _pip,
           "requirements": _requirements, "replicate": _bool, "wheelhouse": _wheelhouse,
           "build_timeout_s": _timeout}


def looks_like_path(item: str) -> bool:
    """Whether a pip item names a local file or directory rather than a requirement."""
    return (item.startswith((".", "/", "~")) or os.sep in item.split("@")[0].split(";")[0]
            or item.endswith(ARCHIVE_SUFFIXES))


def check_pip_item(item: object) -> str:
    """A requirement string pip understands, or a local package path (returned absolute).

    A local path must be a directory holding ``pyproject.toml``/``setup.py``/``setup.cfg`` or a
    wheel or source archive; anything else is refused here, before any job exists.
    """
    text = _line(item, "a requirement such as 'numpy>=1.26' or a local package path")
    if looks_like_path(text):
        path = os.path.abspath(os.path.expanduser(text))
        if os.path.isdir(path):
            if not any(os.path.isfile(os.path.join(path, m)) for m in PACKAGE_MARKERS):
                raise ValueError(f"local path {text!r} is not a package: {path} has no "
                                 f"{', '.join(PACKAGE_MARKERS)}")
            return path
        if os.path.isfile(path) and path.endswith(ARCHIVE_SUFFIXES):
            return path
        if os.path.exists(path):
            raise ValueError(f"local path {text!r} is not a package: {path} is neither a project "
                             f"directory nor a wheel or source archive ({', '.join(ARCHIVE_SUFFIXES)})")
        raise ValueError(f"local path {text!r} does not exist (looked at {path})")
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return str(Requirement(text))  # normalized: equal requirements hash equal
    except InvalidRequirement as exc:
        raise ValueError(f"{text!r} is not a requirement pip understands: {str(exc).splitlines()[0]}") from None


def read_requirements_file(path: str) -> tuple[str, ...]:
    """The requirement items of a requirements file: comments, blank lines and ``\\``
    continuations resolved, ``-r other.txt`` followed; any other option line is refused with
    its file and line named (an index or ``-e`` in a file would silently not reach the cluster).
    """
    items: list[str] = []
    _read_into(path, items, seen=set())
    return tuple(items)


def _read_into(path: str, items: list[str], seen: set[str]) -> None:
    real = os.path.realpath(path)
    if real in seen:
        return
    seen.add(real)
    base = os.path.dirname(real)
    with open(path, encoding="utf-8") as fh:
        text = fh.read().replace("\\\n", "")
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        where = f"{path}:{number}"
        if line.startswith(("-r ", "--requirement ", "-r", "--requirement=")):
            target = re.sub(r"^(--requirement=?|-r)\s*", "", line)
            nested = os.path.join(base, os.path.expanduser(target))
            if not os.path.isfile(nested):
                raise ValueError(f"{where}: included file {target!r} does not exist (looked at {nested})")
            _read_into(nested, items, seen)
            continue
        if line.startswith("-"):
            raise ValueError(f"{where}: option line {line!r} is not supported; list requirements only "
                             "(use wheelhouse: for offline installs, a path for local packages)")
        if looks_like_path(line) and not os.path.isabs(os.path.expanduser(line)):
            line = os.path.join(base, line)
        try:
            items.append(check_pip_item(line))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None


def environment_from_value(value: object, *, source: str) -> Environment | None:
    """A profile's ``environment`` value as an :class:`Environment` (None stays None)."""
    if value is None:
        return None
    return Environment.from_mapping(value, source=source)


__all__ = ["DEFAULT_BUILD_TIMEOUT_S", "PRELUDE_EXIT", "Environment", "check_pip_item", "environment_from_value",
           "looks_like_path", "read_requirements_file"]
