"""How long drawing a timeline takes, and how big the files are, as the task count grows.

    python bench/timeline_render.py [--sizes 50 1000 10000]

For each size it builds a synthetic map (tasks queued together, starting in waves of 8, running
1 to 6 s, one in 17 failing) and times rendering it as SVG, as HTML and (with matplotlib, the
``plot`` extra) as PNG, best of three. The peer in the same process is the cheapest useful
output: the same rows as CSV text; the ratio says what the picture costs over a table.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clustrix.gantt import TaskBar, Timeline  # noqa: E402
from clustrix.gantt.html import render_html  # noqa: E402
from clustrix.gantt.svg import render_svg  # noqa: E402


def synthetic(n: int) -> Timeline:
    bars = []
    for i in range(n):
        start = 1.0 + (i // 8) * 3.5
        run = 1 + (i * 7) % 6
        bars.append(TaskBar(f"100_{i}", "FAILED" if i % 17 == 16 else "COMPLETED", group="#1",
                            prepared_s=0.0, submitted_s=0.2, queued_s=0.1, started_s=start,
                            ended_s=start + run, fetched_s=start + run + 0.4))
    return Timeline(f"{n} tasks", tuple(bars), source="synthetic")


def as_csv(timeline: Timeline) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for b in timeline.tasks:
        writer.writerow([b.label, b.state, b.prepared_s, b.submitted_s, b.queued_s, b.started_s, b.ended_s,
                         b.fetched_s])
    return buffer.getvalue()


def best_of(fn, timeline: Timeline, rounds: int = 3) -> tuple[float, int]:
    best, size = float("inf"), 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn(timeline)
        best = min(best, time.perf_counter() - t0)
        size = len(out)
    return best, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 1000, 10000])
    args = parser.parse_args()
    renderers = [("csv (peer)", as_csv), ("svg", render_svg), ("html", render_html)]
    try:
        import matplotlib  # noqa: F401

        from clustrix.gantt.png import render_png

        renderers.append(("png", render_png))
    except ImportError:
        print("matplotlib is not installed: no PNG figures (pip install 'clustrix[plot]')")
    print(f"{'tasks':>6}  {'format':<11} {'time':>10} {'size':>12}  vs csv")
    for n in args.sizes:
        timeline = synthetic(n)
        base = None
        for name, fn in renderers:
            seconds, size = best_of(fn, timeline, rounds=1 if name == "png" else 3)
            base = base or seconds
            print(f"{n:>6}  {name:<11} {seconds * 1000:>8.1f} ms {size / 1024:>9.1f} KiB  {seconds / base:6.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
