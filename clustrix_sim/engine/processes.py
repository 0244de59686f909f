"""Run a job's batch script as a real process, and find, measure and kill its processes.

A job runs in its own session (``start_new_session=True``), so its session id and process-group
id equal the batch process's pid: every process the script starts can be found (for memory
accounting) and killed as a group. Process memory comes from ``/proc/<pid>/stat`` (the RSS field),
read once per sample for every process on the machine, which costs about a millisecond.

Nothing here knows about scheduling; the engine decides what to start and what to kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


class LaunchError(Exception):
    """The job could not be started (bad interpreter, unwritable output file...)."""


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    pgrp: int
    session: int
    start_ticks: int
    rss_kb: int
    state: str = "R"


def read_proc(pid: int) -> ProcInfo | None:
    """One process's ids, start time and RSS from /proc, or None when it is gone."""
    try:  # os.open/os.read: a buffered file object costs more than the read (a scan reads hundreds)
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        raw = os.read(fd, 4096).decode("ascii", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)
    # The command name may contain spaces and parentheses: fields start after the last ')'.
    rest = raw[raw.rfind(")") + 2:].split()
    try:
        rss = 0 if rest[0] in ("Z", "X") else int(rest[21]) * PAGE_KB  # zombies hold no memory
        return ProcInfo(pid, int(rest[2]), int(rest[3]), int(rest[19]), rss, rest[0])
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    info = read_proc(pid)
    return info is not None and info.state not in ("Z", "X")


def all_procs() -> list[ProcInfo]:
    procs = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            info = read_proc(int(name))
            if info is not None:
                procs.append(info)
    return procs


def rss_by_session(sessions: set[int], since: PidMark | None = None) -> dict[int, int]:
    """Total RSS in kB of the processes of each session in ``sessions``; ``since`` (a mark taken
    before every one of those sessions started) narrows the search as in :func:`session_members`."""
    totals = dict.fromkeys(sessions, 0)
    if not sessions:
        return totals
    candidates = pids_since(since) if since is not None else None
    procs = all_procs() if candidates is None else [p for p in map(read_proc, candidates) if p is not None]
    for info in procs:
        if info.session in totals:
            totals[info.session] += info.rss_kb
    return totals


MAX_FORKS_PER_S = 200_000  # more processes per second than any machine creates: bounds pid wrap-around
_RESERVED_PIDS = 300  # the kernel restarts at 300 after pid_max


@dataclass(frozen=True)
class PidMark:
    """The pid counter (``/proc/sys/kernel/ns_last_pid``) just before a job started, and when
    (monotonic seconds). Every process created since has a pid in the cyclic interval
    ``(last_pid, ns_last_pid now]``, as long as the counter cannot have gone all the way round,
    so reaping a short job reads /proc for a handful of pids instead of every process."""

    last_pid: int
    at_s: float


def _read_int(path: str) -> int | None:
    try:
        with open(path, "rb") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return None


def pid_mark() -> PidMark | None:
    """Where the pid counter is now; None when this kernel does not say."""
    last = _read_int("/proc/sys/kernel/ns_last_pid")
    return None if last is None else PidMark(last, time.monotonic())


def pids_since(mark: PidMark) -> list[int] | None:
    """The live pids created after ``mark``, or None when that cannot be told from pids alone
    (the counter could have wrapped all the way round since: too much time has passed)."""
    now = _read_int("/proc/sys/kernel/ns_last_pid")
    top = _read_int("/proc/sys/kernel/pid_max")
    if now is None or top is None or (time.monotonic() - mark.at_s) * MAX_FORKS_PER_S >= top - _RESERVED_PIDS:
        return None
    pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    if mark.last_pid <= now:
        return [p for p in pids if mark.last_pid < p <= now]
    return [p for p in pids if p > mark.last_pid or p <= now]  # wrapped once


def session_members(session: int, min_start_ticks: int = 0, since: PidMark | None = None) -> list[ProcInfo]:
    """The processes of ``session`` (started at or after ``min_start_ticks``); with ``since``,
    only processes created after that mark are read, when the pids can tell."""
    candidates = pids_since(since) if since is not None else None
    procs = all_procs() if candidates is None else [p for p in map(read_proc, candidates) if p is not None]
    return [p for p in procs if p.session == session and p.start_ticks >= min_start_ticks]


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False when the group is gone."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def signal_steps(leader: int, sig: int, *, scope: str) -> None:
    """Deliver a user signal like ``scancel --signal``: ``steps`` reaches every process of the
    job except the batch script itself (or the script when it is alone), ``batch`` only the
    script, ``full`` everything."""
    if scope == "full":
        signal_group(leader, sig)
        return
    if scope == "batch":
        _kill(leader, sig)
        return
    members = [p for p in session_members(leader) if p.pid != leader]
    steps = {p.pgrp for p in members if p.pgrp != leader}  # srun starts each task in its own group
    if steps:
        for pgid in steps:
            signal_group(pgid, sig)
        return
    for pid in [p.pid for p in members] or [leader]:  # no steps: the script's own children
        _kill(pid, sig)


