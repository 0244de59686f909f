"""``clustrix demo``: clustrix end to end on an embedded, simulated SLURM cluster.

No configuration, no Docker, no real cluster: the demo starts :class:`clustrix_sim.cluster.SimCluster`
(a controller that really schedules and runs jobs, the ``sbatch``/``sacct``/... tools, and an SSH
login node on 127.0.0.1), then uses clustrix exactly as research code would, over real SSH:

1. one call of an ``@cluster`` function (twice: the first call also logs in and sets up the
   HMAC key, the second shows the warm round trip);
2. ``square.map(range(N))``: one job array, with a progress bar when stderr is a terminal;
3. the simulator's own accounting (``sacct``) and clustrix's ledger entries for those jobs;
4. the timings measured in this run.

The simulator is stopped whatever happens (errors, Ctrl-C, SIGTERM/SIGHUP). The demo keeps the
user's files alone: clustrix's data dir (ledger and HMAC keys) is a temporary directory removed
at the end, unless ``--keep-ledger`` asks to record the demo's jobs in the user's real ledger
(the keys stay temporary either way: they belong to a cluster that is gone after the demo).
No configuration file is read: the profile comes from ``SimCluster.profile()``.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import shutil
import signal
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import click

from clustrix.api.decorator import cluster

MAX_TABLE_ROWS = 24  # longer sacct tables show their head and tail
IDLE_WAIT_S = 30.0
MAX_SHOWN_RESULTS = 100


@cluster(name="where", memory="100M", time="5m")
def where() -> dict[str, Any]:
    """Report where the job ran (the simulator sets the real SLURM variables)."""
    return {"job_id": os.environ.get("SLURM_JOB_ID"), "node": os.environ.get("SLURMD_NODENAME"),
            "pid": os.getpid()}


@cluster(name="square", memory="100M", time="5m")
def square(x: int) -> int:
    """The map's item function."""
    return x * x


@dataclass
class Timings:
    """Wall-clock seconds measured in one run (None: that step did not run)."""

    sim_start_s: float | None = None
    first_call_s: float | None = None
    warm_call_s: float | None = None
    map_s: float | None = None
    items: int = 0


@dataclass
class DemoRun:
    """What one demo run printed, for callers and tests that drive :func:`run_demo` directly."""

    where: list[dict[str, Any]] = field(default_factory=list)
    results: list[int] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    sim_root: str | None = None


# --- isolation ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _isolated_data_dir(keep_ledger: bool) -> Iterator[str]:
    """Point clustrix's data dir (and, unless ``keep_ledger``, its ledger) at a temp dir."""
    from clustrix.paths import ledger_path

    saved = {k: os.environ.get(k) for k in ("CLUSTRIX_DATA_DIR", "CLUSTRIX_LEDGER")}
    real_ledger = str(ledger_path()) if keep_ledger else None  # resolved before the override
    tmp = tempfile.mkdtemp(prefix="clustrix-demo-")
    os.environ["CLUSTRIX_DATA_DIR"] = tmp
    os.environ["CLUSTRIX_LEDGER"] = real_ledger or os.path.join(tmp, "ledger.sqlite3")
    try:
        yield os.environ["CLUSTRIX_LEDGER"]
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(tmp, ignore_errors=True)


class _Interrupts:
    """Ctrl-C, SIGTERM and SIGHUP all raise KeyboardInterrupt, so the same cleanup runs for each.

    The first one says what happens next: an interrupted ``map`` cancels its unfinished items
    before returning (one ``scancel`` for the whole map); a second one
    skips that, since stopping the simulator kills the jobs anyway. Once :meth:`cleaning` is
    called, signals no longer raise: stopping the simulator must not be cut short (it has its
    own deadlines).
    """

    def __init__(self) -> None:
        self.count = 0
        self._cleaning = False
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():  # handlers need the main thread
            self._saved = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        return self

    def __exit__(self, *exc: object) -> None:
        # After an interrupt the demo is on its way out with KeyboardInterrupt (exit 130); a
        # further signal arriving now must not kill the process with the default handler.
        keep_ignoring = self.count > 0
        for sig, handler in self._saved.items():
            signal.signal(sig, signal.SIG_IGN if keep_ignoring else handler)

    def cleaning(self) -> None:
        self._cleaning = True

    def _handle(self, signum: int, _frame: Any) -> None:
        self.count += 1
        # os.write, not print: the main thread may be inside a print when the signal lands.
        if self._cleaning:
            os.write(2, b"\nStill stopping the simulator; it takes a few seconds at most.\n")
            return
        if self.count == 1:
            os.write(2, b"\nInterrupted: cancelling the jobs, then stopping the simulator "
                        b"(interrupt again to skip the cancelling)\n")
        raise KeyboardInterrupt(f"signal {signum}")


