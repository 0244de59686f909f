"""``clustrix jobs``: list, inspect, fetch results of, read logs of, cancel and draw recorded jobs.

Everything works after the submitting process has exited: the ledger holds each job's profile
(without secrets), job directory and task ids, and the commands reconnect with that profile.
A JOB_ID is the scheduler's id (a pid for plain ssh), one array task in the scheduler's own
notation (``123_7``, ``123[7]``, ``123.7`` for Grid Engine's 1-based task 7), or ``#N`` for ledger
row N; ``--host`` / ``--profile`` pick one when the same id was seen on several clusters.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from clustrix.backends.array_plan import ArrayPlan
from clustrix.backends.ledger import Ledger, LedgerEntry
from clustrix.errors import ClustrixError
from clustrix.spec import JobPaths


def _select(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--profile", "profile_name", default=None, help="Only jobs of this profile.")(fn)
    fn = click.option("--host", default=None, help="Only jobs on this host.")(fn)
    return click.argument("job_id")(fn)


def _find(job_id: str, host: str | None, profile_name: str | None) -> tuple[Ledger, LedgerEntry, int | None]:
    """The ledger, the recorded job, and the array task JOB_ID names (None: the whole job)."""
    ledger = _ledger()
    try:
        entry, task = ledger.find_task(job_id, host=host, profile=profile_name)
    except ClustrixError as exc:
        raise click.ClickException(str(exc)) from exc
    return ledger, entry, task


def _one_task(e: LedgerEntry, from_id: int | None, from_option: int | None) -> int | None:
    """The task a command is about: from the id's notation or ``--task``, which must agree."""
    if from_id is not None and from_option is not None and from_id != from_option:
        raise click.UsageError(f"the job id names task {from_id} but --task says {from_option}; give one")
    task = from_id if from_id is not None else from_option
    if not e.is_array and task is not None:
        raise click.UsageError(f"job {e.job_id} is not an array; drop --task")
    if task is not None and task >= len(e.task_ids):
        raise click.UsageError(f"--task {task} is out of range: the array has tasks 0..{len(e.task_ids) - 1}")
    return task


def _when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _ledger() -> Ledger:
    """The ledger ``--ledger`` names, else the user's (``$CLUSTRIX_LEDGER`` overrides that)."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None and "ledger_path" not in ctx.params:
        ctx = ctx.parent
    return Ledger(ctx.params["ledger_path"] if ctx is not None else None)


@click.group()
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False), default=None,
              help="Another ledger file, e.g. a simulator session's (<sim root>/ledger.sqlite3).")
def jobs(ledger_path: str | None) -> None:
    """Jobs recorded in the ledger (they survive restarts of this client)."""


@jobs.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include finished jobs.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_jobs(show_all: bool, limit: int, as_json: bool) -> None:
    """Recent jobs, newest first (unfinished only, unless --all)."""
    entries = _ledger().entries(limit=limit, active_only=not show_all)
    if as_json:
        for e in entries:
            click.echo(json.dumps({"row": e.row, "job_id": e.job_id, "backend": e.backend, "host": e.host,
                                   "profile": e.profile.get("name"), "function": e.function, "state": e.state,
                                   "items": e.n_items, "submitted_at": e.submitted_at,
                                   "finished_at": e.finished_at, "job_dir": e.job_dir, "error": e.error}))
        return
    if not entries:
        click.echo("no jobs" + ("" if show_all else " running (use --all to include finished ones)"))
        return
    rows = [("ROW", "JOB ID", "BACKEND", "HOST", "STATE", "ITEMS", "SUBMITTED", "FUNCTION")]
    rows += [(f"#{e.row}", e.job_id, e.backend, e.host or "localhost", e.state, str(e.n_items),
              _when(e.submitted_at), e.function) for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])


@jobs.command()
@_select
@click.option("--no-refresh", is_flag=True, help="Show the ledger only; do not ask the cluster.")
def status(job_id: str, host: str | None, profile_name: str | None, no_refresh: bool) -> None:
    """A job's recorded state and, unless --no-refresh, what the scheduler says now."""
    ledger, e, task = _find(job_id, host, profile_name)
    where = (e.host or "localhost") + (f":{e.port}" if e.port else "")
    click.echo(f"job {e.job_id} (#{e.row}) on {where} [{e.backend}, profile {e.profile_name}]")
    click.echo(f"  function:  {e.function}")
    click.echo(f"  job dir:   {e.job_dir}")
    click.echo(f"  state:     {e.state}" + (f" ({e.error})" if e.error else ""))
    click.echo(f"  submitted: {_when(e.submitted_at)}   finished: {_when(e.finished_at)}")
    if e.is_array:
        click.echo(f"  items:     {e.n_items} in {len(e.task_ids)} tasks of {e.chunk_size}")
    if task is not None:
        click.echo(f"  task:      {task} ({e.task_ids[task]}): {e.task_states[task]}")
    if no_refresh:
        return
    from clustrix.api.attach import backend_for

    try:
        backend = backend_for(e, ledger)
        keys = list(e.task_ids) if e.is_array else [e.job_id]
        if task is not None:
            keys = [e.task_ids[task]]
        backend.launcher.track(e.job_id, JobPaths(e.job_dir, e.key_file), len(keys) if e.is_array else None)
        live = backend.launcher.source.query([e.job_id])
    except Exception as exc:  # noqa: BLE001 - report any failure to reach the cluster plainly
        raise click.ClickException(f"could not ask the cluster: {exc}") from exc
    for key in keys:
        st = live.get(key)
        text = "not in the queue any more (finished and purged, or never started)" if st is None else (
            st.state.value + (f" [{st.raw}]" if st.raw and st.raw != st.state.value else "")
            + (f" reason={st.reason}" if st.reason else "")
            + (f" exit={st.exit_code}" if st.exit_code is not None else ""))
        click.echo(f"  scheduler: {key}: {text}")


