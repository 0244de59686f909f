"""The pytest plugin, exercised the way users meet it: real pytest runs in subprocesses."""

from __future__ import annotations

import os
import textwrap

import pytest

ROUTED_MODULE = """
import os
from clustrix import cluster

@cluster(cores=1, memory="256M", time="00:05:00")
def where():
    return {"pid": os.getpid(), "slurm_job": os.environ.get("SLURM_JOB_ID")}
"""

ROUTED_TEST = """
import os
import routed

def test_where(clustrix_backend):
    info = routed.where()
    print("BACKEND", clustrix_backend, "PID_SAME", info["pid"] == os.getpid(), "SLURM", info["slurm_job"])
"""


def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("CLUSTRIX_BACKEND", raising=False)
    monkeypatch.delenv("CLUSTRIX_PROFILE", raising=False)
    monkeypatch.setenv("CLUSTRIX_CONFIG", "")
    monkeypatch.delenv("CLUSTRIX_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("CLUSTRIX_LEDGER", str(tmp_path / "ledger.sqlite3"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path):
    _clean_env(monkeypatch, tmp_path)
    pytester.makepyfile(routed=ROUTED_MODULE, test_routed=ROUTED_TEST)
    return pytester


def test_header_shows_default_backend_and_origin(project):
    result = project.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["clustrix: backend local (from default)", "*BACKEND local PID_SAME False SLURM None*"])


def test_precedence_command_line_over_env_over_ini(project, monkeypatch):
    project.makeini("[pytest]\nclustrix_backend = debug\n")
    result = project.runpytest_subprocess("-s")
    result.stdout.fnmatch_lines(["clustrix: backend debug (from ini clustrix_backend)", "*BACKEND debug PID_SAME True*"])
    monkeypatch.setenv("CLUSTRIX_BACKEND", "local")
    result = project.runpytest_subprocess("-s")
    result.stdout.fnmatch_lines(["clustrix: backend local (from $CLUSTRIX_BACKEND)", "*BACKEND local PID_SAME False*"])
    result = project.runpytest_subprocess("-s", "--clustrix-backend=debug")
    result.stdout.fnmatch_lines(["clustrix: backend debug (from command line)", "*BACKEND debug PID_SAME True*"])


def test_bad_backend_is_a_usage_error_naming_value_and_valid_ones(project):
    result = project.runpytest_subprocess("--clustrix-backend=slurm-simm")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid clustrix backend 'slurm-simm' (from command line)*valid values: local, debug, slurm-sim*"])


def test_default_local_overrides_a_configured_remote_profile(project, tmp_path, monkeypatch):
    # The user's config points at a cluster that does not exist; tests must still run locally.
    config = tmp_path / "clustrix.yaml"
    config.write_text("profiles:\n  hpc:\n    backend: slurm\n    host: nonexistent.invalid\ndefault_profile: hpc\n")
    monkeypatch.setenv("CLUSTRIX_CONFIG", str(config))
    result = project.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*BACKEND local PID_SAME False SLURM None*"])


def test_profile_backend_uses_the_named_profile(project, tmp_path, monkeypatch):
    config = tmp_path / "clustrix.yaml"
    config.write_text("profiles:\n  inproc:\n    backend: debug\n")
    monkeypatch.setenv("CLUSTRIX_CONFIG", str(config))
    result = project.runpytest_subprocess("-s", "--clustrix-backend=profile:inproc")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["clustrix: backend profile:inproc (from command line)", "*PID_SAME True*"])


def test_markers_select_backends_and_override_resources(project):
    project.makepyfile(test_markers=textwrap.dedent("""
        import pytest
        from clustrix.config import resolve_profile

        @pytest.mark.clustrix(backends=["slurm-sim"])
        def test_only_on_sim():
            raise AssertionError("must not run on local")

        @pytest.mark.clustrix(backends=["local", "debug"])
        def test_on_local():
            pass

        @pytest.mark.clustrix_resources(cores=3, memory="3G")
        def test_resources():
            profile = resolve_profile()
            assert (profile.resources.cores, profile.resources.mem_mb) == (3, 3072)

        @pytest.mark.clustrix_resources(memroy="3G")
        def test_bad_resource_name():
            pass
    """))
    result = project.runpytest_subprocess("-rs", "test_markers.py")
    result.assert_outcomes(passed=2, skipped=1, failed=1)
    result.stdout.fnmatch_lines([
        "*clustrix_resources*memroy*",
        "*runs only on clustrix backends *slurm-sim*; this session uses 'local'*",
    ])


def test_sim_fixture_skips_clearly_off_simulator(project):
    project.makepyfile(test_fixture="def test_sim(sim_cluster):\n    pass\n")
    result = project.runpytest_subprocess("-rs", "test_fixture.py")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs a simulated cluster; this session's clustrix backend is 'local'*"])


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read().decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(pid))
    return found


def test_slurm_sim_routes_calls_and_leaves_no_process_behind(project, tmp_path, monkeypatch):
    sim_tmp = tmp_path / "simtmp"
    sim_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(sim_tmp))
    project.makepyfile(test_simfix=textwrap.dedent("""
        import routed

        def test_jobs_visible(sim_cluster, clustrix_executor, clustrix_profile):
            assert clustrix_profile.backend == "slurm"
            job_id = clustrix_executor.submit(routed.where.local).result(timeout=120)["slurm_job"]
            assert sim_cluster.wait_job(int(job_id), timeout_s=60).state == "COMPLETED"
    """))
    result = project.runpytest_subprocess("-s", "--clustrix-backend=slurm-sim", timeout=300)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["clustrix: backend slurm-sim (from command line)", "*BACKEND slurm-sim PID_SAME False SLURM [0-9]*"])
    assert _processes_mentioning(str(sim_tmp)) == []


def test_failing_test_report_carries_simulator_log_and_keep_sim(project, tmp_path):
    project.makepyfile(test_fail="def test_fail(sim_cluster):\n    assert sim_cluster.jobs() == ['nope']\n")
    result = project.runpytest_subprocess("test_fail.py", "--clustrix-backend=slurm-sim", "--clustrix-keep-sim", timeout=300)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*clustrix simulator log*", "clustrix: simulator state and logs kept in *"])
    kept = [line.split(" kept in ", 1)[1].strip() for line in result.outlines if " kept in " in line][0]
    assert os.path.isdir(kept)
    import shutil
    shutil.rmtree(kept)


def test_xdist_workers_each_get_a_simulator(project):
    project.makepyfile(test_par=textwrap.dedent("""
        import pytest, routed

        @pytest.mark.parametrize("i", range(4))
        def test_call(i, clustrix_backend):
            assert routed.where()["slurm_job"]
    """))
    result = project.runpytest_subprocess("-n", "2", "test_par.py", "--clustrix-backend=slurm-sim", timeout=300)
    result.assert_outcomes(passed=4)
