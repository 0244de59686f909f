"""A :class:`~clustrix.gantt.model.Timeline` as one self-contained SVG document (a string).

One row per task, one ``<g class="task state-<state>">`` each, holding up to four ``<rect>``
segments on a shared time axis: ``submit`` (client began -> its submit command returned),
``queue`` (queued -> started; drawn from the end of ``submit`` when the scheduler's whole-second
queue time falls inside it), ``run`` (started -> ended, coloured by the task's state) and ``fetch``
(ended -> the client had the result). A task whose scheduler times are unknown but whose client
times are gets one ``client`` segment (submitted -> fetched: the whole wait, undivided). Each
segment carries ``data-start-s``/``data-end-s`` (seconds from the axis origin) and a ``<title>``
tooltip; colours are set as attributes, so no stylesheet or script is needed to read it.
Above the rows: where the time went (queue, run, client overhead as one stacked bar); below:
the legend and the totals in words. Pure: no clock, no files.
"""

from __future__ import annotations

from collections.abc import Iterator
from xml.sax.saxutils import escape, quoteattr

from clustrix.gantt.model import SpanStats, TaskBar, Timeline, Totals, format_duration

WIDTH = 1200
LABEL_W = 180
RIGHT_PAD = 28
TOP = 112
MIN_SEGMENT_PX = 1.0
"""A segment shorter than a pixel is drawn one pixel wide, so a one-second task still shows."""

STATE_COLOURS: dict[str, str] = {
    "COMPLETED": "#2e7d32",
    "FAILED": "#c62828",
    "ERROR": "#c62828",
    "CANCELLED": "#616161",
    "TIMEOUT": "#ef6c00",
    "OUT_OF_MEMORY": "#6a1b9a",
    "NODE_FAIL": "#ad1457",
    "PREEMPTED": "#4e342e",
    "LOST": "#37474f",
    "UNKNOWN": "#90a4ae",
    "RUNNING": "#1565c0",
    "PENDING": "#b0bec5",
}
"""Run-segment colour per state; anything else is UNKNOWN's."""
PHASE_COLOURS: dict[str, str] = {"submit": "#b39ddb", "queue": "#ffd54f", "fetch": "#4fc3f7", "client": "#cfd8dc"}
PHASE_NAMES = {"submit": "submit overhead (client began -> submitted)", "queue": "queue wait",
               "fetch": "fetch lag (ended -> result fetched)", "client": "client wait (no scheduler times)"}


def state_colour(state: str) -> str:
    return STATE_COLOURS.get(state, STATE_COLOURS["UNKNOWN"])


def css_class(state: str) -> str:
    """``state-completed``, ``state-out-of-memory``: the class a task's row carries."""
    return "state-" + "".join(c if c.isalnum() else "-" for c in state.lower())


def row_height(n_tasks: int) -> float:
    """16 px rows for a few tasks, down to 3 px for thousands (every task keeps its row)."""
    return max(3.0, min(16.0, 640.0 / max(n_tasks, 1)))


def segments(bar: TaskBar, end_s: float) -> Iterator[tuple[str, float, float]]:
    """``(phase, start, end)`` in epoch seconds, in drawing order."""
    began = bar.prepared_s if bar.prepared_s is not None else bar.submitted_s
    if bar.queued_s is None and bar.started_s is None:
        # No scheduler times at all: the client's view is all there is.
        if began is not None and bar.fetched_s is not None:
            yield "client", began, bar.fetched_s
        return
    submit_end = None
    if began is not None and bar.submitted_s is not None and bar.submitted_s > began:
        submit_end = bar.submitted_s
        yield "submit", began, submit_end
    if bar.queued_s is not None:
        queue_end = bar.started_s if bar.started_s is not None else (bar.ended_s or bar.fetched_s or end_s)
        queue_start = bar.queued_s if submit_end is None else max(bar.queued_s, min(submit_end, queue_end))
        if queue_end > queue_start:
            yield "queue", queue_start, queue_end
    if bar.started_s is not None:
        ended = bar.ended_s
        if ended is None:  # still running (or the end is unknown): up to the picture's edge
            ended = bar.fetched_s if bar.fetched_s is not None else end_s
        yield "run", bar.started_s, ended
        if bar.ended_s is not None and bar.fetched_s is not None and bar.fetched_s > bar.ended_s:
            yield "fetch", bar.ended_s, bar.fetched_s


