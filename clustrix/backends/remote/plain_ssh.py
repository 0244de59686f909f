"""The ``ssh`` backend: jobs on a host without a scheduler, run in the background with nohup.

A job is its job directory plus a process: ``job.sh`` (the same body a batch script has, so the
runner, the sentinel and the logs work the same) started detached — ``nohup setsid /bin/sh job.sh``
— with its pid as the job id. An array runs ``job.sh`` as a driver that feeds task indices to
``xargs -P <max_array_parallel or CPU count>``, each task running ``task.sh <index>``.

Status is one command per tick for every live job: ``ps`` of the recorded pids (checked against
the job directory name in their command line, so a recycled pid is not mistaken for the job) plus
the job directories' sentinel files. A sentinel decides the task (COMPLETED or FAILED with its
exit code); a live process without one is RUNNING; a dead process without one was killed
(FAILED). Files are on the host's own filesystem, so the grace periods are short.

Cancel writes a ``cancelled`` marker into the job dir (so any client's poller reports CANCELLED,
not "killed"), then sends SIGTERM to the job's process group (``setsid`` made the job its
leader); one array task is cancelled by signalling that task's processes only. A task still queued inside ``xargs``
cannot be removed from the queue: its future is cancelled and its result ignored.
"""

from __future__ import annotations

import posixpath
import re
import shlex
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from clustrix.config.profile import Profile
from clustrix.errors import CommandError, StatusQueryError, SubmissionError, TransportError
from clustrix.polling.resolution import GracePolicy
from clustrix.schedulers.script import render_body
from clustrix.spec import JobPaths, JobSpec
from clustrix.states import JobState, JobStatus
from clustrix.transports.base import Transport

DRIVER_LOG = "driver.log"
_SENTINEL_RE = re.compile(r"^(exit_code|cancelled)(?:\.([0-9]+))?$")
_MARK = "--clustrix-sentinels--"


@dataclass(frozen=True)
class _Tracked:
    job_dir: str
    n_tasks: int | None

    @property
    def tag(self) -> str:
        """The unique directory name, looked for in the process's command line."""
        return posixpath.basename(self.job_dir.rstrip("/"))


class PlainSSHStatusSource:
    """``StatusSource`` from ``ps`` and sentinel files (see the module docstring)."""

    has_accounting = False

    def __init__(self, transport: Transport, *, timeout_s: float, host: str | None):
        self.transport = transport
        self.timeout_s = timeout_s
        self.host = host
        self._lock = threading.Lock()
        self._jobs: dict[str, _Tracked] = {}

    def track(self, pid: str, job_dir: str, n_tasks: int | None) -> None:
        if not pid.isdigit():
            raise ValueError(f"plain-ssh job ids are process ids, got {pid!r}")
        with self._lock:
            self._jobs[pid] = _Tracked(job_dir, n_tasks)

    def tracked(self, pid: str) -> _Tracked | None:
        with self._lock:
            return self._jobs.get(pid)

    def query(self, ids: Sequence[str]) -> dict[str, JobStatus]:
        with self._lock:
            jobs = [(pid, self._jobs[pid]) for pid in ids if pid in self._jobs]
        if not jobs:
            return {}
        lines = [f"ps -ww -o pid=,args= -p {','.join(pid for pid, _ in jobs)} 2>/dev/null", f"echo {_MARK}"]
        for n, (_, job) in enumerate(jobs):
            lines.append(f'for f in {shlex.quote(job.job_dir)}/exit_code* {shlex.quote(job.job_dir)}/cancelled*; '
                         f'do [ -f "$f" ] && printf "{n} %s %s\\n" "${{f##*/}}" "$(head -c 32 "$f" | tr -d "\\n")"; done')
        lines.append("exit 0")
        argv = ["/bin/sh", "-c", "\n".join(lines)]
        try:
            done = self.transport.run(argv, timeout_s=self.timeout_s)
        except TransportError as exc:
            raise StatusQueryError(exc, transient=True) from exc
        if done.returncode != 0 or _MARK not in done.stdout:
            err = CommandError(argv[:2] + ["<status script>"], done.returncode, done.stdout, done.stderr, host=self.host)
            raise StatusQueryError(err, transient=False)
        return _parse(done.stdout, jobs)


