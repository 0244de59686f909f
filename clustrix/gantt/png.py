"""A :class:`~clustrix.gantt.model.Timeline` as PNG bytes, drawn with matplotlib (extra ``plot``).

The same rows and segments as the SVG (:func:`clustrix.gantt.svg.segments`), drawn with one
``PolyCollection`` on matplotlib's non-interactive Agg canvas into memory. matplotlib is optional:
without it, :func:`render_png` raises :class:`PlotExtraMissing` naming the extra to install.
"""

from __future__ import annotations

import importlib

from clustrix.errors import ClustrixError
from clustrix.gantt.model import Timeline
from clustrix.gantt.svg import PHASE_COLOURS, PHASE_NAMES, segments, state_colour, summary_lines

INSTALL_HINT = "pip install 'clustrix[plot]'"


class PlotExtraMissing(ClustrixError, ImportError):
    """PNG output needs matplotlib, which the ``plot`` extra installs."""


def _matplotlib() -> object:
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError as exc:
        raise PlotExtraMissing(f"PNG timelines need matplotlib, which is not installed ({exc}); install the "
                               f"'plot' extra: {INSTALL_HINT}, or write --format html or svg") from None
    matplotlib.use("Agg")  # no display, no GUI toolkit: render into memory
    return importlib.import_module("matplotlib.pyplot")


def render_png(timeline: Timeline, *, dpi: int = 110) -> bytes:
    """The picture as PNG bytes (raises :class:`PlotExtraMissing` without matplotlib)."""
    plt = _matplotlib()
    from io import BytesIO  # noqa: PLC0415 - only this path needs it

    from matplotlib.collections import PolyCollection  # type: ignore[import-not-found]
    from matplotlib.patches import Patch  # type: ignore[import-not-found]

    tasks = timeline.tasks
    origin = timeline.origin_s or 0.0
    end = timeline.end_s or origin
    footer = summary_lines(timeline, timeline.totals())
    height_in = 1.6 + 0.18 * max(len(tasks), 4) + 0.22 * len(footer)
    fig, ax = plt.subplots(figsize=(12, min(height_in, 60)), dpi=dpi)  # type: ignore[attr-defined]
    ys: list[int] = []
    lefts: list[float] = []
    widths: list[float] = []
    colours: list[str] = []
    for i, bar in enumerate(tasks):
        for phase, a, b in segments(bar, end):
            ys.append(i)
            lefts.append(a - origin)
            widths.append(max(b - a, 1e-3))
            colours.append(state_colour(bar.state) if phase == "run" else PHASE_COLOURS[phase])
    if ys:  # one collection for every segment: an artist per segment takes minutes for thousands
        verts = [[(x, y - 0.4), (x + w, y - 0.4), (x + w, y + 0.4), (x, y + 0.4)]
                 for x, w, y in zip(lefts, widths, ys, strict=True)]
        ax.add_collection(PolyCollection(verts, facecolors=colours, linewidths=0))
        ax.set_xlim(0, max(x + w for x, w in zip(lefts, widths, strict=True)) * 1.01)
    ax.set_ylim(-0.6, max(len(tasks), 1) - 0.4)
    every = max(1, len(tasks) // 60)
    ax.set_yticks(range(0, len(tasks), every))
    ax.set_yticklabels([b.label for b in tasks[::every]], fontsize=max(5, min(9, 400 // max(len(tasks), 1))))
    ax.invert_yaxis()
    ax.set_xlabel("seconds" + (f" from {timeline.origin_label}" if timeline.origin_label else ""))
    ax.set_title(timeline.title)
    ax.grid(axis="x", color="#eceff1")
    used = {phase for bar in tasks for phase, _, _ in segments(bar, end)}
    handles = [Patch(color=PHASE_COLOURS[p], label=PHASE_NAMES[p])
               for p in ("submit", "queue", "fetch", "client") if p in used]
    handles += [Patch(color=state_colour(s), label=f"run: {s}") for s in dict.fromkeys(b.state for b in tasks)]
    ax.set_axisbelow(True)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=4, fontsize=8)
    fig.text(0.01, 0.005, "\n".join(footer), fontsize=8, va="bottom", family="monospace")
    fig.subplots_adjust(left=0.14, right=0.98, top=0.95, bottom=0.16 + 0.02 * len(footer))
    buffer = BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)  # type: ignore[attr-defined]
    return buffer.getvalue()
