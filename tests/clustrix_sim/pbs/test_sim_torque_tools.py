"""The Torque dialect on a running simulator: ``-t`` arrays with ``PBS_ARRAYID`` and
``<path>-<index>`` files, completed jobs as ``C`` until ``keep_completed`` passes, then
``Unknown Job Id Error`` (while ``tracejob`` still finds them), no ``-F json``, ``-x`` as XML,
and Torque's own exit codes for limit kills."""

from __future__ import annotations

import pytest

from clustrix_sim.cluster import SimCluster


@pytest.fixture(scope="module")
def torque():
    with SimCluster(scheduler="torque", nodes=2, cores_per_node=4, time_scale=60, ssh=False) as sim:
        yield sim


@pytest.fixture
def work(tmp_path, torque):
    yield tmp_path
    torque.faults.set_min_job_age(300)


def run(sim, *argv, cwd=None, input=None):
    return sim.run(list(argv), cwd=str(cwd) if cwd else None, input=input)


def submit(sim, cwd, *argv, input="#!/bin/bash\necho idx=$PBS_ARRAYID np=$PBS_NP job=$PBS_JOBID\n"):
    out = run(sim, "qsub", *argv, cwd=cwd, input=input)
    assert out.returncode == 0, out.stderr
    job_id = out.stdout.strip()
    return job_id, int(job_id.split(".")[0].split("[")[0])


def test_array_subjobs_get_arrayid_and_suffixed_files(torque, work):
    job_id, seq = submit(torque, work, "-t", "1-3%2", "-l", "nodes=1:ppn=2", "-o", "out.log", "-j", "oe")
    assert job_id == f"{seq}[].torque-server"
    torque.wait_idle()
    for index in (1, 2, 3):
        assert (work / f"out.log-{index}").read_text() == f"idx={index} np=2 job={seq}[{index}].torque-server\n"
    table = run(torque, "qstat", "-t", job_id).stdout.splitlines()
    assert table[0].startswith("Job ID                    Name") and len(table) == 5
    assert [line.split()[0] for line in table[2:]] == [f"{seq}[{i}].torque-server" for i in (1, 2, 3)]
    assert {line.split()[4] for line in table[2:]} == {"C"}


def test_completed_jobs_stay_until_keep_completed_then_only_tracejob_knows(torque, work):
    job_id, seq = submit(torque, work)
    torque.wait_job(seq)
    full = run(torque, "qstat", "-f", job_id).stdout
    assert "    job_state = C\n" in full and "    exit_status = 0\n" in full
    torque.faults.set_min_job_age(0)  # keep_completed = 0
    torque.wait_for(lambda: run(torque, "qstat", job_id).returncode != 0, 30, "the job to leave qstat")
    out = run(torque, "qstat", job_id)
    assert (out.returncode, out.stderr) == (153, f"qstat: Unknown Job Id Error {job_id}\n")
    trace = run(torque, "tracejob", job_id)
    assert trace.returncode == 0 and trace.stdout.startswith(f"\nJob: {job_id}\n\n")
    assert "exit_status=0" in trace.stdout


def test_walltime_kill_is_overlimit_wt(torque, work):
    job_id, seq = submit(torque, work, "-l", "walltime=60", input="#!/bin/bash\nsleep 3600\n")
    assert torque.wait_job(seq).state == "TIMEOUT"
    assert "    exit_status = -11\n" in run(torque, "qstat", "-f", job_id).stdout  # JOB_EXEC_OVERLIMIT_WT


def test_no_json_and_x_is_xml(torque, work):
    job_id, seq = submit(torque, work)
    torque.wait_job(seq)
    out = run(torque, "qstat", "-f", "-F", "json", job_id)
    assert out.returncode == 2 and out.stderr.startswith("qstat: invalid option -- 'F'\nusage: qstat")
    xml = run(torque, "qstat", "-x", job_id).stdout
    assert xml.startswith(f'<?xml version="1.0"?>\n<Data><Job><Job_Id>{job_id}</Job_Id>')
    assert "<exit_status>0</exit_status>" in xml and xml.endswith("</Job></Data>\n")


def test_select_is_not_a_torque_resource(torque, work):
    out = run(torque, "qsub", "-l", "select=1:ncpus=1", cwd=work, input="#!/bin/bash\ntrue\n")
    assert (out.returncode, out.stderr) == (15035 & 0xFF, "qsub: Unknown resource Resource_List.select\n")