def _parse(stdout: str, jobs: list[tuple[str, _Tracked]]) -> dict[str, JobStatus]:
    ps_part, _, sentinel_part = stdout.partition(_MARK)
    tags = {pid: job.tag for pid, job in jobs}
    alive: set[str] = set()
    for line in ps_part.splitlines():
        pid, _, args = line.strip().partition(" ")
        if pid in tags and tags[pid] in args:
            alive.add(pid)
    codes: dict[tuple[int, int | None], int] = {}
    cancelled: set[tuple[int, int | None]] = set()
    for line in sentinel_part.splitlines():
        parts = line.split(" ", 2)
        if len(parts) < 2 or not parts[0].isdigit():
            continue
        m = _SENTINEL_RE.match(parts[1])
        if not m:
            continue  # exit_code.tmp and friends
        where = (int(parts[0]), None if m.group(2) is None else int(m.group(2)))
        if m.group(1) == "cancelled":
            cancelled.add(where)
            continue
        text = parts[2].strip() if len(parts) > 2 else ""
        codes[where] = int(text) if text.isdigit() else 255
    out: dict[str, JobStatus] = {}
    for n, (pid, job) in enumerate(jobs):
        tasks: list[tuple[str, int | None]] = (
            [(pid, None)] if job.n_tasks is None else [(f"{pid}.{i}", i) for i in range(job.n_tasks)])
        for key, task in tasks:
            code = codes.get((n, task))
            if code == 0:
                out[key] = JobStatus(JobState.COMPLETED, raw="EXITED 0", exit_code=0)
            elif (n, None) in cancelled or (n, task) in cancelled:
                # Before the exit code: the kill makes the runner exit 143 and job.sh records it.
                out[key] = JobStatus(JobState.CANCELLED, raw="CANCELLED", reason="killed by clustrix cancel",
                                     exit_code=code)
            elif code is not None:
                out[key] = JobStatus(JobState.FAILED, raw=f"EXITED {code}", exit_code=code)
            elif pid in alive:
                out[key] = JobStatus(JobState.RUNNING, raw="RUNNING")
            else:
                out[key] = JobStatus(JobState.FAILED, raw="KILLED",
                                     reason="the process ended without writing its exit code (killed by a "
                                            "signal, or the host rebooted?)")
    return out


