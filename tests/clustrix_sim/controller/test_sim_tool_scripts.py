"""End to end through the real shims: local mode, the tool server, SSH, and faults as tools see them."""

from __future__ import annotations

import operator  # jobs unpickle functions by reference: use an importable one
import os
import re

import paramiko
import pytest

from clustrix_sim import SimCluster
from clustrix_sim.engine.processes import pid_alive


@pytest.fixture(scope="module")
def sim():
    with SimCluster(nodes=2, cores_per_node=2, mem_per_node="4G") as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def clean(sim):
    yield
    sim.faults.clear()
    sim.faults.enable_accounting()


def sbatch(sim: SimCluster, *args: str, cwd) -> int:
    out = sim.run(["sbatch", *args], cwd=str(cwd))
    assert out.returncode == 0, out.stderr
    match = re.fullmatch(r"Submitted batch job (\d+)\n", out.stdout)
    assert match, out.stdout
    return int(match.group(1))


def test_sbatch_squeue_sacct_round_trip(sim, tmp_path):
    job = sbatch(sim, "--job-name=hello", "--wrap", "sleep 0.3; echo hi from $SLURM_JOB_ID", cwd=tmp_path)
    queue = sim.run(["squeue", "--noheader", "-o", "%i %j %t", "-j", str(job)])
    assert queue.returncode == 0
    assert queue.stdout in (f"{job} hello R\n", f"{job} hello PD\n", "")  # it may already be done
    sim.wait_job(job, 20)
    acct = sim.run(["sacct", "-X", "--parsable2", "--noheader", "-o", "JobID,JobName,State,ExitCode", "-j", str(job)])
    assert acct.stdout == f"{job}|hello|COMPLETED|0:0\n"
    assert (tmp_path / f"slurm-{job}.out").read_text() == f"hi from {job}\n"


def test_scancel_through_the_tool_kills_the_job(sim, tmp_path):
    job = sbatch(sim, "--wrap", f"echo $$ > {tmp_path}/pid; sleep 60", cwd=tmp_path)
    sim.wait_for(lambda: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text().endswith("\n"), 20, "pid")
    pid = int((tmp_path / "pid").read_text())
    assert sim.run(["scancel", str(job)]).returncode == 0
    rec = sim.wait_job(job, 20)
    assert rec.state == "CANCELLED" and rec.cancelled_by_uid == os.getuid()
    sim.wait_for(lambda: not pid_alive(pid), 10, "the job process to die")


def test_tool_server_and_in_process_fallback_agree(sim):
    fast = sim.run(["sinfo"])
    tools_sock = os.path.join(sim.state_dir, "tools.sock")
    assert os.path.exists(tools_sock)
    env = {"PATH": sim.env()["PATH"], "CLUSTRIX_SIM_SOCKET": sim.socket_path}
    # a shim pointed at a socket dir without a tool server runs the tool in-process
    link_dir = os.path.join(sim.root, "alt")
    os.makedirs(link_dir, exist_ok=True)
    alt_sock = os.path.join(link_dir, "ctl.sock")
    if not os.path.exists(alt_sock):
        os.symlink(sim.socket_path, alt_sock)
    slow = sim.run(["sinfo"], env={**env, "CLUSTRIX_SIM_SOCKET": alt_sock})
    assert fast.returncode == slow.returncode == 0
    assert fast.stdout == slow.stdout and "normal*" in fast.stdout


