"""Validated, immutable descriptions of a job: resources, array, the whole spec, and its paths.

Everything a user writes (``"8GB"``, ``"1-12:00:00"``, ``"90"``, ``timedelta(hours=2)``) is parsed
here once, into plain numbers with units in their names, so scheduler modules never see user text.
A bad value raises :class:`clustrix.errors.ResourceError` naming the value and the accepted forms.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from clustrix.errors import ResourceError

MEMORY_FORMS = "a number of megabytes or a string like '512M', '8G', '8GB', '1.5GiB', '2T'"
TIME_FORMS = (
    "minutes ('90' or 90), 'MM:SS', 'HH:MM:SS', 'D-HH', 'D-HH:MM', 'D-HH:MM:SS', "
    "a unit string ('2h', '30m', '45s', '1d'), or a datetime.timedelta"
)

_MEM_UNITS_MB = {"": 1, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
_MEM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_TIME_UNIT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|day)s?\s*$", re.IGNORECASE)
_TIME_UNIT_S = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "day": 86400}
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_JOB_NAME_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


def parse_memory_mb(value: int | float | str) -> int:
    """Parse a memory size into whole megabytes (binary units: 1G = 1024M), rounding up."""
    if isinstance(value, bool):
        raise ResourceError("memory", value, MEMORY_FORMS)
    if isinstance(value, (int, float)):
        mb = float(value)
    elif isinstance(value, str):
        m = _MEM_RE.match(value)
        if not m:
            raise ResourceError("memory", value, MEMORY_FORMS)
        mb = float(m.group(1)) * _MEM_UNITS_MB[m.group(2).lower()]
    else:
        raise ResourceError("memory", value, MEMORY_FORMS)
    if mb <= 0:
        raise ResourceError("memory", value, "a positive size (" + MEMORY_FORMS + ")")
    whole = int(mb)
    return whole if whole == mb else whole + 1


def parse_time_s(value: int | float | str | timedelta) -> int:
    """Parse a walltime into whole seconds.

    Plain numbers are minutes, as for ``sbatch --time``; colon forms follow SLURM's grammar
    (``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``, ``D-H:M:S``).
    """
    if isinstance(value, bool):
        raise ResourceError("time", value, TIME_FORMS)
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)):
        seconds = float(value) * 60
    elif isinstance(value, str):
        seconds = _parse_time_text(value)
    else:
        raise ResourceError("time", value, TIME_FORMS)
    if seconds <= 0:
        raise ResourceError("time", value, "a positive duration: " + TIME_FORMS)
    whole = int(seconds)
    return whole if whole == seconds else whole + 1


def _parse_time_text(text: str) -> float:
    s = text.strip()
    unit = _TIME_UNIT_RE.match(s)
    if unit:
        return float(unit.group(1)) * _TIME_UNIT_S[unit.group(2).lower()]
    days = 0
    rest = s
    if "-" in s:
        day_part, _, rest = s.partition("-")
        if not day_part.isdigit():
            raise ResourceError("time", text, TIME_FORMS)
        days = int(day_part)
    parts = rest.split(":")
    if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3:
        raise ResourceError("time", text, TIME_FORMS)
    nums = [int(p) for p in parts]
    if "-" in s:  # D-H, D-H:M, D-H:M:S
        nums += [0] * (3 - len(nums))
        h, m, sec = nums
    elif len(nums) == 1:  # minutes
        h, m, sec = 0, nums[0], 0
    elif len(nums) == 2:  # M:S
        h, m, sec = 0, nums[0], nums[1]
    else:
        h, m, sec = nums
    if len(parts) > 1 and (sec >= 60 or (len(parts) == 3 and m >= 60)):
        raise ResourceError("time", text, TIME_FORMS + " (minutes and seconds below 60)")
    return days * 86400 + h * 3600 + m * 60 + sec


def format_hms(seconds: int) -> str:
    """Seconds as ``HH:MM:SS`` (hours may exceed 24), the form every scheduler accepts."""
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"


def _positive_int(name: str, value: object, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        else:
            raise ResourceError(name, value, "a whole number")
    low = 0 if allow_zero else 1
    if value < low:
        raise ResourceError(name, value, f"a whole number >= {low}")
    return value


def _optional_name(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or any(c in value for c in "\n\r\x00"):
        raise ResourceError(name, value, "a non-empty single-line string")
    return value.strip()


@dataclass(frozen=True)
class Resources:
    """What one job (or one array task) asks the scheduler for.

    ``cores`` is CPUs per task, ``nodes`` the node count. ``partition`` (SLURM) and ``queue``
    (PBS/SGE) are kept apart but each scheduler falls back to the other when only one is set.
    ``extra_directives`` are passed verbatim after the generated ones, e.g.
    ``("--constraint=a100",)`` for SLURM or ``("-l scratch=10G",)`` for SGE.
    """

    cores: int = 1
    nodes: int = 1
    mem_mb: int | None = None
    time_s: int | None = None
    gpus: int = 0
    partition: str | None = None
    queue: str | None = None
    account: str | None = None
    qos: str | None = None
    extra_directives: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "cores", _positive_int("cores", self.cores))
        object.__setattr__(self, "nodes", _positive_int("nodes", self.nodes))
        object.__setattr__(self, "gpus", _positive_int("gpus", self.gpus, allow_zero=True))
        if self.mem_mb is not None:
            object.__setattr__(self, "mem_mb", _positive_int("mem_mb", self.mem_mb))
        if self.time_s is not None:
            object.__setattr__(self, "time_s", _positive_int("time_s", self.time_s))
        for name in ("partition", "queue", "account", "qos"):
            object.__setattr__(self, name, _optional_name(name, getattr(self, name)))
        extras = self.extra_directives
        if isinstance(extras, str):
            extras = (extras,)
        extras = tuple(extras)
        for d in extras:
            if not isinstance(d, str) or not d.strip() or "\n" in d or "\r" in d:
                raise ResourceError("extra_directives", d, "single-line directive strings")
        object.__setattr__(self, "extra_directives", extras)

    @property
    def queue_name(self) -> str | None:
        """The partition or queue, whichever was set (``queue`` preferred for PBS/SGE callers)."""
        return self.queue or self.partition

    @property
    def partition_name(self) -> str | None:
        return self.partition or self.queue

    @classmethod
    def from_user(
        cls,
        *,
        cores: int | str = 1,
        nodes: int | str = 1,
        memory: int | float | str | None = None,
        time: int | float | str | timedelta | None = None,
        gpus: int | str = 0,
        partition: str | None = None,
        queue: str | None = None,
        account: str | None = None,
        qos: str | None = None,
        extra_directives: Sequence[str] | str = (),
    ) -> Resources:
        """Build from the forms users write (``memory="8GB"``, ``time="01:00:00"``)."""
        return cls(
            cores=cores,  # type: ignore[arg-type]  # validated in __post_init__
            nodes=nodes,  # type: ignore[arg-type]
            mem_mb=None if memory is None else parse_memory_mb(memory),
            time_s=None if time is None else parse_time_s(time),
            gpus=gpus,  # type: ignore[arg-type]
            partition=partition,
            queue=queue,
            account=account,
            qos=qos,
            extra_directives=(extra_directives,) if isinstance(extra_directives, str) else tuple(extra_directives),
        )

    def merged(self, **user_values: object) -> Resources:
        """A copy with user-form overrides applied (keys as in :meth:`from_user`); None is ignored."""
        current: dict[str, object] = {
            "cores": self.cores,
            "nodes": self.nodes,
            "memory": self.mem_mb,
            "time": None if self.time_s is None else timedelta(seconds=self.time_s),
            "gpus": self.gpus,
            "partition": self.partition,
            "queue": self.queue,
            "account": self.account,
            "qos": self.qos,
            "extra_directives": self.extra_directives,
        }
        unknown = set(user_values) - set(current)
        if unknown:
            raise ResourceError(
                "resource name", sorted(unknown)[0], "one of " + ", ".join(sorted(current))
            )
        current.update({k: v for k, v in user_values.items() if v is not None})
        return Resources.from_user(**current)  # type: ignore[arg-type]


RESOURCE_KEYS = ("cores", "nodes", "memory", "time", "gpus", "partition", "queue", "account", "qos", "extra_directives")
"""The user-facing resource keyword names accepted by ``@cluster`` and profiles."""


@dataclass(frozen=True)
class ArraySpec:
    """A job array of ``size`` tasks indexed ``0..size-1``; at most ``max_parallel`` run at once."""

    size: int
    max_parallel: int | None = None

    def __post_init__(self) -> None:
        _positive_int("array size", self.size)
        if self.max_parallel is not None:
            _positive_int("array max_parallel", self.max_parallel)

    @property
    def last_index(self) -> int:
        return self.size - 1

    def slurm_range(self) -> str:
        """``0-N`` with ``%limit``, the grammar of ``sbatch --array`` (PBS Pro ``-J`` uses ``0-N``)."""
        text = f"0-{self.last_index}"
        if self.max_parallel is not None:
            text += f"%{self.max_parallel}"
        return text


@dataclass(frozen=True)
class JobSpec:
    """Everything needed to render one batch job, independent of the scheduler.

    ``env`` holds variables exported before the runner starts; ``setup`` holds shell lines run
    verbatim first (``module load python/3.11``) — they are the user's own shell, deliberately not
    quoted; ``python`` is the interpreter on the execution host.
    """

    name: str
    resources: Resources = field(default_factory=Resources)
    array: ArraySpec | None = None
    env: tuple[tuple[str, str], ...] = ()
    setup: tuple[str, ...] = ()
    python: str = "python3"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _JOB_NAME_RE.match(self.name):
            raise ResourceError("job name", self.name, "1-200 printable characters, no newlines")
        env = self.env.items() if isinstance(self.env, Mapping) else self.env
        env = tuple((str(k), str(v)) for k, v in env)
        for k, v in env:
            if not _ENV_NAME_RE.match(k):
                raise ResourceError("environment variable name", k, "letters, digits and _, not starting with a digit")
            if "\x00" in v:
                raise ResourceError(f"environment variable {k}", v, "a string without NUL bytes")
        object.__setattr__(self, "env", env)
        setup = (self.setup,) if isinstance(self.setup, str) else tuple(self.setup)
        for line in setup:
            if not isinstance(line, str) or "\x00" in line:
                raise ResourceError("setup line", line, "a shell command string")
        object.__setattr__(self, "setup", setup)
        if not isinstance(self.python, str) or not self.python.strip() or "\n" in self.python:
            raise ResourceError("python", self.python, "a path or command naming the interpreter")


@dataclass(frozen=True)
class JobPaths:
    """Where one job's files live on the execution host (absolute POSIX paths).

    The job directory is unique per submission and created mode 0700. The HMAC key file lives
    *outside* it, so a result cannot be forged by whoever can write the job directory alone.
    Per-task files of an array carry the task index as a suffix: ``result.3.pkl``.
    """

    job_dir: str
    key_file: str

    def __post_init__(self) -> None:
        for name in ("job_dir", "key_file"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.startswith("/") or "\n" in value or "\x00" in value:
                raise ResourceError(name, value, "an absolute POSIX path without newlines")

    def _file(self, stem: str, ext: str, task: int | None) -> str:
        suffix = "" if task is None else f".{task}"
        return posixpath.join(self.job_dir, f"{stem}{suffix}{ext}")

    @property
    def script(self) -> str:
        return posixpath.join(self.job_dir, "job.sh")

    @property
    def payload(self) -> str:
        return posixpath.join(self.job_dir, "call.pkl")

    def result(self, task: int | None = None) -> str:
        return self._file("result", ".pkl", task)

    def sentinel(self, task: int | None = None) -> str:
        return self._file("exit_code", "", task)

    def stdout(self, task: int | None = None) -> str:
        return self._file("stdout", ".log", task)

    def stderr(self, task: int | None = None) -> str:
        return self._file("stderr", ".log", task)


def env_pairs(env: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    """Normalise a mapping or pairs into the sorted tuple form :class:`JobSpec` stores."""
    if env is None:
        return ()
    items = env.items() if isinstance(env, Mapping) else env
    return tuple(sorted((str(k), str(v)) for k, v in items))
