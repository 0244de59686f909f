"""The batch script's exit-code sentinel, run for real in bash with a stand-in interpreter.

A runner that wrote its result records exit 0 in the sentinel itself (clustrix.payload.runner),
so the script starts no ``mv`` then; every other ending (a failed or killed runner, an older
runner that writes no sentinel) is still recorded by the script. The real runner's half is
checked in tests/clustrix/payload/test_runner.py; here, the script's half and that both name the
file ``JobPaths.sentinel`` names.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import clustrix
from clustrix.payload.codec import dump_array, write_key_file
from clustrix.schedulers.script import render_body
from clustrix.spec import ArraySpec, JobPaths, JobSpec

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")

# A stand-in for ``python -m clustrix.runner``: exits with $STUB_RC, and first writes the
# sentinel as the real runner does on success when $STUB_WRITES is set. It logs each mv the
# script starts through a PATH shim.
STUB = """#!/bin/sh
if [ -n "$STUB_WRITES" ]; then printf '0\\n' > "$STUB_WRITES"; fi
if [ "$STUB_RC" = kill ]; then kill -9 $$; fi
exit "$STUB_RC"
"""
MV_SHIM = """#!/bin/sh
echo mv >> "$MV_LOG"
exec /bin/mv "$@"
"""


def _run(tmp_path, rc, *, stub_writes, task=None, offset=0):
    job_dir = tmp_path / "job"
    job_dir.mkdir(exist_ok=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("python-stub", STUB), ("mv", MV_SHIM)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    paths = JobPaths(job_dir=str(job_dir), key_file=str(tmp_path / "key"))
    spec = JobSpec(name="j", python=str(bin_dir / "python-stub"), array=ArraySpec(4) if task is not None else None)
    body = render_body(spec, paths, task_var="TASK_ID" if task is not None else None, task_offset=offset)
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/bash\n" + body)
    clustrix_task = None if task is None else task - offset
    sentinel = paths.sentinel(clustrix_task)
    # The script's mv is looked up on PATH, so the shim counts them.
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STUB_RC": str(rc), "MV_LOG": str(tmp_path / "mv.log"),
           "STUB_WRITES": sentinel if stub_writes else ""}
    if task is not None:
        env["TASK_ID"] = str(task)
    proc = subprocess.run([BASH, str(script)], env=env, capture_output=True, text=True, timeout=60)
    mvs = (tmp_path / "mv.log").read_text().count("mv") if (tmp_path / "mv.log").exists() else 0
    return proc, sentinel, mvs


@pytest.mark.parametrize("task,offset", [(None, 0), (2, 0), (3, 1)])
def test_a_runner_that_recorded_its_success_costs_no_mv(tmp_path, task, offset):
    proc, sentinel, mvs = _run(tmp_path, 0, stub_writes=True, task=task, offset=offset)
    assert proc.returncode == 0, proc.stderr
    assert open(sentinel).read() == "0\n" and mvs == 0


@pytest.mark.parametrize("rc,stub_writes,expected", [
    (0, False, "0\n"),    # an older runner: the script records the success
    (3, False, "3\n"),    # the runner failed (bad payload)
    (5, True, "5\n"),     # a stale "0" is overwritten by the real failure
    ("kill", False, "137\n"),  # the runner was killed
])
def test_every_other_ending_is_recorded_by_the_script(tmp_path, rc, stub_writes, expected):
    proc, sentinel, mvs = _run(tmp_path, rc, stub_writes=stub_writes, task=1)
    assert open(sentinel).read() == expected and mvs == 1
    assert proc.returncode == int(expected)
    assert not os.path.exists(sentinel + ".tmp")


def test_the_real_runner_writes_the_sentinel_the_script_reads(tmp_path):
    """Same file name on both sides: JobPaths.sentinel(task)."""
    job_dir = tmp_path / "job"
    job_dir.mkdir(mode=0o700)
    key_file = str(tmp_path / "keys" / "hmac.key")
    key = write_key_file(key_file)
    (job_dir / "call.pkl").write_bytes(dump_array(abs, [[((-1,), {})], [((-2,), {})]], key, sys_path=[]))
    root = os.path.dirname(os.path.dirname(os.path.abspath(clustrix.__file__)))
    env = {**os.environ, "PYTHONPATH": root}
    proc = subprocess.run([sys.executable, "-m", "clustrix.runner", str(job_dir), "--task", "1", "--key-file", key_file],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    paths = JobPaths(job_dir=str(job_dir), key_file=key_file)
    assert open(paths.sentinel(1)).read() == "0\n" and not os.path.exists(paths.sentinel(0))
    assert os.path.exists(paths.result(1))