def test_stdin_exit_code_and_cwd_pass_through_the_tool_server(sim, tmp_path):
    script = "#!/bin/bash\n#SBATCH --job-name=fromstdin\necho stdin-job\n"
    out = sim.run(["sbatch", "--parsable"], input=script, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    job = int(out.stdout.strip())
    rec = sim.wait_job(job, 20)
    assert rec.request.name == "fromstdin" and rec.request.work_dir == str(tmp_path)
    bad = sim.run(["sbatch", "--partition=nope", "--wrap", "true"], cwd=str(tmp_path))
    assert bad.returncode == 1
    assert bad.stderr == ("sbatch: error: invalid partition specified: nope\n"
                          "sbatch: error: Batch job submission failed: Invalid partition name specified\n")


def test_faults_as_the_tools_show_them(sim, tmp_path):
    sim.faults.fail_submissions(n=1)
    out = sim.run(["sbatch", "--wrap", "true"], cwd=str(tmp_path))
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr == "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n"
    sim.faults.fail_status(n=1, tools=("squeue",))
    out = sim.run(["squeue"])
    assert (out.returncode, out.stderr) == (1, "slurm_load_jobs error: Socket timed out on send/recv operation\n")
    assert sim.run(["squeue"]).returncode == 0
    sim.faults.disable_accounting()
    out = sim.run(["sacct", "-X"])
    assert out.returncode == 1 and "Slurm accounting storage is disabled" in out.stderr


def test_sbatch_over_ssh(sim, tmp_path):
    info = sim.ssh
    client = paramiko.SSHClient()
    client.load_host_keys(info.known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(info.host, info.port, username=info.user, key_filename=info.key_file,
                   look_for_keys=False, allow_agent=False, timeout=10)
    try:
        _, out, err = client.exec_command(f"cd {tmp_path} && sbatch --wrap 'echo over ssh'", timeout=30)
        assert out.channel.recv_exit_status() == 0, err.read()
        job = int(out.read().decode().split()[-1])
        sim.wait_job(job, 20)
        _, out, _ = client.exec_command(f"sacct -X -n -P -o State -j {job}", timeout=30)
        assert out.read().decode() == "COMPLETED\n"
    finally:
        client.close()
    assert (tmp_path / f"slurm-{job}.out").read_text() == "over ssh\n"


def test_srun_inside_a_job_stays_in_the_job_session(sim, tmp_path):
    job = sbatch(sim, "--wrap", f"srun sh -c 'echo $$ > {tmp_path}/srun_pid; sleep 60'", cwd=tmp_path)
    pid_file = tmp_path / "srun_pid"
    sim.wait_for(lambda: pid_file.exists() and pid_file.read_text().endswith("\n"), 20, "srun to start")
    pid = int(pid_file.read_text())
    leader = sim.job(job).pid
    assert leader is not None
    with open(f"/proc/{pid}/stat") as fh:
        session = int(fh.read().rsplit(")", 1)[1].split()[3])
    assert session == leader  # so cancel, memory limits and timeouts reach it
    sim.run(["scancel", str(job)])
    sim.wait_job(job, 20)
    sim.wait_for(lambda: not pid_alive(pid), 10, "srun's command to die")


def test_consecutive_submissions_get_consecutive_ids(sim, tmp_path):
    ids = [sbatch(sim, "--wrap", "true", cwd=tmp_path) for _ in range(10)]
    assert ids == list(range(ids[0], ids[0] + 10))


class _Resumable:
    """A submitit Checkpointable that blocks on its first run and finishes after a requeue."""

    def __new__(cls, *args, **kwargs):
        import submitit

        class Impl(submitit.helpers.Checkpointable):
            def __call__(self, marker, count=0):
                import os
                import time

                if os.path.exists(marker):
                    return ("resumed", count)
                with open(marker, "w") as fh:
                    fh.write("x")
                time.sleep(60)

            def checkpoint(self, marker, count=0):
                return submitit.helpers.DelayedSubmission(self, marker, count + 1)

        return Impl()


def _result(sim: SimCluster, job, timeout_s: float = 60.0):
    """submitit's Job.result() has no timeout: wait with a deadline first."""
    sim.wait_for(lambda: job.done(force_check=True), timeout_s, f"submitit job {job.job_id}", interval_s=0.1)
    return job.result()


def test_submitit_runs_unchanged(sim, monkeypatch):
    submitit = pytest.importorskip("submitit")
    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)
    executor = submitit.AutoExecutor(folder=os.path.join(sim.root, "submitit"), cluster="slurm")
    executor.update_parameters(timeout_min=5, mem_gb=1)
    assert _result(sim, executor.submit(operator.add, 2, 3)) == 5
    jobs = executor.map_array(operator.add, [1, 2, 3], [10, 20, 30])
    assert [_result(sim, j) for j in jobs] == [11, 22, 33]


def test_submitit_preemption_checkpoints_and_requeues(sim, monkeypatch, tmp_path):
    submitit = pytest.importorskip("submitit")
    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)
    executor = submitit.AutoExecutor(folder=str(tmp_path / "submitit"), cluster="slurm")
    executor.update_parameters(timeout_min=5)
    marker = tmp_path / "marker"
    job = executor.submit(_Resumable(), str(marker))
    sim.wait_for(marker.exists, 30, "the first run to start")
    job._interrupt()  # submitit's own preemption helper: scancel --signal USR2
    assert _result(sim, job) == ("resumed", 1)
    assert sim.job(int(job.job_id)).restart_count == 1