@jobs.command()
@_select
@click.option("--timeout", "timeout_s", type=float, default=None, help="Give up after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the value as JSON instead of repr().")
def result(job_id: str, host: str | None, profile_name: str | None, timeout_s: float | None, as_json: bool) -> None:
    """Wait for a job and print its value (an array prints the list of item values; one task of
    an array, the values of its items).

    A job whose function raised prints the remote error once (its type, message and remote
    traceback, none of this command's own frames) and exits with status 1.
    """
    ledger, e, task = _find(job_id, host, profile_name)
    from clustrix.api.attach import attach, attach_items, gather

    if task is None:
        fut = attach(f"#{e.row}", ledger=ledger)
        label = e.job_id
    else:
        items = attach_items(f"#{e.row}", ledger=ledger)
        mine = [items[i] for i in ArrayPlan(e.n_items, e.chunk_size).items_of(task)]
        fut = mine[0] if len(mine) == 1 else gather(e.task_ids[task], mine)
        label = e.task_ids[task]
    try:
        value = fut.result(timeout=timeout_s)
    except TimeoutError:
        raise click.ClickException(f"job {label} did not finish within {timeout_s}s") from None
    except Exception as exc:  # noqa: BLE001 - the job's failure, shown to the user once
        click.echo(describe_failure(label, exc), err=True)
        sys.exit(1)
    click.echo(json.dumps(value, default=repr) if as_json else repr(value))


def describe_failure(label: str, exc: BaseException) -> str:
    """What ``clustrix jobs result`` prints for a failed job: the remote error once, cleanly."""
    from clustrix.errors import JobError, RemoteError
    from clustrix.payload.result import RemoteTraceback

    cause = exc.__cause__
    if isinstance(cause, RemoteTraceback):
        # The remote traceback already ends with "ValueError: message".
        return f"Error: job {label} raised an exception:\n{cause.tb.rstrip()}"
    if isinstance(exc, RemoteError):
        return f"Error: job {label} raised an exception:\n{exc}"
    kind = "ended without a result" if isinstance(exc, JobError) else "failed"
    return f"Error: job {label} {kind}: {type(exc).__name__}: {exc}"


