"""The HTML page (self-contained, with the totals tables) and the PNG path (the ``plot`` extra)."""

from __future__ import annotations

import importlib
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from clustrix.api.timeline import TimelineReport
from clustrix.errors import ClustrixError
from clustrix.gantt import TaskBar, Timeline
from clustrix.gantt import png as png_module
from clustrix.gantt.html import render_html

NS = "{http://www.w3.org/2000/svg}"
A = TaskBar("9_0", "COMPLETED", group="#1", prepared_s=100.0, submitted_s=101.0, queued_s=100.5,
            started_s=110.0, ended_s=130.0, fetched_s=131.0)
B = TaskBar("9_1", "FAILED", group="#1", prepared_s=100.0, submitted_s=101.0, queued_s=100.5,
            started_s=110.0, ended_s=120.0, fetched_s=122.0, detail="scheduler: COMPLETED")
TL = Timeline("map of 2", (A, B), source="sacct on slurm-sim", origin_label="2026-12-03 18:00:00 UTC",
              notes=("no accounting for job 7",))


class Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.cells: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_cell = tag in ("td", "th")

    def handle_data(self, data):
        if self._in_cell and data.strip():
            self.cells.append(data.strip())


def test_the_page_is_self_contained_and_holds_the_picture():
    page = render_html(TL)
    parsed = Collect()
    parsed.feed(page)
    tags = {t for t, _ in parsed.tags}
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert not any(k in ("src", "href") for _, attrs in parsed.tags for k in attrs)
    svg = re.search(r"<svg .*?</svg>", page, re.S)
    assert svg is not None
    rows = [g for g in ET.fromstring(svg.group(0)).iter(f"{NS}g") if "task" in g.get("class", "").split()]
    assert [g.get("data-task") for g in rows] == ["9_0", "9_1"]


def test_the_page_has_the_totals_a_user_wants():
    parsed = Collect()
    parsed.feed(render_html(TL))
    cells = parsed.cells
    assert cells[cells.index("queue wait") + 1: cells.index("queue wait") + 3] == ["2", "19 s"]
    assert cells[cells.index("run time") + 1: cells.index("run time") + 3] == ["2", "30 s"]
    assert cells[cells.index("makespan") + 1] == "31 s"
    assert cells[cells.index("failures") + 1] == "1"
    assert "FAILED" in cells and "scheduler: COMPLETED" in cells
    assert "no accounting for job 7" in render_html(TL)


def test_png_when_matplotlib_is_installed(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib (the 'plot' extra) is not installed")
    data = TimelineReport(TL).to_png()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    TimelineReport(TL).write(tmp_path / "t.png")
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_png_without_matplotlib_names_the_extra(tmp_path, monkeypatch):
    real = importlib.import_module

    def no_matplotlib(name, *args, **kwargs):
        if name.split(".")[0] == "matplotlib":
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(png_module.importlib, "import_module", no_matplotlib)
    with pytest.raises(png_module.PlotExtraMissing, match=r"clustrix\[plot\]"):
        TimelineReport(TL).write(tmp_path / "t.png")
    assert not (tmp_path / "t.png").exists()  # nothing half-written


def test_write_picks_the_format_from_the_suffix(tmp_path):
    report = TimelineReport(TL)
    assert report.write(tmp_path / "a.svg") == "svg"
    assert ET.parse(tmp_path / "a.svg").getroot().tag == f"{NS}svg"
    report.write_html(tmp_path / "b.html")
    assert (tmp_path / "b.html").read_text().startswith("<!DOCTYPE html>")
    with pytest.raises(ClustrixError, match=r"\*\.html, \*\.svg or \*\.png"):
        report.write(tmp_path / "c.pdf")
    with pytest.raises(ClustrixError, match="unknown timeline format 'pdf'"):
        report.render("pdf")