class PlainSSHLauncher:
    """Launcher (see :class:`clustrix.backends.remote.launchers.Launcher`) for a host without a scheduler."""

    def __init__(self, transport: Transport, profile: Profile):
        self.transport = transport
        self.host = profile.host
        self.timeout_s = profile.command_timeout_s
        self.max_parallel = profile.max_array_parallel
        self.source = PlainSSHStatusSource(transport, timeout_s=self.timeout_s, host=profile.host)
        # No NFS in between: the files are on the host that wrote them.
        self.grace = GracePolicy(result_grace_s=2.0, missing_grace_s=5.0)

    def render(self, spec: JobSpec, paths: JobPaths) -> dict[str, str]:
        if spec.array is None:
            return {paths.script: "#!/bin/sh\n" + render_body(spec, paths, task_var=None)}
        task_script = posixpath.join(paths.job_dir, "task.sh")
        q = shlex.quote
        parallel = spec.array.max_parallel or self.max_parallel
        parallel_text = str(int(parallel)) if parallel else '"$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)"'
        driver = "\n".join([
            "#!/bin/sh",
            "# clustrix plain-ssh array driver: runs tasks 0..N-1, at most P at once",
            f"cd {q(paths.job_dir)} || exit 97",
            f"P={parallel_text}",
            "i=0",
            f'while [ "$i" -lt {int(spec.array.size)} ]; do echo "$i"; i=$((i + 1)); done |',
            "  xargs -P \"$P\" -I{} /bin/sh -c "
            + q('exec /bin/sh "$1" "$2" > "$0/stdout.$2.log" 2> "$0/stderr.$2.log"')
            + f" {q(paths.job_dir)} {q(task_script)} {{}}",
            "",
        ])
        body = "#!/bin/sh\n" + render_body(spec, paths, task_var="1")
        return {paths.script: driver, task_script: body}

    def submit(self, spec: JobSpec, paths: JobPaths) -> str:
        q = shlex.quote
        out, err = ((paths.stdout(), paths.stderr()) if spec.array is None
                    else (posixpath.join(paths.job_dir, DRIVER_LOG),) * 2)
        start = f"/bin/sh {q(paths.script)} > {q(out)} 2> {q(err)} < /dev/null &"
        text = "\n".join([
            f"cd {q(paths.job_dir)} || exit 97",
            "if command -v setsid >/dev/null 2>&1; then",
            f"  nohup setsid {start}",
            "else",
            f"  nohup {start}",
            "fi",
            'echo "$!"',
        ])
        argv = ["/bin/sh", "-c", text]
        done = self.transport.run(argv, timeout_s=self.timeout_s)
        pid = done.stdout.strip().splitlines()[-1].strip() if done.stdout.strip() else ""
        if done.returncode != 0 or not pid.isdigit():
            raise SubmissionError(["/bin/sh", "-c", "<start job.sh with nohup>"], done.returncode, done.stdout,
                                  done.stderr, host=self.host, hint="could not start the job in the background")
        return pid

    def task_keys(self, job_id: str, n_tasks: int | None) -> list[str]:
        return [job_id] if n_tasks is None else [f"{job_id}.{i}" for i in range(n_tasks)]

    def log_paths(self, paths: JobPaths, task: int | None) -> tuple[str, str]:
        return paths.stdout(task), paths.stderr(task)

    def track(self, job_id: str, paths: JobPaths, n_tasks: int | None) -> None:
        self.source.track(job_id, paths.job_dir, n_tasks)

    def cancel(self, job_ids: Sequence[str]) -> None:
        lines = []
        for jid in job_ids:
            pid, _, task = jid.partition(".")
            job = self.source.tracked(pid)
            if job is None or not pid.isdigit():
                raise CommandError(["kill", jid], 1, stderr=f"job {jid!r} is not a job of this client", host=self.host)
            tag = shlex.quote(job.tag)
            # A marker first, so every client's poller reports CANCELLED rather than "killed".
            marker = posixpath.join(job.job_dir, f"cancelled.{int(task)}" if task else "cancelled")
            lines.append(f": > {shlex.quote(marker)}")
            if task:
                # One array task: its `/bin/sh .../task.sh N` process and that process's children.
                pattern = shlex.quote(f"{job.tag}/task\\.sh {int(task)}$")
                lines.append(f"for p in $(pgrep -f -- {pattern}); do pkill -TERM -P \"$p\"; kill -TERM \"$p\"; done")
            else:
                # Check the pid is still our job (pids get recycled), then signal its process group.
                lines.append(f"if ps -ww -o args= -p {pid} | grep -F -q -- {tag}; then "
                             f"kill -TERM -- -{pid} 2>/dev/null || {{ pkill -TERM -P {pid}; kill -TERM {pid}; }}; fi")
        lines.append("exit 0")
        argv = ["/bin/sh", "-c", "\n".join(lines)]
        done = self.transport.run(argv, timeout_s=self.timeout_s)
        if done.returncode != 0:
            raise CommandError(["/bin/sh", "-c", "<kill jobs>"], done.returncode, done.stdout, done.stderr, host=self.host)

