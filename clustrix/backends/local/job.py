"""One call on the local backend: its process (or thread), state and logs, as a ``JobHandle``."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable

from clustrix.backends.local.fork_client import ForkedProcess
from clustrix.futures import JobFuture
from clustrix.payload.binding import JobBinding
from clustrix.payload.codec import Call
from clustrix.spec import JobSpec
from clustrix.states import JobState, JobStatus

LOG_TAIL_CHARS = 64 * 1024
"""How much of a job's log ``stdout()``/``stderr()`` return before a result exists."""

def log_tail(path: str, limit: int = LOG_TAIL_CHARS) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def describe_exit(code: int | None) -> str:
    """"killed by signal SIGKILL" for a negative exit code, else nothing."""
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return ""


class LocalJob:
    """One local job (or array task); it is also the future's :class:`JobHandle`.

    ``kill`` stops its process (the backend's SIGTERM-then-SIGKILL of the process group).
    """

    def __init__(self, kill: Callable[[subprocess.Popen[bytes] | ForkedProcess], object], job_id: str,
                 job_dir: str, task: int | None, spec: JobSpec, call: Call | None = None,
                 binding: JobBinding | None = None):
        self._kill = kill
        self.binding = binding  # what its result must be bound to (processes mode)
        self.job_id = job_id
        self.job_dir = job_dir
        self.task = task
        self.spec = spec
        self.call = call  # threads mode only
        self.future = JobFuture(job_id, self)
        self.lock = threading.Lock()
        self.state = JobState.PENDING
        self.cancel_requested = False
        self.proc: subprocess.Popen[bytes] | ForkedProcess | None = None
        self.live_out: list[str] | None = None  # threads mode: what the call printed so far
        self.live_err: list[str] | None = None
        self.final_out = ""
        self.final_err = ""

    def _file(self, stem: str, ext: str) -> str:
        suffix = "" if self.task is None else f".{self.task}"
        return os.path.join(self.job_dir, f"{stem}{suffix}{ext}")

    # --- JobHandle
    def cancel(self) -> bool:
        with self.lock:
            if self.state.is_terminal or self.cancel_requested:
                return self.cancel_requested
            if self.state == JobState.RUNNING and self.proc is None:
                return False  # a running thread cannot be stopped
            self.cancel_requested = True
            proc = self.proc
        if proc is not None:
            self._kill(proc)
        return True

    def status(self) -> JobStatus:
        with self.lock:
            return JobStatus(self.state, raw=self.state.value)

    def stdout(self) -> str:
        if self.live_out is not None:
            return "".join(self.live_out)
        return self.final_out if self.state.is_terminal else log_tail(self._file("stdout", ".log"))

    def stderr(self) -> str:
        if self.live_err is not None:
            return "".join(self.live_err)
        return self.final_err if self.state.is_terminal else log_tail(self._file("stderr", ".log"))


def signal_group(proc: subprocess.Popen[bytes] | ForkedProcess, sig: int) -> None:
    """Signal the call's process group (through the fork server for a forked call)."""
    if isinstance(proc, ForkedProcess):
        proc.signal_group(sig)
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