# --- the run -----------------------------------------------------------------------------------


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    began = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - began


def run_demo(items: int = 50, nodes: int = 2, cores_per_node: int = 4, *, keep_ledger: bool = False,
             echo: Callable[[str], None] = click.echo) -> DemoRun:
    """Run the demo (module docstring), printing through ``echo``; returns what it measured."""
    from clustrix import config as cfg
    from clustrix.api.decorator import shutdown_executors
    from clustrix_sim.cluster import SimCluster

    if hasattr(signal, "SIGUSR1"):
        # `kill -USR1 <pid>` prints every thread's stack: how to see where a stuck demo waits.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    run = DemoRun()
    t = run.timings
    t.items = items
    echo("clustrix demo: a simulated SLURM cluster on this machine (no Docker, no configuration)\n")
    with _Interrupts() as interrupts, _isolated_data_dir(keep_ledger) as ledger_file:
        sim = SimCluster(nodes=nodes, cores_per_node=cores_per_node, mem_per_node="4G", ssh=True)
        try:
            echo(f"Starting the simulator: {nodes} node(s) x {cores_per_node} core(s), "
                 "controller + SSH login node ...")
            _, t.sim_start_s = _timed(sim.start)
            run.sim_root = sim.root
            ssh = sim.ssh
            echo(f"  ready in {t.sim_start_s:.2f} s; ssh -p {ssh.port} {ssh.user}@{ssh.host} "
                 f"(key {ssh.key_file})")
            echo(f"  simulator root: {sim.root}  (removed at the end)")
            echo(f"  ledger: {ledger_file}" + ("" if keep_ledger else "  (temporary; --keep-ledger keeps "
                                                                        "the jobs in your own ledger)"))
            # The jobs run on this machine: they import this clustrix, whatever else is installed.
            root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            with cfg.use_profile(sim.profile(name="clustrix-demo", ledger=ledger_file, env={"PYTHONPATH": root})):
                _demo_calls(run, echo)
            echo("")
            _print_job_table(sim, echo)
            _print_ledger(sim.root or "", echo)
            _print_timings(t, echo)
        finally:
            interrupts.cleaning()
            shutdown_executors(wait=False)
            root = sim.root
            # After an interrupt the poller may still be polling jobs of the cluster that is going
            # away; its "connection lost" warnings would only confuse the reader.
            quiet = logging.getLogger("clustrix")
            saved_level = quiet.level
            quiet.setLevel(logging.ERROR)
            try:
                sim.stop()
            finally:
                quiet.setLevel(saved_level)
            gone = root is not None and not os.path.exists(root)
            echo(f"\nSimulator stopped{' and ' + str(root) + ' removed' if gone else ''}.")
    return run


def _demo_calls(run: DemoRun, echo: Callable[[str], None]) -> None:
    t = run.timings
    echo("\n1. One call of an @cluster function:  where()")
    for attempt in ("first", "again"):
        info, seconds = _timed(where)
        run.where.append(info)
        if attempt == "first":
            t.first_call_s = seconds
            note = "  (includes the SSH login and the HMAC key set-up)"
        else:
            t.warm_call_s = seconds
            note = ""
        echo(f"   {attempt:>5}: ran as job {info['job_id']} on simulated node {info['node']} "
             f"(pid {info['pid']}), round trip {seconds:.2f} s{note}")

    echo(f"\n2. A map over {t.items} item(s), one job array:  square.map(range({t.items}))")
    results, t.map_s = _timed(lambda: square.map(range(t.items)))
    run.results = list(results)
    expected = [x * x for x in range(t.items)]
    echo(textwrap.fill(f"results: {_short_list(run.results)}", width=100, initial_indent="   ",
                       subsequent_indent="     "))
    verdict = "all correct" if run.results == expected else "WRONG (expected x*x for each x)"
    echo(f"   {verdict}; wall time {t.map_s:.2f} s ({t.items / t.map_s:.1f} items/s)")


