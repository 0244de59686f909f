"""The engine's job processes: start, time limit, --signal warnings, memory limit, exit, kill.

:class:`JobLifecycle` works on the engine's :class:`~clustrix_sim.engine.cluster_state.ClusterState`
and owns the table of running jobs; every method runs with the state's lock held unless its
docstring says otherwise.

How a job ends (state, reason, ExitCode ``code:signal``):

- exits 0 -> COMPLETED ``0:0``; exits N -> FAILED ``NonZeroExitCode`` ``N:0``; killed by signal S
  on its own -> FAILED ``RaisedSignal`` ``0:S``;
- time limit -> SIGTERM to the job's process group, SIGKILL after KillWait (``kill_wait_s`` sim
  seconds, at least 0.2 real seconds) -> TIMEOUT ``TimeLimit`` ``0:15`` (or how it died);
- memory above an explicit ``--mem``/``--mem-per-cpu`` -> SIGKILL -> OUT_OF_MEMORY
  ``OutOfMemory`` ``0:125`` (the code sacct shows for cgroup OOM kills);
- cancel -> SIGTERM, then SIGKILL after KillWait -> CANCELLED by <uid>, ``0:<signal>``;
- node failure -> SIGKILL -> NODE_FAIL ``NodeDown``; preemption -> PREEMPTED or requeued.

While a job is being killed its state is COMPLETING (squeue ``CG``). When the batch process exits,
every process left in its session is killed (like the job's cgroup being torn down).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from clustrix_sim import frontends
from clustrix_sim.engine import processes, scheduling
from clustrix_sim.engine.cluster_state import Allocation, ClusterState
from clustrix_sim.engine.fault_results import ResultFaults
from clustrix_sim.engine.model import (
    CANCELLED,
    COMPLETED,
    COMPLETING,
    FAILED,
    NODE_FAIL,
    OUT_OF_MEMORY,
    PREEMPTED,
    RUNNING,
    TIMEOUT,
    JobRecord,
)
from clustrix_sim.engine.store import ProcEntry
from clustrix_sim.engine.timings import Timings

REQUEUE = "REQUEUE"  # an ending that puts the job back in the queue
SHUTDOWN = "SHUTDOWN"  # the controller is stopping: restart rule (requeue or NODE_FAIL)
OOM_EXIT_SIGNAL = 125
MIN_KILL_WAIT_S = 0.2
SHUTDOWN_GRACE_S = 0.5


@dataclass
class RunInfo:
    """A running job's process and timers (monotonic seconds)."""

    popen: subprocess.Popen[bytes]
    pid: int
    start_ticks: int
    allocations: tuple[Allocation, ...]
    deadline: float | None = None
    warn_at: float | None = None
    warn_signal: int = 0
    warn_scope: str = "steps"
    mem_limit_mb: int | None = None
    ending: str | None = None
    kill_at: float | None = None
    cancel_uid: int | None = None
    spawned_at: float = 0.0  # perf_counter() just before the spawn (for ``timings``)
    pid_mark: processes.PidMark | None = None  # the pid counter before the spawn: a cheap reap
    done: threading.Event = field(default_factory=threading.Event)


def parse_signal_option(text: str | None) -> tuple[int, float, str] | None:
    """``--signal=[{R|B}:]<sig>[@secs]`` -> (signal number, seconds before the limit, scope)."""
    if not text:
        return None
    scope = "steps"
    body = text.strip()
    if ":" in body:
        flags, _, body = body.partition(":")
        scope = "batch" if "B" in flags.upper() else "steps"
    name, _, secs = body.partition("@")
    try:
        if name.isdigit():
            signum = int(name)
        else:
            upper = name.upper()
            signum = int(signal.Signals[upper if upper.startswith("SIG") else "SIG" + upper])
        return signum, float(secs) if secs else 60.0, scope
    except (KeyError, ValueError):
        return None


def _no_files(record: JobRecord) -> dict[str, str]:
    return {}


