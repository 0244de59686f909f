"""The Torque batch script: Torque's dialect of directives, read back by qsub's tokenizer in its
Torque variant (quote characters stay in the word), golden output, and a real bash run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from test_pbs_script import HOSTILE, PATHS, full_spec, options, qsub_directives

from clustrix.errors import ResourceError
from clustrix.schedulers import torque
from clustrix.schedulers.script import RUNNER_LAUNCH
from clustrix.spec import ArraySpec, JobPaths, Resources

DATA = Path(__file__).resolve().parents[2] / "data" / "torque"
BASH = shutil.which("bash")


def test_golden_script_sets_every_field():
    assert torque.render_script(full_spec(), PATHS) == (DATA / "golden_all_fields.sh").read_text()


def test_directives_in_torque_dialect_read_back_verbatim():
    opts = options(torque.render_script(full_spec(), PATHS), keep_quotes=True)
    assert opts["-l"] == ["nodes=2:ppn=4:gpus=2", "mem=16384mb", "walltime=25:01:01",
                          "scratch=10gb"]  # mem is the job total: 8192 MB per node x 2
    assert opts["-t"] == ["0-4%2"]
    assert opts["-q"] == ["gpu queue"]
    assert opts["-A"] == [HOSTILE]
    assert opts["-o"] == [PATHS.stdout()]  # Torque appends -<index> per subjob
    assert opts["-e"] == [PATHS.stderr()]
    assert opts["-N"] == ["my_job___x___y_"]
    assert "-J" not in opts and "-r" not in opts


def test_single_job_and_one_task_array():
    plain = options(torque.render_script(full_spec(array=None, resources=Resources()), PATHS),
                    keep_quotes=True)
    assert plain["-l"] == ["nodes=1:ppn=1"] and "-t" not in plain
    assert plain["-o"] == [PATHS.stdout()]
    script = torque.render_script(full_spec(array=ArraySpec(1)), PATHS)
    one = options(script, keep_quotes=True)
    assert "-t" not in one
    assert (one["-o"][0], one["-e"][0]) == torque.log_paths(PATHS, 0)
    assert "PBS_ARRAYID=0" in script.splitlines()
    assert qsub_directives(script, keep_quotes=True)[-1] == ["-m", "n"]


def test_log_paths_follow_torque_subjob_naming():
    assert torque.log_paths(PATHS) == (PATHS.stdout(), PATHS.stderr())
    assert torque.log_paths(PATHS, 3) == (PATHS.stdout() + "-3", PATHS.stderr() + "-3")


def test_job_dir_with_colon_is_refused():
    with pytest.raises(ResourceError, match="host:path"):
        torque.render_script(full_spec(), JobPaths("/x:y", "/k"))


@pytest.mark.skipif(BASH is None, reason="bash is required to run generated scripts")
@pytest.mark.parametrize(("array", "env", "task", "sentinel"), [
    (ArraySpec(5, 2), {"PBS_ARRAYID": "2"}, "2", "exit_code.2"),
    (ArraySpec(1), {}, "0", "exit_code.0"),
    (None, {"PBS_ARRAYID": "4"}, "", "exit_code"),  # not an array: the variable is ignored
])
def test_script_runs_the_runner_for_the_right_task(tmp_path, array, env, task, sentinel):
    job_dir = tmp_path / "job dir 'q' $x"
    job_dir.mkdir()
    stub = tmp_path / "py stub"
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$STUB_OUT"\nexit 3\n')
    stub.chmod(0o755)
    paths = JobPaths(str(job_dir), str(tmp_path / "key"))
    script = job_dir / "job.sh"
    script.write_text(torque.render_script(full_spec(array=array, python=str(stub)), paths))
    subprocess.run([BASH, "-n", str(script)], check=True, timeout=30)
    run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "STUB_OUT": str(tmp_path / "out"), **env}
    proc = subprocess.run([BASH, str(script)], env=run_env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert (tmp_path / "out").read_text().splitlines() == [
        "-c", RUNNER_LAUNCH, str(job_dir), "--task", task, "--key-file", str(tmp_path / "key")]
    assert (job_dir / sentinel).read_text() == "3\n"