@jobs.command()
@_select
@click.option("--task", type=click.IntRange(0), default=None, help="Array task index (0-based).")
@click.option("--stderr", "which", flag_value="stderr", help="Show the stderr log.")
@click.option("--stdout", "which", flag_value="stdout", default=True, help="Show the stdout log (default).")
def logs(job_id: str, host: str | None, profile_name: str | None, task: int | None, which: str) -> None:
    """Print a job's (or array task's) scheduler log file."""
    ledger, e, named_task = _find(job_id, host, profile_name)
    task = _one_task(e, named_task, task)
    if e.is_array and task is None:
        raise click.UsageError(f"job {e.job_id} is an array of {len(e.task_ids)} tasks; pass --task N "
                               f"or name the task ({e.task_ids[0]})")
    from clustrix.api.attach import backend_for

    backend = backend_for(e, ledger)
    out, err = backend.launcher.log_paths(JobPaths(e.job_dir, e.key_file), task)
    path = err if which == "stderr" else out
    try:
        blob = backend.transport.get_files([path]).get(path)
    except Exception as exc:  # noqa: BLE001
        raise click.ClickException(f"could not read {path}: {exc}") from exc
    if blob is None:
        raise click.ClickException(f"{path} does not exist (yet): the job may not have started")
    click.echo(blob.decode("utf-8", errors="replace"), nl=False)


@jobs.command()
@_select
def cancel(job_id: str, host: str | None, profile_name: str | None) -> None:
    """Cancel a job (all tasks of an array)."""
    ledger, e, task = _find(job_id, host, profile_name)
    if task is not None:
        raise click.UsageError(f"{job_id} is one task of array {e.job_id}; cancel the array by its id")
    if e.is_final:
        click.echo(f"job {e.job_id} already ended ({e.state}); nothing to cancel")
        return
    from clustrix.api.attach import backend_for

    backend = backend_for(e, ledger)
    backend.launcher.track(e.job_id, JobPaths(e.job_dir, e.key_file), len(e.task_ids) if e.is_array else None)
    try:
        backend.launcher.cancel([e.job_id])
    except ClustrixError as exc:
        raise click.ClickException(str(exc)) from exc
    ledger.set_state(e.row, "CANCELLED")
    click.echo(f"cancelled job {e.job_id}")


@jobs.command()
@click.argument("job_id", required=False)
@click.option("--last", "last_n", type=click.IntRange(1), default=None,
              help="The last N submissions instead of one JOB_ID (default: the latest one).")
@click.option("--host", default=None, help="Only jobs on this host.")
@click.option("--profile", "profile_name", default=None, help="Only jobs of this profile.")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), default=None,
              help="Where to write it (default: clustrix-timeline.<format> here).")
@click.option("--format", "fmt", type=click.Choice(["html", "svg", "png"]), default=None,
              help="html: a self-contained page (picture and tables); svg: the picture alone; "
                   "png: needs matplotlib (pip install 'clustrix[plot]'). Default: from --output, else html.")
@click.option("--title", default=None, help="The picture's title.")
def timeline(job_id: str | None, last_n: int | None, host: str | None, profile_name: str | None,
             output: str | None, fmt: str | None, title: str | None) -> None:
    """A Gantt picture of where a map's (or the last N jobs') time went.

    One bar per scheduler task: submit overhead, queue wait, run (coloured by state), and the
    time until this client had the result, from the ledger and the scheduler's accounting
    (sacct, qstat -x, qstat -f, qacct -j). Prints the totals too. Jobs of the local and debug
    backends are not in the ledger; draw those from their futures with clustrix.timeline().
    """
    from clustrix.api.timeline import timeline_of_entries
    from clustrix.gantt.svg import summary_lines

    if job_id is not None and last_n is not None:
        raise click.UsageError("give a JOB_ID or --last N, not both")
    ledger = _ledger()
    if job_id is not None:
        _, entry, task = _find(job_id, host, profile_name)
        if task is not None:
            raise click.UsageError(f"{job_id} is one task of array {entry.job_id}; draw the array by its id")
        entries = [entry]
    else:
        wanted = last_n or 1
        entries = [e for e in ledger.entries(limit=None)
                   if (host is None or e.host == host) and (profile_name is None or e.profile_name == profile_name)]
        entries = entries[:wanted]
    if fmt is None:
        suffix = os.path.splitext(output)[1].lstrip(".").lower() if output else ""
        fmt = suffix if suffix in ("html", "svg", "png") else "html"
    path = output or f"clustrix-timeline.{fmt}"
    try:
        report = timeline_of_entries(entries, ledger, title=title)
        report.write(path, fmt)
    except ClustrixError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"could not write {path}: {exc}") from exc
    click.echo(f"wrote {path} ({fmt}): {len(report.timeline.tasks)} tasks of {len(entries)} "
               f"job{'s' * (len(entries) != 1)}")
    for line in summary_lines(report.timeline, report.totals()):
        click.echo("  " + line)
