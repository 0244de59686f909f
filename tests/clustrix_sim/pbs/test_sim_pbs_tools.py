"""The PBS Pro tools on a running simulator: jobs really run with PBS's environment and files,
limits end them with the mom's exit codes, and every error is the real message and exit code."""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest

from clustrix_sim.cluster import SimCluster

JOB = textwrap.dedent("""\
    #!/bin/bash
    #PBS -N envjob
    #PBS -l select=1:ncpus=2:mem=64mb
    #PBS -l walltime=00:10:00
    echo "id=$PBS_JOBID name=$PBS_JOBNAME wd=$PBS_O_WORKDIR ncpus=$NCPUS q=$PBS_QUEUE idx=$PBS_ARRAY_INDEX"
    echo "nodes=$(cat "$PBS_NODEFILE") pwd=$(pwd)"
    echo oops >&2
    """)


@pytest.fixture(scope="module")
def pbs():
    with SimCluster(scheduler="pbs", nodes=2, cores_per_node=4, mem_per_node="4G", time_scale=60, ssh=False,
                    kill_wait_s=1) as sim:
        yield sim


@pytest.fixture
def work(tmp_path, pbs):
    (tmp_path / "job.sh").write_text(JOB)
    yield tmp_path
    pbs.faults.clear()
    pbs.faults.enable_accounting()
    pbs.faults.set_min_job_age(300)


def run(sim, *argv, cwd=None, input=None):
    return sim.run(list(argv), cwd=str(cwd) if cwd else None, input=input)


def submit(sim, cwd, *argv, input=None) -> tuple[str, int]:
    out = run(sim, "qsub", *argv, cwd=cwd, input=input)
    assert out.returncode == 0, out.stderr
    job_id = out.stdout.strip()
    return job_id, int(job_id.split(".")[0].split("[")[0])


def full_json(sim, job_id) -> dict:
    out = run(sim, "qstat", "-x", "-f", "-F", "json", job_id)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["Jobs"][job_id]


def test_job_runs_in_home_with_pbs_environment_and_default_files(pbs, work):
    job_id, seq = submit(pbs, work, "job.sh")
    assert job_id == f"{seq}.pbs-server"
    pbs.wait_job(seq)
    out = (work / f"envjob.o{seq}").read_text()
    assert f"id={job_id} name=envjob wd={work} ncpus=2 q=workq idx=\n" in out
    node = pbs.job(seq).node_list[0]
    assert f"nodes={node} pwd={os.path.expanduser('~')}\n" in out
    assert (work / f"envjob.e{seq}").read_text() == "oops\n"


def test_stdin_script_array_join_and_output_directory(pbs, work):
    (work / "logs").mkdir()
    job_id, seq = submit(pbs, work, "-J", "0-2%2", "-j", "oe", "-o", "logs/", input=JOB.replace("envjob", "arr"))
    assert job_id == f"{seq}[].pbs-server"
    pbs.wait_idle()
    for index in range(3):
        text = (work / "logs" / f"arr.o{seq}.{index}").read_text()
        assert f"id={seq}[{index}].pbs-server" in text and f"idx={index}" in text and "oops" in text
    record = full_json(pbs, job_id)
    assert record["job_state"] == "F" and record["array_indices_submitted"] == "0-2%2"


def test_walltime_and_memory_kills_have_the_moms_exit_codes(pbs, work):
    slow, slow_seq = submit(pbs, work, "-l", "walltime=00:01:00", input="#!/bin/bash\nsleep 3600\n")
    hog = (f"#!/bin/bash\n{sys.executable} -c 'import time; b = bytearray(300 << 20); "
           "[b.__setitem__(i, 1) for i in range(0, len(b), 4096)]; time.sleep(60)'\n")
    big, big_seq = submit(pbs, work, "-l", "select=1:ncpus=1:mem=100mb", input=hog)
    assert pbs.wait_job(slow_seq).state == "TIMEOUT" and pbs.wait_job(big_seq).state == "OUT_OF_MEMORY"
    assert full_json(pbs, slow)["Exit_status"] == -29  # JOB_EXEC_KILL_WALLTIME
    assert full_json(pbs, big)["Exit_status"] == -27  # JOB_EXEC_KILL_MEM


def test_unknown_finished_and_mixed_ids(pbs, work):
    done, seq = submit(pbs, work, "job.sh")
    pbs.wait_job(seq)
    out = run(pbs, "qstat", "999999")
    assert (out.returncode, out.stdout, out.stderr) == (153, "", "qstat: Unknown Job Id 999999.pbs-server\n")
    out = run(pbs, "qstat", done)
    assert out.returncode == 35
    assert out.stderr == (f"qstat: {done} Job has finished, use -x or -H to obtain historical job "
                          "information\n")
    out = run(pbs, "qstat", "-x", done, "999999")
    assert out.returncode == 153 and done.split(".")[0] in out.stdout and "Unknown Job Id" in out.stderr


