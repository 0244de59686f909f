"""Golden tests: ``qstat`` tables and ``-f`` text rendered from constructed records must match
``tests/data/sim_pbs/`` byte for byte (layouts from OpenPBS v23.06.06 and Torque 6 ``qstat.c``;
see :mod:`clustrix_sim.pbs.tables` and :mod:`clustrix_sim.pbs.render`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pbs_records import T0, record, request

from clustrix_sim.pbs.attributes import job_attributes, views
from clustrix_sim.pbs.dialect import PBSPRO, TORQUE
from clustrix_sim.pbs.render import full_text
from clustrix_sim.pbs.tables import alternate_table, default_table

DATA = Path(__file__).resolve().parents[2] / "data" / "sim_pbs"
SERVER = "pbs-master"


def golden(name: str) -> str:
    return (DATA / name).read_text()


def records():
    array = request(name="array", array_text="0-2", array_indices=[0, 1, 2])
    return [
        record(123, max_rss_mb=10.0),
        record(124, req=request(name="parsl.1712345678.123", mem_mb=None, time_limit_s=None), state="PENDING",
               reason="Resources", start_time=None, end_time=None, node_list=[]),
        record(125, req=array, array_job_id=125, array_task_id=0, state="RUNNING", end_time=None, pid=4321),
        record(126, req=array, array_job_id=125, array_task_id=1, state="PENDING", start_time=None, end_time=None,
               node_list=[]),
        record(127, req=array, array_job_id=125, array_task_id=2, state="TIMEOUT", exit_signal=15),
    ]


def rendered(dialect, *, subjobs=False):
    return [(v.id, job_attributes(v, dialect, SERVER, T0 + 100))
            for v in views(records(), SERVER, subjobs=subjobs)]


@pytest.mark.parametrize("dialect, name", [(PBSPRO, "qstat_pbspro.txt"), (TORQUE, "qstat_torque.txt")])
def test_default_table(utc, dialect, name):
    assert default_table(rendered(dialect), dialect) == golden(name)


def test_alternate_table_with_nodes(utc):
    assert alternate_table(rendered(PBSPRO, subjobs=True), SERVER, nodes=True) == golden("qstat_a_n.txt")


@pytest.mark.parametrize("dialect, name", [(PBSPRO, "qstat_f_pbspro.txt"), (TORQUE, "qstat_f_torque.txt")])
def test_full_text_of_a_finished_job(utc, dialect, name):
    assert full_text(rendered(dialect)[:1], dialect.wrap) == golden(name)


def test_full_text_of_a_subjob_killed_at_its_walltime(utc):
    (job,) = [j for j in rendered(PBSPRO, subjobs=True) if j[0] == "125[2].pbs-master"]
    assert full_text([job], PBSPRO.wrap) == golden("qstat_f_subjob_walltime.txt")


def test_array_parent_counts_its_subjobs(utc):
    (parent,) = [attrs for job_id, attrs in rendered(PBSPRO) if job_id == "125[].pbs-master"]
    values = {(n, r): v for n, r, v in parent}
    assert values[("job_state", None)] == "B"
    assert values[("array_state_count", None)] == "Queued:1 Running:1 Exiting:0 Expired:1 "
    assert values[("array_indices_remaining", None)] == "1"
