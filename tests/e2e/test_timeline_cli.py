"""``clustrix jobs timeline`` end to end, per simulator flavour: a small map over real SSH, then the
command in a fresh process with ``--ledger``, and the tasks and states read back from its SVG.

Item 2's function raises (its job ends cleanly: the client's verdict FAILED wins), item 3's
process exits 3 (the scheduler's FAILED); the rest complete. The clusters run at time scale 1,
so the scheduler's clock is this machine's and no timeline note may report a disagreement.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import cloudpickle
import pytest
from e2e_env import code_under_test_sim

import clustrix
from clustrix.api.executor import ClusterExecutor
from clustrix.backends.timeline import NOT_IN_ACCOUNTING
from clustrix.config.profile import Profile

cloudpickle.register_pickle_by_value(sys.modules[__name__])
DEADLINE_S = 120
CLI = [os.path.join(os.path.dirname(sys.executable), "clustrix"), "jobs"]
NS = "{http://www.w3.org/2000/svg}"


def work(i):
    import os
    import time

    time.sleep(0.2)
    if i == 2:
        raise ValueError("item 2")
    if i == 3:
        os._exit(3)
    return i


@pytest.fixture(scope="module", params=["slurm", "pbs", "torque", "sge"])
def ran_map(request, tmp_path_factory):
    """A flavour's cluster after a 5-item map and one single job: (sim, ledger path, futures)."""
    sim = code_under_test_sim()(scheduler=request.param, ssh=True, nodes=1, cores_per_node=2, mem_per_node="4G")
    sim.start()
    try:
        root = tmp_path_factory.mktemp(f"timeline-{request.param}")
        profile = Profile.from_mapping(sim.profile(name=f"tl-{request.param}", remote_dir=str(root / "jobs")))
        with ClusterExecutor(profile) as ex:
            futures = ex.submit_array(work, range(5))
            single = ex.submit(work, 0)
            for fut in [*futures, single]:
                fut.exception(timeout=DEADLINE_S)
            report = clustrix.timeline(futures)  # the Python door, while the backend is live
            # Accounting may lag the jobs (qacct reads a file written after the job ends); the
            # timeline says so in a note, and drawing again later fills the gap.
            deadline = time.monotonic() + DEADLINE_S
            while any(NOT_IN_ACCOUNTING in n for n in report.timeline.notes) and time.monotonic() < deadline:
                time.sleep(0.5)
                report = clustrix.timeline(futures)
        yield request.param, sim, profile.ledger, futures, report
    finally:
        sim.stop()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=DEADLINE_S)


def rows(svg_path) -> dict[str, tuple[str, set[str]]]:
    """Each task row of a timeline SVG: label -> (state, segment kinds drawn)."""
    return {label: (state, kinds) for label, (state, kinds, _) in rows_with_tooltips(svg_path).items()}


def rows_with_tooltips(svg_path) -> dict[str, tuple[str, set[str], str]]:
    out = {}
    for g in ET.parse(svg_path).getroot().iter(f"{NS}g"):
        if "task" in g.get("class", "").split():
            kinds = {r.get("class").split()[1] for r in g.iter(f"{NS}rect") if "seg" in r.get("class", "").split()}
            out[g.get("data-task")] = (g.get("data-state"), kinds, g.find(f"{NS}title").text)
    return out


EXPECTED = ["COMPLETED", "COMPLETED", "FAILED", "FAILED", "COMPLETED"]


def test_the_map_via_the_cli(ran_map, tmp_path):
    flavour, _sim, ledger, futures, _ = ran_map
    map_id = futures[0].handle.sub.job_id
    out = tmp_path / "map.svg"
    done = cli("--ledger", ledger, "timeline", map_id, "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "5 tasks: 3 COMPLETED, 2 FAILED" in done.stdout
    drawn = rows_with_tooltips(out)
    keys = futures[0].handle.sub.task_keys
    assert list(drawn) == keys
    assert [drawn[k][0] for k in keys] == EXPECTED
    # The scheduler's accounting was read: every task was queued, started and ended by it
    # (whole seconds: a queue wait inside the client's submit leaves no queue segment).
    for key in keys:
        state, kinds, tooltip = drawn[key]
        assert "run" in kinds, (flavour, key, kinds)
        assert all(f"{what} +" in tooltip for what in ("queued", "started", "ended")), (flavour, key, tooltip)
    svg_text = out.read_text()
    assert "disagrees" not in svg_text and "no accounting" not in svg_text


def test_the_last_two_jobs_as_html(ran_map, tmp_path):
    flavour, _sim, ledger, futures, _ = ran_map
    out = tmp_path / "last.html"
    done = cli("--ledger", ledger, "timeline", "--last", "2", "-o", str(out))
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "6 tasks: 4 COMPLETED, 2 FAILED" in done.stdout
    assert "Slowest tasks" in page and "Where the time went" in page


def test_the_python_api_draws_the_same_tasks(ran_map, tmp_path):
    _, _sim, _ledger, futures, report = ran_map
    report.write_svg(tmp_path / "api.svg")
    drawn = rows(tmp_path / "api.svg")
    assert [s for s, _ in drawn.values()] == EXPECTED
    assert all("run" in kinds for _, kinds in drawn.values())
    totals = report.totals()
    assert totals.failures == {"FAILED": 2} and totals.run is not None and totals.run.count == 5


def test_a_bad_job_id_and_an_empty_ledger_are_clear(ran_map, tmp_path):
    _, _sim, ledger, _, _ = ran_map
    done = cli("--ledger", ledger, "timeline", "999999")
    assert done.returncode != 0 and "not in the ledger" in done.stderr
    done = cli("--ledger", str(tmp_path / "empty.sqlite3"), "timeline")
    assert done.returncode != 0 and "no jobs to draw" in done.stderr


def test_plain_ssh_has_no_accounting_and_says_so(ssh_login, tmp_path):
    from e2e_env import JOB_ENV

    from clustrix.backends.remote.backend import RemoteBackend
    from clustrix.payload.codec import Call
    from clustrix.spec import JobSpec

    backend = RemoteBackend(Profile.from_mapping(ssh_login.profile_mapping(remote_dir=str(tmp_path / "r"))))
    try:
        spec = JobSpec(name="tl", python=sys.executable, env=JOB_ENV)
        futs = [backend.submit(Call(work, (i,), {}), spec) for i in (0, 2)]
        for fut in futs:
            fut.exception(timeout=DEADLINE_S)
    finally:
        backend.shutdown(wait=False, cancel_futures=True)
    out = tmp_path / "ssh.svg"
    done = cli("timeline", "--last", "2", "-o", str(out))  # the test's own ledger ($CLUSTRIX_LEDGER)
    assert done.returncode == 0, done.stderr
    assert "ssh has no scheduler accounting" in done.stdout
    drawn = rows(out)
    assert sorted(s for s, _ in drawn.values()) == ["COMPLETED", "FAILED"]
    assert all(kinds == {"client"} for _, kinds in drawn.values())
