"""The job side's start-up cost: what ``python -m clustrix.runner`` imports on its success path.

Every job (and every call of the local backend) starts a fresh interpreter, so each module the
runner imports is paid once per job. These tests run the runner as a real subprocess under
``python -X importtime`` and check the list of modules it loaded, not how long it took (the
machine is shared and timings are noisy): heavy modules must not appear unless the interpreter
itself already loads them here (a ``sitecustomize`` or ``.pth`` file may), and the job must still
produce the right result.
"""

from __future__ import annotations

import operator
import os
import subprocess
import sys

import pytest

import clustrix
from clustrix.payload.codec import Call, dump_array, dump_call, load_result, write_key_file
from clustrix.payload.runner import EXIT_OK
from clustrix.schedulers.script import RUNNER_LAUNCH

DEADLINE_S = 60
CLUSTRIX_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(clustrix.__file__)))

# Modules the runner's success path must not import (each costs milliseconds, some tens).
HEAVY = {
    "inspect", "dataclasses", "typing", "traceback", "linecache", "tokenize", "threading", "logging",
    "re", "ast", "dis", "socket", "platform", "secrets", "random", "concurrent.futures", "argparse",
    "cloudpickle", "paramiko", "yaml", "sqlite3",
    "clustrix.config", "clustrix.errors", "clustrix.spec", "clustrix.states", "clustrix.config.profile",
    "clustrix.payload.keys", "clustrix.api.executor", "clustrix.futures", "clustrix.backends.ledger",
}