def kill_session(session: int, min_start_ticks: int = 0, since: PidMark | None = None) -> int:
    """SIGKILL every process of a session (also ones that left the process group); the number
    of processes signalled. ``min_start_ticks`` skips processes older than the job (pid reuse);
    ``since`` (taken before the session's leader was started) narrows the search to newer pids."""
    if min_start_ticks == 0:
        signal_group(session, signal.SIGKILL)
    count = 0
    for info in session_members(session, min_start_ticks, since):
        if _kill(info.pid, signal.SIGKILL):
            count += 1
    return count


def _kill(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def address_space_limit_argv(mb: int | None) -> list[str]:
    """The argv prefix that caps the job's address space (what Grid Engine's h_vmem does).

    util-linux's ``prlimit`` sets the limit and execs the job, instead of a ``preexec_fn``:
    Python code between fork and exec can deadlock in a process with threads (the controller
    has several).
    """
    if not mb:
        return []
    limit = mb * 1024 * 1024
    return ["prlimit", f"--as={limit}:{limit}", "--"]


def interpreter_argv(script: str, script_path: str, shell: str | None = None) -> list[str]:
    """The argv that runs the script through its ``#!`` line, as the kernel would (the interpreter,
    at most one argument, the script's path); without one, /bin/bash. A ``shell`` (Grid Engine's
    ``-S`` or queue shell) runs it whatever its first line says.

    The interpreter is executed, never the script itself: the kernel refuses to execute a file
    that any process holds open for writing ("Text file busy"), and a forked child of another
    thread can hold a copy of the descriptor that wrote it until that child execs. An
    interpreter only opens the script for reading, which a leaked writer does not prevent.
    """
    if shell:
        return [shell, script_path]
    if not script.startswith("#!"):
        return ["/bin/bash", script_path]
    line = script[2:].split("\n", 1)[0].strip()
    interpreter, _, arg = line.partition(" ")
    arg = arg.strip()
    return [interpreter, arg, script_path] if arg else [interpreter, script_path]


def write_script(path: str, text: str, mode: int = 0o700) -> None:
    """Write an executable file whole: a temporary name (``O_CLOEXEC``), closed, then renamed, so
    the path never names a half-written file."""
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        data = memoryview(text.encode())
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_job_file(spool_dir: str, job_id: int, name: str, text: str) -> str:
    """Write a file a starting job is told about (PBS's ``$PBS_NODEFILE``) into its spool
    directory; returns its path."""
    job_dir = os.path.join(spool_dir, f"job{job_id}")
    os.makedirs(job_dir, mode=0o700, exist_ok=True)
    path = os.path.join(job_dir, name.lower())
    with open(path, "w") as fh:
        fh.write(text)
    return path


def spawn(*, job_id: int, script: str, script_args: list[str], spool_dir: str, work_dir: str,
          env: dict[str, str], stdout_path: str, stderr_path: str, append: bool,
          shell: str | None = None, vmem_limit_mb: int | None = None) -> subprocess.Popen:
    """Write the script to the spool and start it; raises :class:`LaunchError`.

    Like slurmd: the script is saved as ``<spool>/job<id>/slurm_script`` (0700), stdin is
    /dev/null, and when the working directory is missing the job runs in /tmp after writing
    slurmstepd's error line to its stderr file.
    """
    job_dir = os.path.join(spool_dir, f"job{job_id}")
    os.makedirs(job_dir, mode=0o700, exist_ok=True)
    script_path = os.path.join(job_dir, "slurm_script")
    write_script(script_path, script)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    try:
        out_fd = os.open(stdout_path, flags, 0o644)
    except OSError as exc:
        raise LaunchError(f"Could not open stdout file {stdout_path}: {exc.strerror}") from exc
    try:
        err_fd = out_fd if stderr_path == stdout_path else os.open(stderr_path, flags, 0o644)
    except OSError as exc:
        os.close(out_fd)
        raise LaunchError(f"Could not open stderr file {stderr_path}: {exc.strerror}") from exc
    cwd = work_dir
    if not os.path.isdir(cwd):
        os.write(err_fd, f"slurmstepd: error: couldn't chdir to `{work_dir}': No such file or "
                 "directory: going to /tmp instead\n".encode())
        cwd = "/tmp"  # noqa: S108 - what slurmstepd does
    try:
        argv = address_space_limit_argv(vmem_limit_mb) + interpreter_argv(script, script_path, shell)
        return subprocess.Popen(argv + list(script_args), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=out_fd, stderr=err_fd, start_new_session=True, close_fds=True)
    except OSError as exc:
        os.write(err_fd, f"slurmstepd: error: execve(): {script_path}: {exc.strerror}\n".encode())
        raise LaunchError(f"execve(): {script_path}: {exc.strerror}") from exc
    finally:
        os.close(out_fd)
        if err_fd != out_fd:
            os.close(err_fd)