def _tooltip(bar: TaskBar, origin: float) -> str:
    def at(t: float | None) -> str:
        return "-" if t is None else f"+{t - origin:.1f} s"

    lines = [f"{bar.label}: {bar.state}" + (f" ({bar.detail})" if bar.detail else ""),
             f"client began {at(bar.prepared_s)}, submitted {at(bar.submitted_s)}",
             f"queued {at(bar.queued_s)}, started {at(bar.started_s)}, ended {at(bar.ended_s)}",
             f"result fetched {at(bar.fetched_s)}",
             f"queue wait {format_duration(bar.queue_wait_s)}, run {format_duration(bar.run_s)}, "
             f"fetch lag {format_duration(bar.fetch_lag_s)}"]
    if bar.group:
        lines.insert(1, bar.group)
    return "\n".join(lines)


def _ticks(span_s: float) -> list[float]:
    """Round tick positions (seconds) covering ``[0, span_s]``, about eight of them."""
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400,
                 21600, 43200, 86400):
        if span_s / step <= 10:
            break
    n = int(span_s // step) + 1
    return [i * step for i in range(n + 1) if i * step <= span_s + 1e-9]


def _tick_label(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _stats_text(name: str, stats: SpanStats | None) -> str:
    if stats is None:
        return f"{name}: unknown"
    return (f"{name}: total {format_duration(stats.total_s)}, mean {format_duration(stats.mean_s)}, "
            f"median {format_duration(stats.median_s)}, max {format_duration(stats.max_s)} ({stats.count} tasks)")


def summary_lines(timeline: Timeline, totals: Totals) -> list[str]:
    """The totals in words (the SVG's footer; the HTML page shows them as tables)."""
    states = ", ".join(f"{n} {s}" for s, n in totals.by_state.items()) or "none"
    lines = [f"makespan {format_duration(totals.makespan_s)}; {totals.tasks} tasks: {states}",
             _stats_text("queue wait", totals.queue_wait), _stats_text("run time", totals.run),
             _stats_text("client overhead: submit", totals.submit_overhead),
             _stats_text("client overhead: fetch lag", totals.fetch_lag)]
    if totals.slowest:
        lines.append("slowest: " + ", ".join(f"{b.label} {format_duration(b.run_s)}" for b in totals.slowest))
    return lines + list(timeline.notes)


def where_the_time_went(totals: Totals) -> list[tuple[str, float, str]]:
    """``(name, summed seconds, colour)`` for the stacked bar: queue, run, client overhead."""
    def total(stats: SpanStats | None) -> float:
        return 0.0 if stats is None else stats.total_s

    client = total(totals.submit_overhead) + total(totals.fetch_lag)
    return [("queue wait", total(totals.queue_wait), PHASE_COLOURS["queue"]),
            ("run", total(totals.run), STATE_COLOURS["COMPLETED"]),
            ("client overhead", client, PHASE_COLOURS["fetch"])]


def render_svg(timeline: Timeline, *, standalone: bool = True) -> str:
    """The whole picture as an SVG document (UTF-8 text, no external references).

    ``standalone=False`` leaves out the title and the totals in words (for a page that shows
    them itself, like :func:`clustrix.gantt.html.render_html`).
    """
    totals = timeline.totals()
    tasks = timeline.tasks
    origin = timeline.origin_s
    end = timeline.end_s
    span = (end - origin) if origin is not None and end is not None else 0.0
    span = span if span > 0 else 1.0
    x0, x1 = LABEL_W, WIDTH - RIGHT_PAD
    scale = (x1 - x0) / span
    rh = row_height(len(tasks))
    label_every = max(1, int(10 // rh)) if rh < 10 else 1
    chart_h = rh * len(tasks)
    footer = summary_lines(timeline, totals) if standalone else []
    top = TOP if standalone else TOP - 50
    height = top + chart_h + 34 + 18 * (len(footer) + 1) + 16
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
        f'font-size="12" class="clustrix-timeline">',
        f'<title>{escape(timeline.title)}</title>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height:.0f}" fill="#ffffff"/>',
    ]
    if standalone:
        out += [f'<text x="12" y="24" font-size="17" font-weight="bold">{escape(timeline.title)}</text>',
                f'<text x="12" y="44" fill="#455a64">{escape(_subtitle(timeline))}</text>']
    out += _stacked_bar(totals, 12, top - 56, WIDTH - 24)
    # axis and grid
    out.append('<g class="axis" fill="#546e7a" font-size="11">')
    for tick in _ticks(span if origin is not None else 0.0):
        x = x0 + tick * scale
        out.append(f'<line x1="{x:.2f}" y1="{top - 6}" x2="{x:.2f}" y2="{top + chart_h:.2f}" '
                   f'stroke="#eceff1" stroke-width="1"/>')
        out.append(f'<text x="{x:.2f}" y="{top - 10}" text-anchor="middle">+{escape(_tick_label(tick))}</text>')
    out.append("</g>")
    out.append('<g class="tasks">')
    previous_group = None
    for i, bar in enumerate(tasks):
        y = top + i * rh
        cls = f"task {css_class(bar.state)}" + (" failed" if bar.failed else "")
        out.append(f'<g class="{cls}" data-task={quoteattr(bar.label)} data-state={quoteattr(bar.state)}>')
        out.append(f"<title>{escape(_tooltip(bar, origin if origin is not None else 0.0))}</title>")
        if i % 2:
            out.append(f'<rect class="stripe" x="{x0}" y="{y:.2f}" width="{x1 - x0}" height="{rh:.2f}" '
                       'fill="#fafafa"/>')
        if bar.group != previous_group and i:
            out.append(f'<line x1="4" y1="{y:.2f}" x2="{x1}" y2="{y:.2f}" stroke="#b0bec5" stroke-width="1"/>')
        previous_group = bar.group
        if i % label_every == 0:
            out.append(f'<text x="{x0 - 6}" y="{y + rh * 0.78:.2f}" text-anchor="end" '
                       f'font-size="{min(11.0, max(7.0, rh * 0.8)):.1f}" fill="#263238">{escape(bar.label)}</text>')
        if origin is not None:
            for phase, a, b in segments(bar, end if end is not None else origin):
                colour = state_colour(bar.state) if phase == "run" else PHASE_COLOURS[phase]
                x = x0 + (a - origin) * scale
                w = max(MIN_SEGMENT_PX, (b - a) * scale)
                pad = min(2.0, rh * 0.15)
                out.append(f'<rect class="seg {phase}" x="{x:.3f}" y="{y + pad:.2f}" width="{w:.3f}" '
                           f'height="{rh - 2 * pad:.2f}" fill="{colour}" data-start-s="{a - origin:.3f}" '
                           f'data-end-s="{b - origin:.3f}"/>')
        out.append("</g>")
    out.append("</g>")
    y = top + chart_h + 22
    out += _legend(tasks, 12, y)
    out.append('<g class="summary" fill="#263238">')
    for j, line in enumerate(footer):
        out.append(f'<text x="12" y="{y + 26 + 18 * j:.1f}">{escape(line)}</text>')
    out.append("</g></svg>")
    return "\n".join(out) + "\n"


def _subtitle(timeline: Timeline) -> str:
    parts = [p for p in (timeline.source, f"time 0 = {timeline.origin_label}" if timeline.origin_label else "")
             if p]
    return " · ".join(parts)


def _stacked_bar(totals: Totals, x: float, y: float, width: float) -> list[str]:
    parts = where_the_time_went(totals)
    whole = sum(v for _, v, _ in parts)
    out = ['<g class="where">']
    if whole <= 0:
        out.append(f'<text x="{x}" y="{y + 14}" fill="#546e7a">where the time went: no spans known</text></g>')
        return out
    at = x
    for name, value, colour in parts:
        w = width * value / whole
        out.append(f'<rect class="share {name.replace(" ", "-")}" x="{at:.2f}" y="{y}" width="{w:.2f}" '
                   f'height="20" fill="{colour}" data-seconds="{value:.3f}"/>')
        if w > 150:
            out.append(f'<text x="{at + 6:.2f}" y="{y + 14}" fill="#000">{escape(name)} '
                       f'{format_duration(value)} ({100 * value / whole:.0f}%)</text>')
        at += w
    out.append("</g>")
    return out


def _legend(tasks: tuple[TaskBar, ...], x: float, y: float) -> list[str]:
    used = {phase for bar in tasks for phase, _, _ in segments(bar, 0.0)}
    items = [(PHASE_NAMES[p], PHASE_COLOURS[p]) for p in ("submit", "queue", "fetch", "client") if p in used]
    seen = list(dict.fromkeys(b.state for b in tasks))
    items += [(f"run: {s}", state_colour(s)) for s in seen]
    out = ['<g class="legend" font-size="11">']
    at = x
    for name, colour in items:
        out.append(f'<rect x="{at:.1f}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{at + 16:.1f}" y="{y}">{escape(name)}</text>')
        at += 16 + 6.6 * len(name) + 18
    out.append("</g>")
    return out
