"""``clustrix.timeline(futures)``: where a map's time went, as a picture you can write to a file.

::

    futures = executor.submit_array(simulate, range(50))
    ...
    clustrix.timeline(futures).write_html("map.html")      # or .write_svg / .write_png

Futures of a remote backend are traced back to their ledger rows and their scheduler's
accounting (through the backend's own connection); the same gathering serves
``clustrix jobs timeline`` (:func:`timeline_of_entries`). Futures of the ``local``/``debug``
backends have no scheduler and no ledger row: their bars are when each call ran, read from its
result, and the picture says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from typing import Any

from clustrix.backends.ledger import Ledger, LedgerEntry
from clustrix.backends.remote.backend import RemoteBackend
from clustrix.backends.remote.submission import ItemHandle
from clustrix.backends.timeline import ClusterClock, SchedulerTimes, build_timeline, query_times
from clustrix.errors import ClustrixError
from clustrix.futures import JobFuture
from clustrix.gantt import FORMATS, TaskBar, Timeline, Totals
from clustrix.gantt.html import render_html
from clustrix.gantt.svg import render_svg

NO_SCHEDULER_NOTE = ("no scheduler ran these calls (local backend, or a future without a ledger row): "
                     "the bars are when each call ran on its host, read from its result; queue wait and "
                     "client overhead are unknown")


class TimelineReport:
    """A gathered :class:`~clustrix.gantt.Timeline`, ready to render or write.

    ``timeline`` is the model (tasks and notes); :meth:`totals` the numbers; ``to_*`` the text
    (or PNG bytes) and ``write_*`` / :meth:`write` the files.
    """

    def __init__(self, timeline: Timeline):
        self.timeline = timeline

    def __repr__(self) -> str:
        return f"<TimelineReport {self.timeline.title!r}: {len(self.timeline.tasks)} tasks>"

    def totals(self) -> Totals:
        return self.timeline.totals()

    def to_html(self) -> str:
        return render_html(self.timeline)

    def to_svg(self) -> str:
        return render_svg(self.timeline)

    def to_png(self) -> bytes:
        """PNG bytes; :class:`~clustrix.gantt.png.PlotExtraMissing` without matplotlib."""
        from clustrix.gantt.png import render_png

        return render_png(self.timeline)

    def render(self, fmt: str) -> str | bytes:
        """``fmt`` is ``html``, ``svg`` or ``png``."""
        if fmt not in FORMATS:
            raise ClustrixError(f"unknown timeline format {fmt!r}; choose one of {', '.join(FORMATS)}")
        return self.to_html() if fmt == "html" else self.to_svg() if fmt == "svg" else self.to_png()

    def write(self, path: str | os.PathLike[str], fmt: str | None = None) -> str:
        """Write the file; ``fmt`` defaults to the path's suffix. Returns the format written."""
        chosen = fmt or os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
        if chosen not in FORMATS:
            raise ClustrixError(f"cannot tell the timeline format from {os.fspath(path)!r}; name the file "
                                f"*.html, *.svg or *.png, or pass the format ({', '.join(FORMATS)})")
        data = self.render(chosen)  # rendered first: a missing extra leaves no empty file behind
        with open(path, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        return chosen

    def write_html(self, path: str | os.PathLike[str]) -> None:
        self.write(path, "html")

    def write_svg(self, path: str | os.PathLike[str]) -> None:
        self.write(path, "svg")

    def write_png(self, path: str | os.PathLike[str]) -> None:
        self.write(path, "png")


def timeline_of_entries(entries: Sequence[LedgerEntry], ledger: Ledger, *, title: str | None = None,
                        backends: dict[int, RemoteBackend] | None = None) -> TimelineReport:
    """The timeline of recorded submissions: one accounting query per cluster they ran on.

    ``backends`` maps ledger rows to live backends to reuse (their connections); the others are
    reconnected with their recorded profiles, as ``clustrix jobs`` does.
    """
    from clustrix import schedulers
    from clustrix.api.attach import backend_for

    if not entries:
        raise ClustrixError(f"no jobs to draw: the ledger at {ledger.path} has none that match; see "
                            "`clustrix jobs list --all` (local and debug backends record nothing there)")
    groups: dict[object, list[LedgerEntry]] = {}
    owners: dict[object, RemoteBackend | None] = {}
    unreachable: dict[object, str] = {}
    for entry in entries:
        if entry.backend not in schedulers.SCHEDULERS:  # plain ssh: nothing to ask its host
            key: object = ("no scheduler", entry.backend)
            groups.setdefault(key, []).append(entry)
            owners[key] = None
            continue
        try:
            backend = (backends or {}).get(entry.row) or backend_for(entry, ledger)
        except ClustrixError as exc:  # a cluster that is gone still has its ledger rows
            key = ("unreachable", entry.host, entry.port, entry.profile_name)
            groups.setdefault(key, []).append(entry)
            owners[key] = None
            unreachable[key] = f"could not reach {entry.host or 'localhost'} for job {entry.job_id} ({exc})"
            continue
        groups.setdefault(id(backend), []).append(entry)
        owners[id(backend)] = backend
    found: dict[int, SchedulerTimes] = {}
    sources = []
    for key, members in groups.items():
        backend = owners[key]
        if backend is None:
            times = query_times(members, None, None) if key not in unreachable else SchedulerTimes(
                {}, ClusterClock(), (unreachable[key] + ": its tasks show the ledger's times only",))
            found.update(dict.fromkeys((e.row for e in members), times))
            sources.append(f"{members[0].backend} (the ledger)")
            continue
        scheduler = schedulers.get(backend.profile.scheduler) if backend.profile.scheduler else None
        try:
            times = query_times(members, backend.transport, scheduler)
        except ClustrixError as exc:
            times = SchedulerTimes({}, ClusterClock(), (f"could not ask {backend.profile.host or 'localhost'} "
                                                        f"({exc}): its tasks show the ledger's times only",))
        found.update(dict.fromkeys((e.row for e in members), times))
        where = backend.profile.host or "localhost"
        sources.append(f"{backend.profile.backend} on {where}"
                       + (f" ({scheduler.TASK_TIMES.argvs([members[0].job_id])[0][0]} and the ledger)"
                          if scheduler is not None and scheduler.TASK_TIMES is not None else " (the ledger)"))
    if title is None:
        first = entries[0]
        title = (f"{first.function}: job {first.job_id}, {first.n_items} item{'s' * (first.n_items != 1)}"
                 if len(entries) == 1 else f"{len(entries)} jobs")
    return TimelineReport(build_timeline(entries, found, title=title, source="; ".join(sources)))


def timeline(futures: Iterable[Future[Any]], *, title: str | None = None) -> TimelineReport:
    """The timeline of these futures' jobs (a map's, or any mix), one bar per scheduler task.

    Remote futures are drawn from their ledger rows and the scheduler's accounting; others from
    the times their results carry. Futures still running are drawn as far as they got.
    """
    futs = list(futures)
    if not futs:
        raise ClustrixError("clustrix.timeline() needs job futures (from submit, submit_array or "
                            "ClusterFunction.submit); got none")
    by_ledger: dict[int, tuple[Ledger, dict[int, RemoteBackend]]] = {}
    others: list[JobFuture] = []
    for fut in futs:
        if not isinstance(fut, JobFuture):
            raise ClustrixError(f"clustrix.timeline() needs JobFuture objects, got {type(fut).__name__}; "
                                "map() returns values, so submit the work with submit_array() to keep its futures")
        handle = fut.handle
        ledger = handle.owner.ledger.ledger() if isinstance(handle, ItemHandle) and \
            isinstance(handle.owner, RemoteBackend) else None
        if ledger is not None and handle.sub.row is not None:  # type: ignore[union-attr]
            rows = by_ledger.setdefault(id(ledger), (ledger, {}))[1]
            rows.setdefault(handle.sub.row, handle.owner)  # type: ignore[union-attr]
        else:
            others.append(fut)
    bars: list[TaskBar] = []
    notes: list[str] = []
    sources: list[str] = []
    titles: list[str] = []
    for ledger, rows in by_ledger.values():  # one ledger at a time: row numbers are per ledger
        entries = [ledger.by_row(row) for row in rows]
        report = timeline_of_entries(entries, ledger, title=title, backends=rows)
        bars += report.timeline.tasks
        notes += [n for n in report.timeline.notes if n not in notes]
        sources.append(report.timeline.source)
        titles.append(report.timeline.title)
    source = "; ".join(sources)
    if others:
        bars += [_bar_from_result(f) for f in others]
        notes.append(NO_SCHEDULER_NOTE)
        source = source or "the calls' own results"
    if title is None:
        title = titles[0] if len(titles) == 1 and not others else f"{len(futs)} futures"
    return TimelineReport(build_timeline_from_bars(bars, notes, title=title, source=source))


def _bar_from_result(fut: JobFuture) -> TaskBar:
    env = fut.envelope
    state = fut.status.state.value if fut.done() else ("RUNNING" if fut.running() else "PENDING")
    if env is None:
        return TaskBar(label=fut.job_id, state=state, detail="no result: no times")
    return TaskBar(label=fut.job_id, state=state, started_s=env.started or None, ended_s=env.ended or None,
                   detail=f"ran on {env.host} (pid {env.pid})")


def build_timeline_from_bars(bars: Sequence[TaskBar], notes: Sequence[str], *, title: str,
                             source: str) -> Timeline:
    """A :class:`Timeline` of ready bars, its origin named in local time."""
    import time

    draft = Timeline(title=title, tasks=tuple(bars), source=source, notes=tuple(notes))
    origin = draft.origin_s
    label = "" if origin is None else time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(origin))
    return Timeline(title=title, tasks=draft.tasks, source=source, origin_label=label, notes=draft.notes)