def test_history_off_forgets_finished_jobs(pbs, work):
    pbs.faults.disable_accounting()  # job_history_enable = False
    done, seq = submit(pbs, work, "job.sh")
    pbs.wait_job(seq)
    for argv in (["qstat", done], ["qstat", "-x", "-f", "-F", "json", done]):
        out = run(pbs, *argv)
        assert out.returncode == 153 and out.stderr == f"qstat: Unknown Job Id {done}\n"
        if "json" in argv:
            assert "Jobs" not in json.loads(out.stdout)


def test_qdel_of_a_running_job_and_of_finished_or_unknown_ones(pbs, work):
    job_id, seq = submit(pbs, work, input="#!/bin/bash\nsleep 3600\n")
    pbs.wait_job(seq, states=["RUNNING"])
    assert run(pbs, "qdel", job_id).returncode == 0
    pbs.wait_job(seq)
    assert full_json(pbs, job_id)["Exit_status"] == 256 + 15  # SIGTERM from the mom
    out = run(pbs, "qdel", job_id)
    assert (out.returncode, out.stderr) == (35, f"qdel: Job has finished {job_id}\n")
    forced, forced_seq = submit(pbs, work, input="#!/bin/bash\ntrap '' TERM\nsleep 3600\n")
    pbs.wait_job(forced_seq, states=["RUNNING"])
    assert run(pbs, "qdel", "-W", "force", forced).returncode == 0
    pbs.wait_job(forced_seq)
    assert full_json(pbs, forced)["Exit_status"] == 256 + 9  # SIGKILL at once
    out = run(pbs, "qdel", "999999.pbs-server")
    assert (out.returncode, out.stderr) == (153, "qdel: Unknown Job Id 999999.pbs-server\n")


def test_hold_release_and_dependency(pbs, work):
    first, first_seq = submit(pbs, work, "-h", input="#!/bin/bash\ntrue\n")
    second, second_seq = submit(pbs, work, "-W", f"depend=afterok:{first}", input="#!/bin/bash\ntrue\n")
    table = run(pbs, "qstat", first, second).stdout.splitlines()
    assert [line.split()[4] for line in table[2:]] == ["H", "H"]
    assert full_json(pbs, first)["Hold_Types"] == "u" and full_json(pbs, second)["Hold_Types"] == "s"
    assert run(pbs, "qrls", first).returncode == 0
    assert pbs.wait_job(second_seq).state == "COMPLETED"
    out = run(pbs, "qhold", first)
    assert out.returncode == 35 and "Job has finished" in out.stderr


def test_qhold_of_a_running_job_and_qsig(pbs, work):
    script = "#!/bin/bash\ntrap 'echo got-usr1; exit 3' USR1\nwhile true; do sleep 0.05; done\n"
    job_id, seq = submit(pbs, work, "-N", "sig", input=script)
    pbs.wait_job(seq, states=["RUNNING"])
    out = run(pbs, "qhold", job_id)
    assert (out.returncode, out.stderr) == (15016 & 0xFF, f"qhold: Request invalid for state of job {job_id}\n")
    assert run(pbs, "qsig", "-s", "USR1", job_id).returncode == 0
    pbs.wait_job(seq)
    assert full_json(pbs, job_id)["Exit_status"] == 3
    assert (work / f"sig.o{seq}").read_text() == "got-usr1\n"


@pytest.mark.parametrize("argv, rc, first_line", [
    (["-J", "3-1"], 2, "qsub: illegal -J value"),
    (["-N", "bad name"], 15014 & 0xFF, "qsub: Illegal attribute or resource value"),
    (["-l", "walltime=soon"], 2, "qsub: illegal -l value"),
    (["-l", "colour=blue"], 15035 & 0xFF, "qsub: Unknown resource Resource_List.colour"),
    (["-q", "nosuch"], 15018 & 0xFF, "qsub: Unknown queue"),
    (["-l", "select=1:ncpus=64"], 15036 & 0xFF, "qsub: Job violates queue and/or server resource limits"),
])
def test_qsub_errors(pbs, work, argv, rc, first_line):
    out = run(pbs, "qsub", *argv, "job.sh", cwd=work)
    assert (out.returncode, out.stdout, out.stderr.splitlines()[0]) == (rc, "", first_line)


def test_variables_and_pbsnodes(pbs, work):
    job_id, seq = submit(pbs, work, "-v", "ALPHA=1,BETA", input="#!/bin/bash\necho $ALPHA\n")
    pbs.wait_job(seq)
    variables = full_json(pbs, job_id)["Variable_List"]
    assert variables["ALPHA"] == 1 and variables["PBS_O_WORKDIR"] == str(work) and "BETA" in variables
    nodes = run(pbs, "pbsnodes", "-a").stdout
    assert nodes.startswith("c1\n     Mom = c1\n") and "\nc2\n" in nodes and "resources_available.ncpus = 4" in nodes
