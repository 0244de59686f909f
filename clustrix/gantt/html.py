"""A :class:`~clustrix.gantt.model.Timeline` as one self-contained HTML page (a string).

The page holds the SVG picture inline (:func:`clustrix.gantt.svg.render_svg`), then the totals
as tables: where the time went (queue wait, run time, client overhead), failures by state, the
slowest tasks, notes on what is missing, and every task's instants in a collapsed table. No
script, no external stylesheet, font or image: it opens the same from a file, an e-mail or a CI
artifact. Pure: no clock, no files.
"""

from __future__ import annotations

from html import escape

from clustrix.gantt.model import SpanStats, TaskBar, Timeline, format_duration
from clustrix.gantt.svg import css_class, render_svg, state_colour

_STYLE = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 18px; color: #263238; }
h1 { font-size: 20px; margin: 0 0 6px 0; }
h2 { font-size: 15px; margin: 18px 0 6px 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #cfd8dc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #eceff1; }
.cards { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; }
.notes li { margin: 2px 0; }
.chart { overflow-x: auto; }
"""


def _stats_row(name: str, stats: SpanStats | None) -> str:
    if stats is None:
        return f"<tr><td>{escape(name)}</td><td colspan='5'>unknown</td></tr>"
    cells = [stats.count, format_duration(stats.total_s), format_duration(stats.mean_s),
             format_duration(stats.median_s), format_duration(stats.max_s)]
    return f"<tr><td>{escape(name)}</td>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>"


def _at(t: float | None, origin: float | None) -> str:
    return "-" if t is None or origin is None else f"{t - origin:.1f}"


def _task_row(bar: TaskBar, origin: float | None) -> str:
    cells = [_at(t, origin) for t in (bar.prepared_s, bar.submitted_s, bar.queued_s, bar.started_s, bar.ended_s,
                                      bar.fetched_s)]
    cells += [format_duration(bar.queue_wait_s), format_duration(bar.run_s), format_duration(bar.fetch_lag_s)]
    return (f"<tr class='{css_class(bar.state)}'><td>{escape(bar.label)}</td><td>{escape(bar.state)}</td>"
            + "".join(f"<td>{c}</td>" for c in cells) + f"<td>{escape(bar.detail)}</td></tr>")


def render_html(timeline: Timeline) -> str:
    """The whole page as HTML text."""
    totals = timeline.totals()
    origin = timeline.origin_s
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             f"<title>{escape(timeline.title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{escape(timeline.title)}</h1>"]
    if timeline.source or timeline.origin_label:
        parts.append(f"<p>{escape(timeline.source)}"
                     + (f" &middot; time 0 = {escape(timeline.origin_label)}" if timeline.origin_label else "")
                     + "</p>")
    parts.append(f"<div class='chart'>{render_svg(timeline, standalone=False)}</div>")
    parts.append("<div class='cards'><div><h2>Where the time went</h2><table><thead><tr><th>span</th>"
                 "<th>tasks</th><th>total</th><th>mean</th><th>median</th><th>max</th></tr></thead><tbody>")
    parts += [_stats_row("queue wait", totals.queue_wait), _stats_row("run time", totals.run),
              _stats_row("client overhead: submit", totals.submit_overhead),
              _stats_row("client overhead: fetch lag", totals.fetch_lag)]
    parts.append(f"<tr><td>makespan</td><td colspan='5'>{format_duration(totals.makespan_s)}</td></tr>"
                 "</tbody></table></div>")
    parts.append("<div><h2>Tasks by state</h2><table><thead><tr><th>state</th><th>tasks</th></tr></thead><tbody>")
    for state, n in totals.by_state.items():
        parts.append(f"<tr class='{css_class(state)}'><td><span class='swatch' style='background:"
                     f"{state_colour(state)}'></span>{escape(state)}</td><td>{n}</td></tr>")
    failed = sum(totals.failures.values())
    parts.append(f"<tr><td>failures</td><td>{failed}</td></tr></tbody></table></div>")
    if totals.slowest:
        parts.append("<div><h2>Slowest tasks</h2><table><thead><tr><th>task</th><th>state</th><th>run</th>"
                     "<th>queue wait</th></tr></thead><tbody>")
        for bar in totals.slowest:
            parts.append(f"<tr><td>{escape(bar.label)}</td><td>{escape(bar.state)}</td>"
                         f"<td>{format_duration(bar.run_s)}</td><td>{format_duration(bar.queue_wait_s)}</td></tr>")
        parts.append("</tbody></table></div>")
    parts.append("</div>")
    if timeline.notes:
        parts.append("<h2>Notes</h2><ul class='notes'>"
                     + "".join(f"<li>{escape(n)}</li>" for n in timeline.notes) + "</ul>")
    parts.append(f"<details><summary>Every task ({len(timeline.tasks)}; seconds from time 0)</summary>"
                 "<table class='every-task'><thead><tr><th>task</th><th>state</th><th>client began</th>"
                 "<th>submitted</th><th>queued</th><th>started</th><th>ended</th><th>fetched</th>"
                 "<th>queue wait</th><th>run</th><th>fetch lag</th><th>detail</th></tr></thead><tbody>")
    parts += [_task_row(bar, origin) for bar in timeline.tasks]
    parts.append("</tbody></table></details></body></html>")
    return "\n".join(parts) + "\n"
