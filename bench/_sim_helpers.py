"""Shared pieces of the benches that run clustrix and submitit against the SLURM simulator.

- :func:`isolated_clustrix_data`: clustrix's ledger and keys in a temporary directory, so a bench
  never writes into the user's data dir;
- :func:`applied_env`: ``SimCluster.env()`` (the simulator's ``sbatch``/``sacct`` first on PATH)
  applied to ``os.environ`` for submitit, which runs the tools with ``subprocess``;
- :class:`CommandCounter`: counts the scheduler commands a client issued, by wrapping clustrix's
  transport ``run()`` (over SSH) or, for submitit, ``subprocess.Popen`` (local mode);
- :func:`submitit_defaults`: submitit's polling behaviour, read from the installed library where
  it is data and quoted from its source where it is code, so the printout says what we compare to;
- small statistics and formatting helpers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

SCHEDULER_TOOLS = frozenset({"sbatch", "sacct", "squeue", "scancel", "scontrol", "sinfo", "srun"})


@contextlib.contextmanager
def isolated_clustrix_data() -> Iterator[str]:
    """Point ``$CLUSTRIX_DATA_DIR`` and ``$CLUSTRIX_LEDGER`` at a temporary directory."""
    saved = {k: os.environ.get(k) for k in ("CLUSTRIX_DATA_DIR", "CLUSTRIX_LEDGER")}
    tmp = tempfile.mkdtemp(prefix="clustrix-bench-")
    os.environ["CLUSTRIX_DATA_DIR"] = tmp
    os.environ["CLUSTRIX_LEDGER"] = os.path.join(tmp, "ledger.sqlite3")
    try:
        yield tmp
    finally:
        _restore(saved)
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def applied_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block (submitit's subprocesses inherit them)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        _restore(saved)


def _restore(saved: Mapping[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


class CommandCounter:
    """Counts scheduler commands (by tool name) a client ran. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def add(self, argv: Any) -> None:
        try:
            name = os.path.basename(str(argv[0]))
        except (IndexError, TypeError):
            return
        if name in ("sh", "bash") and len(argv) >= 3:  # a chained accounting lookup: count its tools
            for tool in SCHEDULER_TOOLS:
                if f"{tool} " in str(argv[2]):
                    name = tool
        if name in SCHEDULER_TOOLS:
            with self._lock:
                self.counts[name] += 1

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)

    def wrap_transport(self, transport: Any) -> None:
        """Count every ``transport.run(argv)`` (the backend, poller and launcher share it)."""
        original = transport.run

        def run(argv: Any, *args: Any, **kwargs: Any) -> Any:
            self.add(argv)
            return original(argv, *args, **kwargs)

        transport.run = run

    @contextlib.contextmanager
    def counting_subprocesses(self) -> Iterator[None]:
        """Count scheduler tools started through ``subprocess`` in this process (submitit)."""
        counter = self
        original = subprocess.Popen

        class CountingPopen(original):  # type: ignore[misc, valid-type]
            def __init__(self, args: Any, *a: Any, **kw: Any) -> None:
                counter.add([args] if isinstance(args, (str, bytes)) else list(args))
                super().__init__(args, *a, **kw)

        subprocess.Popen = CountingPopen  # type: ignore[misc]
        try:
            yield
        finally:
            subprocess.Popen = original  # type: ignore[misc]


def format_counts(counts: Mapping[str, int]) -> str:
    shown = [f"{tool} {counts[tool]}" for tool in sorted(counts) if counts[tool]]
    return ", ".join(shown) or "none"


def submitit_defaults() -> str:
    """What submitit does while waiting, with its defaults (see submitit/core/core.py)."""
    import submitit
    from submitit.slurm.slurm import SlurmJob

    delay_s = getattr(SlurmJob.watcher, "_delay_s", "?")
    return (f"submitit {submitit.__version__} defaults: Job.result() -> wait() sleeps 1 s between done() "
            f"checks; done() looks for the result pickle, and runs sacct at most every "
            f"min({delay_s} s, max(2 s, age/2)); submissions are throttled to one per 0.2 s")


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``(fn(), wall seconds)``."""
    began = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - began


def sample(fn: Callable[[], Any], n: int, warmup: int, check: Callable[[Any], bool]) -> list[float]:
    """Seconds of ``n`` calls after ``warmup`` unmeasured ones; every value must pass ``check``."""
    for _ in range(warmup):
        _verify(fn(), check)
    samples = []
    for _ in range(n):
        value, seconds = timed(fn)
        _verify(value, check)
        samples.append(seconds)
    return samples


def _verify(value: Any, check: Callable[[Any], bool]) -> None:
    if not check(value):
        raise AssertionError(f"the benchmarked call returned a wrong value: {value!r}")


def summary_ms(samples: list[float]) -> str:
    """``median  p10..p90`` in milliseconds."""
    median = statistics.median(samples) * 1000
    if len(samples) >= 2:
        deciles = statistics.quantiles(samples, n=10, method="inclusive")
        spread = f"p10 {deciles[0] * 1000:7.1f}  p90 {deciles[-1] * 1000:7.1f}"
    else:
        spread = ""
    return f"median {median:8.1f} ms   {spread}"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def load_note() -> str:
    """The machine's load average, printed with the figures (they depend on it)."""
    try:
        one, five, _fifteen = os.getloadavg()
    except OSError:
        return "load average unavailable"
    return f"{os.cpu_count()} CPU(s), load average {one:.2f} (1 min) {five:.2f} (5 min)"
