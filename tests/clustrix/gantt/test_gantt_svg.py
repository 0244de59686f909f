"""The SVG picture, parsed with xml.etree: one row per task, state classes and colours, and
segment geometry proportional to the known timestamps."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from clustrix.gantt import TaskBar, Timeline
from clustrix.gantt.svg import (
    LABEL_W,
    PHASE_COLOURS,
    RIGHT_PAD,
    STATE_COLOURS,
    WIDTH,
    render_svg,
    row_height,
)

NS = "{http://www.w3.org/2000/svg}"
A = TaskBar("9_0", "COMPLETED", group="#1", prepared_s=100.0, submitted_s=101.0, queued_s=100.5,
            started_s=110.0, ended_s=130.0, fetched_s=131.0)
B = TaskBar("9_1", "FAILED", group="#1", prepared_s=100.0, submitted_s=101.0, queued_s=100.5,
            started_s=110.0, ended_s=120.0, fetched_s=122.0)
C = TaskBar("9_2", "OUT_OF_MEMORY", group="#1", prepared_s=100.0, submitted_s=101.0, queued_s=100.5,
            started_s=125.0, ended_s=126.0, fetched_s=126.5)
SCALE = (WIDTH - LABEL_W - RIGHT_PAD) / 31.0  # pixels per second: 100 -> 131 spans the chart


def rows(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [g for g in root.iter(f"{NS}g") if "task" in g.get("class", "").split()]


def segs(row: ET.Element) -> dict[str, ET.Element]:
    return {r.get("class").split()[1]: r for r in row.iter(f"{NS}rect") if "seg" in r.get("class", "").split()}


def test_one_row_per_task_with_its_state_class_and_colour():
    found = rows(render_svg(Timeline("map", (A, B, C))))
    assert [g.get("data-task") for g in found] == ["9_0", "9_1", "9_2"]
    classes = [set(g.get("class").split()) for g in found]
    assert "state-completed" in classes[0] and "failed" not in classes[0]
    assert {"state-failed", "failed"} <= classes[1]
    assert {"state-out-of-memory", "failed"} <= classes[2]
    for g, state in zip(found, ("COMPLETED", "FAILED", "OUT_OF_MEMORY"), strict=True):
        assert segs(g)["run"].get("fill") == STATE_COLOURS[state]
        assert segs(g)["queue"].get("fill") == PHASE_COLOURS["queue"]


def test_segments_are_proportional_to_the_timestamps():
    a, b, c = (segs(g) for g in rows(render_svg(Timeline("map", (A, B, C)))))

    def x(rect):
        return float(rect.get("x"))

    def w(rect):
        return float(rect.get("width"))

    assert w(a["run"]) == pytest.approx(20 * SCALE, abs=0.01)
    assert w(b["run"]) == pytest.approx(10 * SCALE, abs=0.01)
    assert w(a["run"]) / w(b["run"]) == pytest.approx(2.0, rel=1e-3)
    # Submit: client began (100) -> sbatch returned (101). The scheduler queued it at 100.5
    # (inside the submit); the queue segment is drawn from 101, where the submit ends.
    assert w(a["submit"]) == pytest.approx(1.0 * SCALE, abs=0.01)
    assert w(a["queue"]) == pytest.approx(9.0 * SCALE, abs=0.01)
    assert x(a["queue"]) == pytest.approx(x(a["submit"]) + w(a["submit"]), abs=0.01)
    assert w(a["fetch"]) == pytest.approx(1.0 * SCALE, abs=0.01)
    # Positions: time 0 is the earliest instant (100), at the chart's left edge.
    assert x(a["submit"]) == pytest.approx(LABEL_W, abs=0.01)
    assert x(a["run"]) - LABEL_W == pytest.approx(10 * SCALE, abs=0.01)
    assert x(c["run"]) - LABEL_W == pytest.approx(25 * SCALE, abs=0.01)
    assert x(a["fetch"]) == pytest.approx(x(a["run"]) + w(a["run"]), abs=0.01)  # contiguous
    assert (a["run"].get("data-start-s"), a["run"].get("data-end-s")) == ("10.000", "30.000")


def test_a_task_without_scheduler_times_shows_the_client_wait_undivided():
    bar = TaskBar("77", "COMPLETED", prepared_s=10.0, submitted_s=11.0, fetched_s=20.0)
    (row,) = rows(render_svg(Timeline("ssh", (bar,))))
    assert list(segs(row)) == ["client"]
    assert float(segs(row)["client"].get("width")) == pytest.approx(WIDTH - LABEL_W - RIGHT_PAD, abs=0.01)


def test_a_task_with_no_times_keeps_its_row_without_segments():
    found = rows(render_svg(Timeline("t", (TaskBar("1", "UNKNOWN"), A))))
    assert [g.get("data-task") for g in found] == ["1", "9_0"]
    assert segs(found[0]) == {} and "run" in segs(found[1])
    assert rows(render_svg(Timeline("nothing", (TaskBar("2", "PENDING"),))))[0].get("data-state") == "PENDING"


def test_a_running_task_runs_to_the_edge_of_the_picture():
    running = TaskBar("5", "RUNNING", queued_s=0.0, started_s=2.0)
    done = TaskBar("6", "COMPLETED", queued_s=0.0, started_s=1.0, ended_s=10.0)
    r = segs(rows(render_svg(Timeline("t", (running, done))))[0])["run"]
    assert r.get("data-end-s") == "10.000" and r.get("fill") == STATE_COLOURS["RUNNING"]


def test_labels_and_titles_are_escaped():
    bar = TaskBar('<a href="x">&', "COMPLETED", group="#1 <b>", queued_s=0.0, started_s=1.0, ended_s=2.0)
    svg = render_svg(Timeline("t <script>", (bar,), notes=("& more",)))
    (row,) = rows(svg)  # parses: nothing leaked into the markup
    assert row.get("data-task") == '<a href="x">&'
    assert "<script>" not in svg


def test_thousands_of_tasks_keep_one_row_each():
    bars = tuple(TaskBar(f"1_{i}", "COMPLETED", queued_s=0.0, started_s=i * 0.1, ended_s=i * 0.1 + 5)
                 for i in range(1500))
    assert len(rows(render_svg(Timeline("big", bars)))) == 1500
    assert row_height(1500) == 3.0 and row_height(20) == 16.0


def test_the_picture_is_self_contained():
    svg = render_svg(Timeline("t", (A, B), source="sacct", notes=("a note",)))
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    for el in root.iter():
        assert not any(k.endswith("href") for k in el.attrib), el.tag
    assert "<script" not in svg and "url(" not in svg
    texts = " ".join(t.text or "" for t in root.iter(f"{NS}text"))
    assert "makespan 31 s" in texts and "1 FAILED" in texts and "a note" in texts
    assert "slowest: 9_0 20 s, 9_1 10 s" in texts


def test_where_the_time_went_bar_is_split_by_summed_spans():
    root = ET.fromstring(render_svg(Timeline("t", (A, B))))
    shares = {r.get("class").split()[1]: float(r.get("data-seconds")) for r in root.iter(f"{NS}rect")
              if "share" in r.get("class", "").split()}
    # queue 9.5 + 9.5 (the scheduler's measure); run 20 + 10; client: submit 1.0 (once) + fetch 1 + 2
    assert shares == {"queue-wait": 19.0, "run": 30.0, "client-overhead": 4.0}
