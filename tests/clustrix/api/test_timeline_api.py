"""``clustrix.timeline(futures)`` on backends without a scheduler: what it shows, said plainly."""

from __future__ import annotations

import concurrent.futures
import xml.etree.ElementTree as ET

import pytest

import clustrix
from clustrix.api.executor import ClusterExecutor
from clustrix.api.timeline import NO_SCHEDULER_NOTE
from clustrix.config.profile import Profile
from clustrix.errors import ClustrixError

NS = "{http://www.w3.org/2000/svg}"


def square(x):
    if x == 2:
        raise ValueError("two")
    return x * x


@pytest.mark.parametrize("backend", ["local", "debug"])
def test_local_futures_draw_when_each_call_ran(backend):
    with ClusterExecutor(Profile(backend=backend, max_workers=2)) as ex:
        futures = ex.submit_array(square, range(4))
        concurrent.futures.wait(futures, timeout=60)
    report = clustrix.timeline(futures)
    assert NO_SCHEDULER_NOTE in report.timeline.notes
    root = ET.fromstring(report.to_svg())
    rows = [g for g in root.iter(f"{NS}g") if "task" in g.get("class", "").split()]
    assert [g.get("data-state") for g in rows] == ["COMPLETED", "COMPLETED", "FAILED", "COMPLETED"]
    for g in rows:  # one run segment each (the call's own start and end), nothing else known
        kinds = [r.get("class").split()[1] for r in g.iter(f"{NS}rect") if "seg" in r.get("class", "")]
        assert kinds == ["run"]
    assert report.totals().queue_wait is None


def test_timeline_needs_job_futures():
    with pytest.raises(ClustrixError, match="needs job futures"):
        clustrix.timeline([])
    plain: concurrent.futures.Future[int] = concurrent.futures.Future()
    with pytest.raises(ClustrixError, match="submit_array"):
        clustrix.timeline([plain])
