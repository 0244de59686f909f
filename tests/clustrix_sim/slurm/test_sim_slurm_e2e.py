"""The SLURM tools run for real (local mode: shims on PATH) against H5's simulated controller."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from clustrix_sim.cluster import SimCluster

DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def sim():
    # PrologFlags=Contain: sacct lists .extern steps (without it, only .batch)
    with SimCluster(nodes=2, cores_per_node=2, mem_per_node="4G", ssh=False,
                    cluster_name="simcluster", prolog_flags="Contain") as cluster:
        yield cluster


@pytest.fixture()
def work(sim, tmp_path: Path) -> Path:
    return tmp_path


def run(sim, argv, cwd, env=None, input=None):
    return sim.run(argv, env=env, cwd=str(cwd), input=input, timeout_s=DEADLINE_S)


def submit(sim, argv, cwd, env=None) -> int:
    res = run(sim, ["sbatch", "--parsable", *argv], cwd, env)
    assert res.returncode == 0, res.stderr
    assert re.fullmatch(r"\d+\n", res.stdout), res.stdout
    return int(res.stdout)


def script(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


def test_sbatch_plain_output_and_wrap(sim, work) -> None:
    res = run(sim, ["sbatch", "--wrap", "echo hello"], work)
    assert res.returncode == 0 and res.stderr == ""
    job = int(re.fullmatch(r"Submitted batch job (\d+)\n", res.stdout).group(1))
    rec = sim.wait_job(job, DEADLINE_S)
    assert rec.state == "COMPLETED"
    assert rec.request.name == "wrap"
    full = sim.call("accounting", {"job_ids": [job], "include_script": True})["jobs"][0]
    assert full["request"]["script"] == "#!/bin/sh\n# This script was created by sbatch --wrap.\n\necho hello\n"
    assert (work / f"slurm-{job}.out").read_text() == "hello\n"
    res = run(sim, ["sbatch", "-M", "simcluster", "--wrap", "true"], work)
    assert re.fullmatch(r"Submitted batch job \d+ on cluster simcluster\n", res.stdout)
    res = run(sim, ["sbatch", "--parsable", "--clusters=simcluster", "--wrap", "true"], work)
    assert re.fullmatch(r"\d+;simcluster\n", res.stdout)


@pytest.mark.parametrize(
    ("content", "lines"),
    [
        (b"", ["sbatch: error: Batch script is empty!"]),
        (b"echo hi\n", ["sbatch: error: This does not look like a batch script.  The first",
                        "sbatch: error: line must start with #! followed by the path to an interpreter.",
                        "sbatch: error: For instance: #!/bin/sh"]),
        (b"#!/bin/sh\r\necho hi\r\n", ["sbatch: error: Batch script contains DOS line breaks (\\r\\n)",
                                       "sbatch: error: instead of expected UNIX line breaks (\\n)."]),
    ],
)
def test_sbatch_script_errors(sim, work, content: bytes, lines: list[str]) -> None:
    (work / "job.sh").write_bytes(content)
    res = run(sim, ["sbatch", "job.sh"], work)
    assert (res.returncode, res.stdout, res.stderr) == (1, "", "".join(x + "\n" for x in lines))


def test_sbatch_option_errors(sim, work) -> None:
    res = run(sim, ["sbatch", "missing.sh"], work)
    assert (res.returncode, res.stderr) == (1, "sbatch: error: Unable to open file missing.sh\n")
    res = run(sim, ["sbatch", "--time=abc", "--wrap", "true"], work)
    assert (res.returncode, res.stderr) == (255, "sbatch: error: Invalid --time specification\n")
    res = run(sim, ["sbatch", "--bogus", "--wrap", "true"], work)
    assert res.returncode == 255  # real 22.05 (tests/data/slurm_real/usage_errors.json)
    assert res.stderr == ("sbatch: unrecognized option '--bogus'\n"
                          "Try \"sbatch --help\" for more information\n")
    script(work / "d.sh", "#!/bin/sh\n#SBATCH --time=5 e.g.\ntrue\n")
    res = run(sim, ["sbatch", "d.sh"], work)
    assert (res.returncode, res.stderr) == (
        255, "sbatch: error: Invalid directive found in batch script: e.g.\n")
    script(work / "q.sh", '#!/bin/sh\n#SBATCH -J "open\ntrue\n')
    res = run(sim, ["sbatch", "q.sh"], work)
    assert res.returncode == 1
    assert res.stderr == 'sbatch: fatal: q.sh: line 2: Unmatched `"` in [#SBATCH -J "open]\n'
    res = run(sim, ["sbatch", "--partition=nope", "--wrap", "true"], work)
    assert (res.returncode, res.stderr) == (
        1, "sbatch: error: invalid partition specified: nope\n"
        "sbatch: error: Batch job submission failed: Invalid partition name specified\n")
    res = run(sim, ["sbatch", "--array=5-1", "--wrap", "true"], work)
    assert (res.returncode, res.stderr) == (
        255, "sbatch: error: Batch job submission failed: Invalid job array specification\n")


def test_directives_env_and_command_line_precedence(sim, work) -> None:
    path = script(work / "prec.sh", "#!/bin/sh\n"
                  "#SBATCH --job-name=\"from script\" -p normal\n"
                  "#SBATCH --time=1:5:0 --mem=2GB -o out-%j-%x.txt\n"
                  "#SBATCH --comment=script --account=acct\n"
                  "echo \"$SLURM_JOB_NAME|$SLURM_JOB_PARTITION|$SLURM_MEM_PER_NODE\"\n")
    env = {"SBATCH_TIMELIMIT": "10", "SBATCH_ACCOUNT": "envacct"}
    job = submit(sim, ["--comm=cli", str(path)], work, env)
    rec = sim.wait_job(job, DEADLINE_S)
    req = rec.request
    assert (req.name, req.time_limit_s, req.mem_mb) == ("from script", 600, 2048)
    assert (req.comment, req.account, req.partition) == ("cli", "envacct", "normal")
    out = work / f"out-{job}-from script.txt"
    assert out.read_text() == "from script|normal|2048\n"


def test_job_environment_array_and_patterns(sim, work) -> None:
    path = script(work / "arr.sh", "#!/bin/sh\n#SBATCH --array=0-4:2%2\n"
                  "#SBATCH --output=logs/%A_%a.out --error=logs/%A_%a.err\n"
                  "echo \"$SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT "
                  "$SLURM_ARRAY_TASK_MIN $SLURM_ARRAY_TASK_MAX $SLURM_ARRAY_TASK_STEP\"\n"
                  "echo \"$SLURM_JOB_NODELIST $SLURM_NTASKS $SLURM_PROCID $SLURM_CLUSTER_NAME\"\n"
                  "echo oops >&2\n")
    (work / "logs").mkdir()
    job = submit(sim, [str(path)], work)
    sim.wait_for(lambda: all(r.state == "COMPLETED" for r in sim.jobs()
                             if r.array_job_id == job) and len(
                                 [r for r in sim.jobs() if r.array_job_id == job]) == 3,
                 DEADLINE_S, "the array")
    for task in (0, 2, 4):
        lines = (work / "logs" / f"{job}_{task}.out").read_text().splitlines()
        assert lines[0] == f"{job} {task} 3 0 4 2"
        assert re.fullmatch(r"c[12] 1 0 simcluster", lines[1])
        assert (work / "logs" / f"{job}_{task}.err").read_text() == "oops\n"


def test_squeue_forms(sim, work) -> None:
    hold = submit(sim, ["--hold", "-J", "held-job", "--wrap", "true"], work)
    res = run(sim, ["squeue"], work)
    assert res.returncode == 0
    assert res.stdout.splitlines()[0] == (
        "             JOBID PARTITION     NAME     USER ST       TIME  NODES NODELIST(REASON)")
    row = next(line for line in res.stdout.splitlines() if line.split()[0] == str(hold))
    assert row.split()[1:3] == ["normal", "held-job"]
    assert row.split()[4:] == ["PD", "0:00", "1", "(JobHeldUser)"]
    res = run(sim, ["squeue", "--noheader", "--format=%i %t", "--job", f"{hold},999999"], work)
    assert (res.returncode, res.stdout) == (0, f"{hold} PD\n")
    res = run(sim, ["squeue", "-j", "999999"], work)
    assert (res.returncode, res.stdout, res.stderr) == (
        1, "", "slurm_load_jobs error: Invalid job id specified\n")
    res = run(sim, ["squeue", "-O", "JobArrayID,StateCompact,Reason", "-t", "all", "--me"], work)
    assert res.stdout.splitlines()[0] == "JOBID" + " " * 15 + "ST" + " " * 18 + "REASON" + " " * 14
    assert f"{hold}".ljust(20) + "PD".ljust(20) + "JobHeldUser".ljust(20) in res.stdout.splitlines()
    res = run(sim, ["squeue", "-t", "bogus"], work)
    assert (res.returncode, res.stderr) == (1, "squeue: error: Invalid job state specified: bogus\n")
    assert run(sim, ["scontrol", "release", str(hold)], work).returncode == 0
    assert sim.wait_job(hold, DEADLINE_S).state == "COMPLETED"


def test_sacct_client_forms_and_accounting_off(sim, work) -> None:
    ok = submit(sim, ["--wrap", "true"], work)
    bad = submit(sim, ["--wrap", "exit 3"], work)
    sim.wait_job(ok, DEADLINE_S)
    sim.wait_job(bad, DEADLINE_S)
    res = run(sim, ["sacct", "-o", "JobID,State,NodeList", "--parsable2", "-j", str(ok),
                    "-j", str(bad)], work)
    lines = res.stdout.splitlines()
    assert lines[0] == "JobID|State|NodeList"
    assert [line.split("|")[:2] for line in lines[1:]] == [
        [str(ok), "COMPLETED"], [f"{ok}.batch", "COMPLETED"], [f"{ok}.extern", "COMPLETED"],
        [str(bad), "FAILED"], [f"{bad}.batch", "FAILED"], [f"{bad}.extern", "COMPLETED"]]
    res = run(sim, ["sacct", "-X", "--noheader", "--format=jobid,state%20", "--job",
                    f"{ok},{bad}"], work)
    assert res.stdout == f"{ok:<12} {'COMPLETED':>20} \n{bad:<12} {'FAILED':>20} \n"
    res = run(sim, ["sacct", "-j", str(bad), "-X", "-o", "exitcode,Foo"], work)
    assert (res.returncode, res.stderr) == (1, 'sacct: error: Invalid field requested: "Foo"\n')
    sim.faults.disable_accounting()
    try:
        res = run(sim, ["sacct", "-X"], work)
        assert (res.returncode, res.stdout, res.stderr) == (
            1, "", "Slurm accounting storage is disabled\n")
    finally:
        sim.faults.enable_accounting()


def test_scancel_paths(sim, work) -> None:
    res = run(sim, ["scancel", "999999"], work)
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")
    res = run(sim, ["scancel", "999999", "--signal", "USR2"], work)
    assert (res.returncode, res.stderr) == (
        1, "scancel: error: Kill job error on job id 999999: Invalid job id specified\n")
    res = run(sim, ["scancel", "-Q", "-s", "TERM", "999999"], work)
    assert (res.returncode, res.stderr) == (1, "")
    job = submit(sim, ["--wrap", "sleep 30"], work)
    sim.wait_job(job, DEADLINE_S, states=["RUNNING"])
    res = run(sim, ["scancel", str(job), "-v"], work)
    assert (res.returncode, res.stderr) == (0, f"scancel: Terminating job {job}\n")
    rec = sim.wait_job(job, DEADLINE_S)
    assert rec.state == "CANCELLED" and rec.cancelled_by_uid == os.getuid()
    res = run(sim, ["sacct", "-X", "-n", "-P", "-o", "State", "-j", str(job)], work)
    assert res.stdout == f"CANCELLED by {os.getuid()}\n"
    res = run(sim, ["scancel", "12x"], work)
    assert (res.returncode, res.stderr) == (1, "scancel: error: Invalid job id 12x\n")


def test_scontrol(sim, work) -> None:
    res = run(sim, ["scontrol", "show", "hostnames", "c[1-2],login"], work)
    assert res.stdout == "c1\nc2\nlogin\n"
    res = run(sim, ["scontrol", "show", "hostnames"], work, env={"SLURM_JOB_NODELIST": "n[01-02]"})
    assert res.stdout == "n01\nn02\n"
    job = submit(sim, ["--hold", "--wrap", "true"], work)
    res = run(sim, ["scontrol", "show", "job", str(job)], work)
    assert res.stdout.startswith(f"JobId={job} JobName=wrap\n   UserId=")
    assert "   JobState=PENDING Reason=JobHeldUser Dependency=(null)\n" in res.stdout
    assert res.stdout.endswith(f"   StdOut={work}/slurm-{job}.out\n   Power=\n   \n\n")
    res = run(sim, ["scontrol", "-o", "show", "job", str(job)], work)
    assert res.stdout.count("\n") == 1
    res = run(sim, ["scontrol", "show", "job", "999999"], work)
    assert (res.returncode, res.stderr) == (1, "slurm_load_jobs error: Invalid job id specified\n")
    assert run(sim, ["scontrol", "release", str(job)], work).returncode == 0
    assert sim.wait_job(job, DEADLINE_S).state == "COMPLETED"
    res = run(sim, ["scontrol", "show", "partition"], work)
    assert res.stdout.startswith("PartitionName=normal\n")
    res = run(sim, ["sinfo"], work)
    assert res.stdout.splitlines()[0] == "PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST"
    assert re.match(r"normal\*      up   infinite      \d  \s*\w+ c", res.stdout.splitlines()[1])


def test_requeue_inside_job_and_srun(sim, work) -> None:
    path = script(work / "step.sh", "#!/bin/sh\n"
                  "srun --unbuffered --output step-%j.out --error step-%j.err "
                  "sh -c 'echo out $SLURM_STEP_ID $SLURM_PROCID; echo err >&2; exit 4'\n"
                  "echo after $?\n")
    job = submit(sim, [str(path)], work)
    rec = sim.wait_job(job, DEADLINE_S)
    assert rec.state == "COMPLETED"
    assert (work / f"step-{job}.out").read_text() == "out 0 0\n"
    assert (work / f"step-{job}.err").read_text() == "err\n"
    log = (work / f"slurm-{job}.out").read_text()
    assert log == "srun: error: c1: task 0: Exited with exit code 4\nafter 4\n" or \
        log == "srun: error: c2: task 0: Exited with exit code 4\nafter 4\n"
    res = run(sim, ["srun", "true"], work, env={"SLURM_JOB_ID": ""})
    assert res.returncode == 1
    assert res.stderr == ("srun: error: Unable to allocate resources: "
                          "Requested operation is presently disabled\n")


def test_sbatch_wait_returns_exit_code(sim, work) -> None:
    start = time.monotonic()
    res = run(sim, ["sbatch", "--wait", "--wrap", "exit 5"], work)
    assert res.returncode == 5 and res.stdout.startswith("Submitted batch job ")
    assert time.monotonic() - start < DEADLINE_S