class JobLifecycle:
    """Starts jobs and sees each one through to its end (see the module docstring)."""

    def __init__(self, state: ClusterState, timings: Timings | None = None) -> None:
        self.state = state
        self.timings = timings or Timings()
        self.after_exit: Callable[[], None] | None = None  # the engine's scheduling pass
        self._frontend: frontends.JobEnvironment | None = None
        self.running: dict[int, RunInfo] = {}  # job_id -> its process and timers
        self.result_faults = ResultFaults()  # fault: damage a job's files before its end is recorded

    def _job_environment(self) -> frontends.JobEnvironment:
        """The flavour's front end (looked up once: the lookup lists the package's folders)."""
        if self._frontend is None:
            try:
                self._frontend = frontends.job_environment(self.state.cfg.flavor)
            except ImportError as exc:
                raise processes.LaunchError(f"no job environment for flavor {self.state.cfg.flavor!r}: "
                                            f"{exc}") from exc
        return self._frontend

    def _kill_wait_real(self) -> float:
        return max(self.state.real_seconds(self.state.cfg.kill_wait_s), MIN_KILL_WAIT_S)

    def start(self, start: scheduling.Start) -> None:
        """Run a job the scheduler placed: spawn its batch script, arm its timers, reap it."""
        state = self.state
        rec = state.jobs[start.job_id]
        state.pending.pop(rec.job_id, None)
        rec.state, rec.reason, rec.partition = RUNNING, "None", start.partition
        rec.node_list = start.node_names
        rec.alloc_cpus = sum(a[1] for a in start.allocations)
        rec.alloc_mem_mb, rec.alloc_gpus = start.allocations[0][2], start.allocations[0][3]
        rec.start_time, rec.end_time = state.now(), None
        rec.exit_code = rec.exit_signal = 0
        rec.cancelled_by_uid = None
        state.touch(rec)
        req = rec.request
        try:
            frontend = self._job_environment()
            rec.stdout_path, rec.stderr_path = frontend.output_paths(rec)
            env = dict(req.env)
            env.update(frontend.job_env(rec, state.cfg.cluster_name))
            if env.get("TMPDIR"):  # a front end that names a per-job TMPDIR gets it made (SGE's execd)
                os.makedirs(env["TMPDIR"], mode=0o700, exist_ok=True)
            for var, text in getattr(frontend, "job_files", _no_files)(rec).items():
                env[var] = processes.write_job_file(state.spool_dir, rec.job_id, var, text)
            mark = processes.pid_mark()
            spawned_at = time.perf_counter()
            popen = processes.spawn(job_id=rec.job_id, script=req.script, script_args=list(req.script_args),
                                    spool_dir=state.spool_dir, work_dir=req.work_dir, env=env,
                                    stdout_path=rec.stdout_path, stderr_path=rec.stderr_path,
                                    append=req.open_mode == "append" or rec.restart_count > 0,
                                    shell=req.shell, vmem_limit_mb=req.vmem_limit_mb)
        except Exception as exc:  # noqa: BLE001 - any launch problem fails the job, never the loop
            state.log(f"job {rec.job_id} failed to launch: {exc!r}")
            state.release(start.allocations)
            state.finalize(rec, FAILED, reason="JobLaunchFailure", exit_code=1, end=state.now())
            return
        self.result_faults.job_started(rec.job_id, rec.array_job_id, rec.stdout_path)
        proc = processes.read_proc(popen.pid)
        info = RunInfo(popen=popen, pid=popen.pid, start_ticks=proc.start_ticks if proc else 0,
                       allocations=start.allocations, spawned_at=spawned_at, pid_mark=mark)
        mono = time.monotonic()
        if req.time_limit_s:
            info.deadline = mono + state.real_seconds(req.time_limit_s)
            warning = parse_signal_option(req.signal)
            if warning is not None:
                info.warn_signal, lead_s, info.warn_scope = warning
                info.warn_at = info.deadline - state.real_seconds(lead_s)
        first = state.nodes[start.allocations[0][0]]
        info.mem_limit_mb = scheduling.need_of(req).enforced_mem_mb(first)
        rec.pid = popen.pid
        self.running[rec.job_id] = info
        state.store.save_proc(ProcEntry(rec.job_id, info.pid, info.start_ticks))
        threading.Thread(target=self._reap, args=(rec.job_id, info), name=f"reap-{rec.job_id}",
                         daemon=True).start()

    def _reap(self, job_id: int, info: RunInfo) -> None:
        """Waiter thread (no lock held): wait for the batch process, then record the exit."""
        rc = info.popen.wait()
        exited_at = time.perf_counter()
        processes.kill_session(info.pid, since=info.pid_mark)  # leftovers die with the job, like its cgroup
        state = self.state
        self._damage_results(job_id)
        with state.lock:
            try:
                self._on_exit(job_id, info, rc)
                if self.after_exit is not None:
                    self.after_exit()
            except Exception as exc:  # noqa: BLE001 - logged; the job must not stay RUNNING silently
                state.log(f"recording the exit of job {job_id} failed: {exc!r}")
            finally:
                state.flush()
                info.done.set()
        self.timings.add("exec_to_exit_s", exited_at - info.spawned_at)
        self.timings.add("reap_s", time.perf_counter() - exited_at)
        state.wake.set()

    def _damage_results(self, job_id: int) -> None:
        """Apply result-file faults (no lock held; any error is logged, never raised)."""
        rec = self.state.jobs[job_id]
        try:
            self.result_faults.on_exit(job_id, rec.array_job_id, rec.stdout_path)
        except OSError as exc:
            self.state.log(f"result fault on job {job_id} failed: {exc!r}")

    def _on_exit(self, job_id: int, info: RunInfo, rc: int) -> None:
        state = self.state
        rec = state.jobs[job_id]
        self.running.pop(job_id, None)
        state.release(info.allocations)
        state.store.delete_proc(job_id)
        rec.pid = None
        end = state.now()
        code, sig = (0, -rc) if rc < 0 else (rc, 0)
        ending = info.ending
        if ending == SHUTDOWN:
            ending = REQUEUE if rec.request.requeue else NODE_FAIL
        if ending == REQUEUE:
            state.requeue(rec)
        elif ending == TIMEOUT:
            state.finalize(rec, TIMEOUT, reason="TimeLimit", exit_code=code, exit_signal=sig, end=end)
        elif ending == OUT_OF_MEMORY:
            state.finalize(rec, OUT_OF_MEMORY, reason="OutOfMemory", exit_signal=OOM_EXIT_SIGNAL, end=end)
        elif ending == CANCELLED:
            rec.cancelled_by_uid = info.cancel_uid
            state.finalize(rec, CANCELLED, exit_code=code, exit_signal=sig, end=end)
        elif ending == NODE_FAIL:
            state.finalize(rec, NODE_FAIL, reason="NodeDown", end=end)
        elif ending == PREEMPTED:
            state.finalize(rec, PREEMPTED, exit_code=code, exit_signal=sig, end=end)
        elif rc == 0:
            state.finalize(rec, COMPLETED, end=end)
        elif rc > 0:
            state.finalize(rec, FAILED, reason="NonZeroExitCode", exit_code=code, end=end)
        else:
            state.finalize(rec, FAILED, reason="RaisedSignal", exit_signal=sig, end=end)

    def end(self, rec: JobRecord, ending: str, *, hard: bool = False) -> None:
        """End a running job as ``ending`` (a final state, or REQUEUE), replacing any ending in
        progress: SIGTERM now and SIGKILL after KillWait, or SIGKILL now when ``hard``."""
        info = self.running.get(rec.job_id)
        if info is not None:
            info.ending = None
            self.begin_kill(rec, info, ending, hard=hard)

    def begin_kill(self, rec: JobRecord, info: RunInfo, ending: str, *, hard: bool = False) -> None:
        """Start ending a running job: SIGTERM now and SIGKILL after KillWait (or SIGKILL now)."""
        if info.ending is not None and not hard:
            return
        info.ending = info.ending or ending
        rec.state = COMPLETING
        self.state.touch(rec)
        if hard:
            processes.signal_group(info.pid, signal.SIGKILL)
            info.kill_at = time.monotonic() + MIN_KILL_WAIT_S  # then sweep the whole session
            return
        processes.signal_group(info.pid, signal.SIGCONT)
        processes.signal_group(info.pid, signal.SIGTERM)
        info.kill_at = time.monotonic() + self._kill_wait_real()

    def timers(self, mono: float) -> None:
        """Fire due ``--signal`` warnings, time limits and KillWait deadlines."""
        for job_id, info in list(self.running.items()):
            rec = self.state.jobs[job_id]
            if info.warn_at is not None and mono >= info.warn_at and info.ending is None:
                info.warn_at = None
                processes.signal_steps(info.pid, info.warn_signal, scope=info.warn_scope)
            if info.deadline is not None and mono >= info.deadline and info.ending is None:
                self.begin_kill(rec, info, TIMEOUT, hard=rec.request.kill_at_once)
            if info.kill_at is not None and mono >= info.kill_at:
                info.kill_at = None
                processes.kill_session(info.pid)

    def sample_memory(self) -> None:
        """Measure every running job's RSS (no lock held while reading /proc) and enforce limits."""
        state = self.state
        with state.lock:
            sessions = {info.pid: job_id for job_id, info in self.running.items()}
            marks = [info.pid_mark for info in self.running.values()]
        oldest = None if None in marks else min(marks, key=lambda m: m.at_s, default=None)
        totals = processes.rss_by_session(set(sessions), since=oldest)
        with state.lock:
            for pid, kb in totals.items():
                job_id = sessions[pid]
                info = self.running.get(job_id)
                if info is None or info.pid != pid:
                    continue
                rec = state.jobs[job_id]
                mb = kb / 1024.0
                if mb >= rec.max_rss_mb + 1.0:
                    rec.max_rss_mb = round(mb, 1)
                    state.touch(rec)
                if info.mem_limit_mb is not None and mb > info.mem_limit_mb and info.ending != OUT_OF_MEMORY:
                    state.log(f"job {job_id} exceeded its memory limit ({mb:.0f} > {info.mem_limit_mb} MB)")
                    info.ending = None
                    self.begin_kill(rec, info, OUT_OF_MEMORY, hard=True)
            state.flush()

    def kill_all(self) -> None:
        """Kill every running job for shutdown and wait (bounded) until each exit is recorded."""
        state = self.state
        with state.lock:
            running = list(self.running.items())
            for job_id, info in running:
                info.ending = SHUTDOWN
                state.jobs[job_id].state = COMPLETING
                processes.signal_group(info.pid, signal.SIGCONT)
                processes.signal_group(info.pid, signal.SIGTERM)
        infos = [info for _, info in running]
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        for info in infos:
            info.done.wait(max(deadline - time.monotonic(), 0))
        for info in infos:
            if not info.done.is_set():
                processes.kill_session(info.pid)
        for info in infos:
            if not info.done.wait(5.0):
                state.log(f"job process {info.pid} did not exit after SIGKILL")
