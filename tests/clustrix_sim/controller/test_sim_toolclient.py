"""The compiled tool client and the tool server's children forked ahead of requests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from clustrix_sim import SimCluster
from clustrix_sim.controller import toolclient, toolserver, toolworker
from clustrix_sim.engine.processes import pid_alive

needs_cc = pytest.mark.skipif(not (os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")),
                              reason="no C compiler (cc, gcc or $CC): the tools stay Python scripts")


@pytest.fixture(scope="module")
def sim():
    with SimCluster(nodes=1, cores_per_node=2, ssh=False) as cluster:
        yield cluster


def is_elf(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"\x7fELF"


def run(path: str, args: list[str], sim: SimCluster, cwd, stdin: str | None = None) -> tuple[int, str, str]:
    env = {**os.environ, **sim.env()}
    proc = subprocess.run([path, *args], env=env, cwd=str(cwd), input=stdin, capture_output=True, text=True,
                          timeout=60, check=False)
    return proc.returncode, proc.stdout, proc.stderr


@needs_cc
def test_compiled_client_and_python_script_answer_alike(sim, tmp_path):
    scripts = os.path.join(sim.state_dir, "tools-py")
    assert is_elf(os.path.join(sim.bin_dir, "sbatch")) and not is_elf(os.path.join(scripts, "sbatch"))
    assert not is_elf(os.path.join(sim.bin_dir, "srun"))  # srun never uses the tool server
    rc, out, err = run(os.path.join(sim.bin_dir, "sbatch"), ["--hold", "--parsable"], sim, tmp_path,
                       stdin="#!/bin/sh\ntrue\n")
    assert rc == 0, err
    job = out.strip()
    for tool, args in [("squeue", ["-j", job, "-o", "%i %t %r"]), ("sacct", ["-j", job, "-X", "-P", "-o", "JobID,State"]),
                       ("sinfo", []), ("sbatch", ["--no-such-option"]), ("scontrol", ["show", "job", "999999"]),
                       ("scancel", ["--bogus"])]:
        compiled = run(os.path.join(sim.bin_dir, tool), args, sim, tmp_path)
        script = run(os.path.join(scripts, tool), args, sim, tmp_path)
        assert compiled == script, (tool, args)
    assert run(os.path.join(sim.bin_dir, "squeue"), ["-j", job, "-h", "-o", "%t"], sim, tmp_path)[1] == "PD\n"


@needs_cc
def test_compiled_client_passes_cwd_environment_and_stdin(sim, tmp_path):
    env = {**os.environ, **sim.env(), "CLUSTRIX_T_VALUE": "x y $z"}
    script = "#!/bin/sh\n#SBATCH --job-name=envcheck\necho \"$CLUSTRIX_T_VALUE\" > out.txt\n"
    proc = subprocess.run([os.path.join(sim.bin_dir, "sbatch"), "--parsable"], input=script, env=env,
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rec = sim.wait_job(int(proc.stdout), 30)
    assert rec.state == "COMPLETED" and rec.request.work_dir == str(tmp_path)
    assert rec.request.name == "envcheck"
    assert (tmp_path / "out.txt").read_text() == "x y $z\n"


def test_a_tool_sees_the_callers_environment_not_the_servers(tmp_path, monkeypatch):
    # The tool server inherits the controller's environment; a worker adopts the caller's exactly,
    # so a variable only the server has is gone and one the caller changed has the caller's value.
    monkeypatch.setenv("CLUSTRIX_T_SERVER_ONLY", "server")
    monkeypatch.setenv("CLUSTRIX_T_BOTH", "server")
    with SimCluster(nodes=1, ssh=False) as cluster:
        env = {key: value for key, value in os.environ.items() if key != "CLUSTRIX_T_SERVER_ONLY"}
        env.update(cluster.env(), CLUSTRIX_T_BOTH="caller", CLUSTRIX_T_NEW="new")
        script = ('#!/bin/sh\necho "only=${CLUSTRIX_T_SERVER_ONLY-unset} both=$CLUSTRIX_T_BOTH '
                  'new=$CLUSTRIX_T_NEW" > out.txt\n')
        proc = subprocess.run([os.path.join(cluster.bin_dir, "sbatch"), "--parsable"], input=script, env=env,
                              cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert cluster.wait_job(int(proc.stdout), 30).state == "COMPLETED"
    assert (tmp_path / "out.txt").read_text() == "only=unset both=caller new=new\n"


@needs_cc
def test_compiled_client_falls_back_to_the_script_without_a_tool_server(tmp_path):
    with SimCluster(nodes=1, ssh=False) as cluster:
        server = cluster.ready_info["toolserver_pid"]
        os.kill(server, signal.SIGKILL)
        wait_gone([server])
        rc, out, err = run(os.path.join(cluster.bin_dir, "sbatch"), ["--parsable", "--wrap", "true"], cluster, tmp_path)
        assert rc == 0, err
        assert cluster.wait_job(int(out), 30).state == "COMPLETED"
        assert run(os.path.join(cluster.bin_dir, "sbatch"), ["--bogus"], cluster, tmp_path)[0] == 255


def test_python_tool_scripts_when_asked(monkeypatch, tmp_path):
    monkeypatch.setenv(toolclient.CHOICE_ENV, "python")
    with SimCluster(nodes=1, ssh=False) as cluster:
        assert not is_elf(os.path.join(cluster.bin_dir, "sbatch"))
        assert not os.path.exists(os.path.join(cluster.state_dir, "tools-py"))
        rc, out, err = run(os.path.join(cluster.bin_dir, "sbatch"), ["--parsable", "--wrap", "true"], cluster, tmp_path)
        assert rc == 0, err


def test_a_bad_tool_client_choice_is_refused(monkeypatch):
    monkeypatch.setenv(toolclient.CHOICE_ENV, "rust")
    with pytest.raises(ValueError, match="CLUSTRIX_SIM_TOOL_CLIENT='rust'"):
        toolclient.wanted()


def test_concurrent_tools_all_get_served(sim, tmp_path):
    env = {**os.environ, **sim.env()}
    procs = [subprocess.Popen([os.path.join(sim.bin_dir, "sinfo")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(8)]
    results = [(p.wait(60), p.stdout.read(), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert {rc for rc, _, _ in results} == {0}
    assert len({out for _, out, _ in results}) == 1 and results[0][1].startswith("PARTITION")


def wait_gone(pids: list[int], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while any(pid_alive(p) for p in pids):
        assert time.monotonic() < deadline, f"processes {[p for p in pids if pid_alive(p)]} still alive"
        time.sleep(0.05)


def test_request_encoding_round_trips():
    data = toolserver.encode_request("slurm", "sbatch", ["--wrap", "echo a=b", ""], "/work dir/x y", 0o027,
                                     {b"A": b"1", b"EMPTY": b"", b"EQ": b"x=y"})
    size = int.from_bytes(data[:4], "big")
    assert size == len(data) - 4
    assert toolserver.MAGIC == toolworker.MAGIC == toolclient.MAGIC.encode()  # one wire, four speakers
    with open(toolclient.SOURCE) as fh:
        assert f'#define MAGIC "{toolclient.MAGIC}"' in fh.read()
    assert toolworker.decode_request(data[4:]) == ("slurm", "sbatch", ["--wrap", "echo a=b", ""], "/work dir/x y",
                                                   {b"A": b"1", b"EMPTY": b"", b"EQ": b"x=y"}, 0o027)
    with pytest.raises(ValueError, match="counts"):
        toolworker.decode_request(data[4:] + b"\0extra")
    with pytest.raises(ValueError, match="not a clustrix-sim tool request"):
        toolworker.decode_request(b"junk\0slurm")