def _short_list(values: list[Any]) -> str:
    if len(values) <= MAX_SHOWN_RESULTS:
        return repr(values)
    head, tail = values[:20], values[-5:]
    return f"[{', '.join(map(repr, head))}, ... ({len(values) - 25} more) ..., {', '.join(map(repr, tail))}]"


def _print_job_table(sim: Any, echo: Callable[[str], None]) -> None:
    argv = ["sacct", "-X", "--format=JobID%-10,JobName%-10,State,ExitCode,NodeList,Elapsed"]
    echo(f"3. The simulator's accounting:  {' '.join(argv)}")
    # clustrix returns a value as soon as its result file exists, which can be a moment before
    # the job script exits; the table shows the scheduler's final word, so wait for it (bounded).
    try:
        sim.wait_idle(timeout_s=IDLE_WAIT_S)
    except TimeoutError:
        echo(f"   (some jobs were still finishing after {IDLE_WAIT_S:.0f} s; their state is as of now)")
    done = sim.run(argv, timeout_s=30)
    if done.returncode != 0:
        echo(f"   sacct failed (exit {done.returncode}): {done.stderr.strip()}")
        return
    lines = done.stdout.rstrip("\n").splitlines()
    header, rows = lines[:2], lines[2:]
    if len(rows) > MAX_TABLE_ROWS:
        cut = len(rows) - MAX_TABLE_ROWS + 4
        rows = rows[:MAX_TABLE_ROWS - 4] + [f"... {cut} more row(s) ..."] + rows[-4:]
    for line in header + rows:
        echo("   " + line)


def _print_ledger(sim_root: str, echo: Callable[[str], None]) -> None:
    from clustrix.backends.ledger import Ledger

    ledger = Ledger()
    try:
        mine = [e for e in ledger.entries(limit=None) if sim_root and e.job_dir.startswith(sim_root)]
    finally:
        ledger.close()
    echo(f"\n   clustrix's ledger recorded {len(mine)} submission(s):")
    for e in reversed(mine):  # oldest first, like sacct
        what = f"array: {e.n_items} item(s) in {len(e.task_ids)} task(s)" if e.is_array else "single call"
        echo(f"     job {e.job_id:<8} {what:<38} {e.state}")


def _print_timings(t: Timings, echo: Callable[[str], None]) -> None:
    def fmt(seconds: float | None) -> str:
        return "    -   " if seconds is None else f"{seconds:7.2f} s"

    echo("\nTimings measured in this run (wall clock):")
    echo(f"   simulator start               {fmt(t.sim_start_s)}")
    echo(f"   single call, first            {fmt(t.first_call_s)}   (SSH login + key set-up + job)")
    echo(f"   single call, warm             {fmt(t.warm_call_s)}   (submit, run, poll, fetch result)")
    echo(f"   map over {t.items:<5} items          {fmt(t.map_s)}   (one job array)")


@click.command()
@click.option("--items", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="How many items the map runs (one job array).")
@click.option("--nodes", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Simulated compute nodes.")
@click.option("--cores-per-node", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Cores per simulated node.")
@click.option("--keep-ledger", is_flag=True,
              help="Record the demo's jobs in your real ledger (see `clustrix jobs list --all`) "
                   "instead of a temporary one.")
def demo(items: int, nodes: int, cores_per_node: int, keep_ledger: bool) -> None:
    """Run clustrix end to end on an embedded simulated SLURM cluster (no config, no Docker).

    Starts a simulator with an SSH login node on 127.0.0.1, runs an @cluster function once
    and as a map over ITEMS items (one job array), prints the results, the job table and the
    timings, and stops the simulator. Your configuration and ledger are not touched.
    """
    from clustrix_sim.cluster import SimClusterError

    try:
        run = run_demo(items, nodes, cores_per_node, keep_ledger=keep_ledger)
    except KeyboardInterrupt:
        click.echo("\nInterrupted; the simulator and its jobs were stopped.", err=True)
        sys.exit(130)
    except SimClusterError as exc:
        raise click.ClickException(f"the simulated cluster failed: {exc}") from exc
    if run.results != [x * x for x in range(items)]:
        raise click.ClickException("the map returned wrong results (see above)")
