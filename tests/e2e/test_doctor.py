"""``clustrix doctor PROFILE`` in a fresh process, against slurm-sim over real SSH."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

DEADLINE_S = 120
CLI = [os.path.join(os.path.dirname(sys.executable), "clustrix")]


@pytest.fixture
def config(slurm, tmp_path):
    empty_known_hosts = tmp_path / "known_hosts_empty"
    empty_known_hosts.write_text("")
    good = slurm.profile(remote_dir=str(tmp_path / "jobs"))
    profiles = {
        "good": good,
        "nopython": {**good, "python": "/nonexistent/bin/python3"},
        "nocloudpickle": {**good, "python": "/usr/bin/python3"},
        "strangehost": {**good, "known_hosts": str(empty_known_hosts)},
        "readonlydir": {**good, "remote_dir": "/proc/clustrix-jobs"},
    }
    path = tmp_path / "clustrix.yaml"
    path.write_text(yaml.safe_dump({"profiles": profiles}))
    return path


def doctor(config, name: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLUSTRIX_CONFIG": str(config), "NO_COLOR": "1"}
    return subprocess.run([*CLI, "doctor", name], capture_output=True, text=True, timeout=DEADLINE_S, env=env)


def rows(out: str) -> dict[str, tuple[str, str]]:
    """``{check: (status, detail)}`` from the table (status: 5 columns, check: 16, then the detail)."""
    return {line[6:22].strip(): (line[:5].strip(), line[23:]) for line in out.splitlines()
            if line[:5].strip() in ("OK", "WARN", "FAIL", "SKIP")}


def test_a_good_profile_passes_every_check(config):
    done = doctor(config, "good")
    assert done.returncode == 0, done.stdout + done.stderr
    got = rows(done.stdout)
    assert {k: v[0] for k, v in got.items()} == {
        "profile": "OK", "ssh": "OK", "host key": "OK", "remote dir": "OK", "scheduler tools": "OK",
        "scheduler": "OK", "python": "OK", "clustrix": "OK", "cloudpickle": "OK"}
    assert "sbatch, sacct, scancel found" in got["scheduler tools"][1]
    assert "profile 'good' is ready" in done.stdout


def test_a_python_that_does_not_exist_fails_with_its_name(config):
    done = doctor(config, "nopython")
    assert done.returncode == 1
    status, detail = rows(done.stdout)["python"]
    assert status == "FAIL" and "cannot run the profile's python (/nonexistent/bin/python3 on " in detail
    assert rows(done.stdout)["scheduler"][0] == "OK"  # the other checks still ran
    assert "1 check(s) failed: python" in done.stderr


def test_a_python_without_cloudpickle_fails_on_that_row(config):
    done = doctor(config, "nocloudpickle")
    got = rows(done.stdout)
    if got["cloudpickle"][0] == "OK":
        pytest.skip("/usr/bin/python3 has cloudpickle here; this test needs a Python without it")
    assert done.returncode == 1
    assert got["cloudpickle"][0] == "FAIL" and "not importable by /usr/bin/python3" in got["cloudpickle"][1]


def test_an_unknown_host_key_fails_before_logging_in(config):
    done = doctor(config, "strangehost")
    assert done.returncode == 1
    got = rows(done.stdout)
    assert got["host key"][0] == "FAIL" and got["ssh"][0] == "FAIL"
    assert got["python"][0] == "SKIP"


def test_a_remote_dir_that_cannot_be_written_fails(config):
    done = doctor(config, "readonlydir")
    assert done.returncode == 1
    status, detail = rows(done.stdout)["remote dir"]
    assert status == "FAIL" and "/proc/clustrix-jobs is not writable" in detail