def imported_modules(stderr: str) -> set[str]:
    """Module names from ``-X importtime`` lines: ``import time: self | cumulative | name``."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


def importtime(*argv: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH is only the clustrix under test, as in a batch job where it is installed: not
    # the caller's PYTHONPATH, and not whatever clustrix the interpreter has installed (in a
    # checkout other than the installed one that would test another tree's runner). No in-job
    # flag either (a test checks that JobEntry sets it).
    drop = ("PYTHONPATH", "PYTHONPROFILEIMPORTTIME", "CLUSTRIX_IN_JOB")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = CLUSTRIX_ROOT
    return subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True,
                          timeout=DEADLINE_S, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def baseline() -> set[str]:
    """What this interpreter imports before running any code (site, sitecustomize, .pth files)."""
    proc = importtime("-c", "pass")
    assert proc.returncode == 0, proc.stderr
    names = imported_modules(proc.stderr)
    assert "encodings" in names  # the parser read the -X importtime output
    return names


@pytest.fixture
def job(tmp_path):
    job_dir = tmp_path / "job"
    job_dir.mkdir(mode=0o700)
    key_file = str(tmp_path / "keys" / "hmac.key")
    return job_dir, key_file, write_key_file(key_file)


def run_runner(job_dir, key_file, task=""):
    return importtime("-m", "clustrix.runner", str(job_dir), "--task", task, "--key-file", key_file,
                      cwd=str(job_dir))


def test_the_batch_scripts_launch_line_skips_runpy(job, baseline):
    # Job scripts start the runner with ``python -c RUNNER_LAUNCH``: the same run as ``-m``,
    # without runpy's imports (importlib.util, contextlib, collections).
    job_dir, key_file, key = job
    (job_dir / "call.pkl").write_bytes(dump_call(Call(operator.add, (2, 3)), key, sys_path=[]))
    proc = importtime("-c", RUNNER_LAUNCH, str(job_dir), "--task", "", "--key-file", key_file, cwd=str(job_dir))
    assert proc.returncode == EXIT_OK, proc.stderr
    assert [e.unwrap() for e in load_result((job_dir / "result.pkl").read_bytes(), key)] == [5]
    loaded = imported_modules(proc.stderr)
    assert "clustrix.payload.codec" in loaded
    assert sorted(({"runpy", "importlib.util", "contextlib"} & loaded) - baseline) == []
    assert "runpy" in imported_modules(run_runner(job_dir, key_file).stderr)  # what -m would have paid


@pytest.mark.parametrize("kind", ["call", "array"])
def test_success_path_imports_no_heavy_module(job, baseline, kind):
    job_dir, key_file, key = job
    # operator.add travels by reference and its module is already loaded: whatever is imported
    # beyond the baseline is the runner's own doing.
    if kind == "call":
        blob, task, name = dump_call(Call(operator.add, (2, 3)), key, sys_path=[]), "", "result.pkl"
    else:
        blob, task, name = dump_array(operator.add, [[((2, 3), {})]], key, sys_path=[]), "0", "result.0.pkl"
    (job_dir / "call.pkl").write_bytes(blob)
    proc = run_runner(job_dir, key_file, task)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert [e.unwrap() for e in load_result((job_dir / name).read_bytes(), key)] == [5]
    loaded = imported_modules(proc.stderr)
    assert "clustrix.payload.codec" in loaded  # the check below looks at the right process
    assert sorted((HEAVY & loaded) - baseline) == []


def test_job_entry_costs_the_job_no_heavy_import(job, baseline):
    """The executor wraps every function in a JobEntry, pickled by reference: its module is
    imported by every job, so it must be as light as the runner."""
    from clustrix.api.job_entry import JobEntry, in_job

    job_dir, key_file, key = job
    (job_dir / "call.pkl").write_bytes(dump_call(Call(JobEntry(in_job)), key, sys_path=[]))
    proc = run_runner(job_dir, key_file)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert [e.unwrap() for e in load_result((job_dir / "result.pkl").read_bytes(), key)] == [True]
    loaded = imported_modules(proc.stderr)
    assert "clustrix.api.job_entry" in loaded
    assert sorted((HEAVY & loaded) - baseline) == []


def test_usage_errors_import_nothing_of_clustrix_but_the_runner(baseline):
    proc = importtime("-m", "clustrix.runner", "--help")
    assert proc.returncode == 2 and "usage: python -m clustrix.runner" in proc.stderr
    extra = {n for n in imported_modules(proc.stderr) - baseline if n.startswith("clustrix.")}
    # ``clustrix.runner`` is the stable entry point; the code is clustrix.payload.runner.
    assert sorted(extra) == ["clustrix.payload", "clustrix.payload.runner"]


def test_results_use_plain_pickle_until_they_need_cloudpickle():
    """In a process without cloudpickle (a job whose function came by reference), plain data is
    pickled without importing it, and a value plain pickle refuses still goes through it."""
    script = (
        "import sys, pickle\n"
        "from clustrix.payload.result import dumps_portable\n"
        "plain = pickle.loads(dumps_portable({'a': [1, 2.5]}))\n"
        "print(plain == {'a': [1, 2.5]}, 'cloudpickle' in sys.modules)\n"
        "fn = pickle.loads(dumps_portable(lambda x: x * 2))\n"
        "print(fn(21), 'cloudpickle' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=DEADLINE_S)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["True False", "42 True"]


def test_payloads_staged_by_the_executor_cost_the_job_no_heavy_import(job, baseline):
    """What ClusterExecutor/@cluster really stage: the JobEntry the executor module hands out."""
    from clustrix.api.executor import JobEntry

    job_dir, key_file, key = job
    (job_dir / "call.pkl").write_bytes(dump_call(Call(JobEntry(operator.mul), (6, 7)), key, sys_path=[]))
    proc = run_runner(job_dir, key_file)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert [e.unwrap() for e in load_result((job_dir / "result.pkl").read_bytes(), key)] == [42]
    assert sorted((HEAVY & imported_modules(proc.stderr)) - baseline) == []


def test_by_value_functions_load_without_cloudpickle(job, baseline):
    """A lambda or closure (the usual by-value code) is rebuilt by clustrix.payload.by_value:
    the job imports neither cloudpickle nor what its module body needs (dataclasses, typing...)."""
    job_dir, key_file, key = job
    scale = 7
    blob = dump_call(Call(lambda x: [x * scale, (lambda: scale)()], (6,)), key, sys_path=[])
    assert b"_make_function" in blob  # it travelled by value
    (job_dir / "call.pkl").write_bytes(blob)
    proc = run_runner(job_dir, key_file)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert [e.unwrap() for e in load_result((job_dir / "result.pkl").read_bytes(), key)] == [[42, 7]]
    loaded = imported_modules(proc.stderr)
    assert "clustrix.payload.by_value" in loaded
    assert sorted((HEAVY & loaded) - baseline) == []


def test_classes_by_value_still_load_through_cloudpickle(job, baseline):
    job_dir, key_file, key = job

    class Box:
        def __init__(self, v):
            self.v = v

    (job_dir / "call.pkl").write_bytes(dump_call(Call(lambda b: b.v + 1, (Box(41),)), key, sys_path=[]))
    proc = run_runner(job_dir, key_file)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert [e.unwrap() for e in load_result((job_dir / "result.pkl").read_bytes(), key)] == [42]
    assert "cloudpickle" in imported_modules(proc.stderr)
