"""``clustrix doctor PROFILE``: can this profile run jobs? Every check, one line each, in order.

::

    $ clustrix doctor hpc
    OK    profile           slurm on login.hpc.example.org (user ana), remote_dir ~/.clustrix/jobs
    OK    ssh               connected to ana@login.hpc.example.org
    OK    host key          matches known_hosts (host_key_policy strict)
    OK    remote dir        /home/ana/.clustrix/jobs is writable
    OK    scheduler tools   sbatch, sacct, scancel found
    OK    scheduler         sacct answered
    FAIL  python            this client runs CPython 3.11.7, python3 on login... runs CPython 3.9.18; ...
    OK    clustrix          0.3.0 at /home/ana/.local/lib/python3.9/site-packages/clustrix
    OK    cloudpickle       3.1.3 (client 3.1.3)

The python, clustrix and cloudpickle rows are the preflight every first submission makes
(:mod:`clustrix.payload.compat`), judged as if by-value code were sent (scripts and notebooks
send it). A check whose prerequisite failed is shown as SKIP. The exit status is 1 when any
check failed, else 0 (warnings included), so scripts can gate on it.
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Callable

import click

from clustrix.config.profile import Profile
from clustrix.errors import AuthenticationError, ClustrixError, HostKeyError, TransportError
from clustrix.payload.compat import Check, Needs, PythonInfo, compare, probe, where_text
from clustrix.transports.base import Transport

STATUS_TEXT = {"ok": "OK", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}
STATUS_COLOR = {"ok": "green", "warn": "yellow", "fail": "red", "skip": "bright_black"}


def _profile_row(profile: Profile) -> Check:
    if profile.host:
        who = f" (user {profile.user})" if profile.user else ""
        where = f"on {profile.host}{':' + str(profile.port) if profile.port else ''}{who}"
    else:
        where = "on this machine"
    return Check("profile", "ok", f"{profile.backend} {where}, remote_dir {profile.remote_dir}, python {profile.python}")


def _connect(profile: Profile) -> tuple[Transport | None, list[Check]]:
    from clustrix.transports import transport_for

    if not profile.host:
        return transport_for(profile), [Check("ssh", "skip", "not needed: commands run on this machine")]
    policy = f"host_key_policy {profile.host_key_policy}"
    try:
        transport = transport_for(profile)
        transport.run(["true"], timeout_s=profile.command_timeout_s)
    except HostKeyError as exc:
        return None, [Check("ssh", "fail", "the connection was refused before logging in"),
                      Check("host key", "fail", f"{exc} ({policy})")]
    except AuthenticationError as exc:
        return None, [Check("ssh", "fail", str(exc)), Check("host key", "ok", f"matches known_hosts ({policy})")]
    except (TransportError, OSError) as exc:
        return None, [Check("ssh", "fail", str(exc)), Check("host key", "skip", "not reached")]
    return transport, [Check("ssh", "ok", f"connected to {transport.host}"),
                       Check("host key", "ok", f"matches known_hosts ({policy})")]


def _remote_dir(transport: Transport, profile: Profile) -> Check:
    from clustrix.backends.remote.staging import resolve_remote_dir

    try:
        path = resolve_remote_dir(profile.remote_dir, transport.home)
        transport.makedirs(path, mode=0o700)
        probe_file = posixpath.join(path, f".doctor-{uuid.uuid4().hex}")
        transport.put_files({probe_file: b"clustrix doctor\n"})
        transport.run(["rm", "-f", probe_file], timeout_s=profile.command_timeout_s)
    except (ClustrixError, OSError) as exc:
        return Check("remote dir", "fail", f"{profile.remote_dir} is not writable: {exc}. Fix: set remote_dir "
                     "to a directory of yours on a filesystem the compute nodes share")
    return Check("remote dir", "ok", f"{path} is writable")


def _scheduler(transport: Transport, profile: Profile) -> list[Check]:
    if profile.scheduler is None:
        return [Check("scheduler", "skip", f"backend {profile.backend} runs jobs without a scheduler")]
    from clustrix import schedulers

    module = schedulers.get(profile.scheduler)
    status_argv = module.status_argv(["1"])
    tools = list(dict.fromkeys([module.submit_argv("/doctor/job.sh")[0], status_argv[0],
                                module.cancel_argv(["1"])[0]]))
    timeout_s = profile.command_timeout_s
    found = transport.run(["sh", "-c", 'for t in "$@"; do command -v "$t" >/dev/null || echo "$t"; done', "sh",
                           *tools], timeout_s=timeout_s)
    missing = found.stdout.split()
    if found.returncode != 0 or missing:
        return [Check("scheduler tools", "fail", f"not found on PATH: {', '.join(missing) or found.stderr.strip()}. "
                      f"Fix: is this a {profile.scheduler} login node? Load its module in the shell's startup "
                      "files, or pick the right backend"),
                Check("scheduler", "skip", "its tools are missing")]
    rows = [Check("scheduler tools", "ok", f"{', '.join(tools)} found")]
    answer = transport.run(status_argv, timeout_s=timeout_s, retry_safe=True)
    if answer.returncode == 0 or module.is_unknown_job_error(answer.stderr):
        rows.append(Check("scheduler", "ok", f"{status_argv[0]} answered"))
    else:
        rows.append(Check("scheduler", "fail", f"{' '.join(status_argv)} exited {answer.returncode}: "
                          f"{(answer.stderr or answer.stdout).strip()[-400:]}"))
    return rows


def _python(transport: Transport, profile: Profile) -> list[Check]:
    try:
        info = probe(transport, profile.python, env=profile.env, setup=profile.setup,
                     timeout_s=profile.command_timeout_s)
    except ClustrixError as exc:
        return [Check("python", "fail", str(exc)), Check("clustrix", "skip", "no python to ask"),
                Check("cloudpickle", "skip", "no python to ask")]
    return compare(PythonInfo.here(), info, Needs(), where=where_text(transport, profile.python))


def diagnose(profile: Profile, report: Callable[[Check], None]) -> list[Check]:
    """Run every check in order, reporting each row as soon as it is known; returns them all."""
    rows: list[Check] = []

    def add(*checks: Check) -> None:
        for check in checks:
            rows.append(check)
            report(check)

    add(_profile_row(profile))
    if not profile.is_remote:
        add(Check("backend", "ok", f"{profile.backend} runs calls in this Python; nothing remote to check"))
        return rows
    transport, connection_rows = _connect(profile)
    add(*connection_rows)
    if transport is None:
        add(*(Check(name, "skip", "no connection") for name in
              ("remote dir", "scheduler", "python", "clustrix", "cloudpickle")))
        return rows
    try:
        for step in (_remote_dir, _scheduler, _python):
            try:
                result = step(transport, profile)
            except TransportError as exc:  # the connection broke mid-way: say where, go on
                result = Check(step.__name__.strip("_").replace("_", " "), "fail", str(exc))
            add(*(result if isinstance(result, list) else [result]))
    finally:
        transport.close()
    return rows


@click.command("doctor")
@click.argument("profile_name", metavar="PROFILE", required=False)
def doctor(profile_name: str | None) -> None:
    """Check that PROFILE (default: the active one) can run jobs: SSH, host key, remote dir,
    scheduler, and the cluster's Python, clustrix and cloudpickle against this client's."""
    from clustrix.config import resolve_profile

    profile = resolve_profile(profile_name)

    def report(check: Check) -> None:
        label = click.style(f"{STATUS_TEXT[check.status]:<5}", fg=STATUS_COLOR[check.status])
        click.echo(f"{label} {check.name:<16} {check.detail}")

    rows = diagnose(profile, report)
    failed = [r.name for r in rows if r.status == "fail"]
    if failed:
        click.echo(f"\n{len(failed)} check(s) failed: {', '.join(failed)}", err=True)
        raise SystemExit(1)
    click.echo(f"\nprofile {profile.name!r} is ready")
