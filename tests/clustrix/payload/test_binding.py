"""Results are bound to their job: a valid result replayed into another job or task is refused.

The runner really runs (a subprocess, as a batch script starts it); files are really copied.
"""

from __future__ import annotations

import operator
import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import clustrix
from clustrix.errors import PayloadAuthError, PayloadError
from clustrix.payload.binding import JobBinding, check_result_binding, new_binding, result_meta
from clustrix.payload.codec import (
    Call,
    ResultEnvelope,
    dump_array,
    dump_call,
    dump_result,
    load_payload,
    load_result,
    write_key_file,
)
from clustrix.payload.format import FORMAT_VERSION, MAGIC
from clustrix.payload.runner import EXIT_OK, EXIT_PAYLOAD

DEADLINE_S = 60
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(clustrix.__file__)))


@pytest.fixture
def key_file(tmp_path):
    path = str(tmp_path / "keys" / "hmac.key")
    return path, write_key_file(path)


def run_runner(job_dir, key_file, task=""):
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-m", "clustrix.runner", str(job_dir), "--task", task,
                           "--key-file", key_file], capture_output=True, text=True, timeout=DEADLINE_S,
                          cwd=str(job_dir), env=env)


def staged_job(tmp_path, name, key, blob_for):
    job_dir = tmp_path / name
    job_dir.mkdir(mode=0o700)
    binding = new_binding(str(job_dir))
    (job_dir / "call.pkl").write_bytes(blob_for(binding))
    return job_dir, binding


def test_a_result_copied_into_another_job_is_refused(tmp_path, key_file):
    path, key = key_file
    a_dir, a = staged_job(tmp_path, "20240101-aaaa", key,
                          lambda b: dump_call(Call(operator.add, (1, 2)), key, sys_path=[], binding=b))
    b_dir, b = staged_job(tmp_path, "20240101-bbbb", key,
                          lambda b: dump_call(Call(operator.add, (40, 2)), key, sys_path=[], binding=b))
    assert run_runner(a_dir, path).returncode == EXIT_OK
    assert [e.unwrap() for e in load_result((a_dir / "result.pkl").read_bytes(), key, expect=a)] == [3]
    shutil.copy(a_dir / "result.pkl", b_dir / "result.pkl")  # the replay: A's valid, signed result
    with pytest.raises(PayloadAuthError) as info:
        load_result((b_dir / "result.pkl").read_bytes(), key, expect=b)
    text = str(info.value)
    assert "'20240101-aaaa'" in text and "'20240101-bbbb'" in text  # found and expected
    assert "not unpickled" in text
    assert run_runner(b_dir, path).returncode == EXIT_OK  # B's own result still verifies
    assert [e.unwrap() for e in load_result((b_dir / "result.pkl").read_bytes(), key, expect=b)] == [42]


def test_a_task_result_renamed_to_another_task_is_refused(tmp_path, key_file):
    path, key = key_file
    chunks = [[((i, 1), {})] for i in range(5)]
    job_dir, binding = staged_job(tmp_path, "20240101-arr", key,
                                  lambda b: dump_array(operator.add, chunks, key, sys_path=[], binding=b))
    assert run_runner(job_dir, path, "3").returncode == EXIT_OK
    blob = (job_dir / "result.3.pkl").read_bytes()
    assert [e.unwrap() for e in load_result(blob, key, expect=binding, task=3)] == [4]
    os.rename(job_dir / "result.3.pkl", job_dir / "result.4.pkl")
    with pytest.raises(PayloadAuthError, match=r"task 3.*but job dir '20240101-arr', task 4, .*was expected"):
        load_result((job_dir / "result.4.pkl").read_bytes(), key, expect=binding, task=4)
    with pytest.raises(PayloadAuthError, match="a single job"):  # nor as a plain job's result
        load_result(blob, key, expect=binding, task=None)


def test_a_payload_replayed_into_another_job_dir_yields_a_result_for_its_own_job(tmp_path, key_file):
    """Copying A's *payload* into B's dir makes B's runner sign A's binding: B's client refuses it."""
    path, key = key_file
    a_dir, a = staged_job(tmp_path, "job-a", key, lambda b: dump_call(Call(operator.neg, (1,)), key, binding=b))
    b_dir, b = staged_job(tmp_path, "job-b", key, lambda b: dump_call(Call(operator.neg, (2,)), key, binding=b))
    shutil.copy(a_dir / "call.pkl", b_dir / "call.pkl")
    assert run_runner(b_dir, path).returncode == EXIT_OK
    with pytest.raises(PayloadAuthError, match="'job-a'.*but job dir 'job-b'.*was expected"):
        load_result((b_dir / "result.pkl").read_bytes(), key, expect=b)


def test_a_result_without_binding_is_refused_when_one_is_expected(key_file):
    _, key = key_file
    blob = dump_result([ResultEnvelope(ok=True, value=1)], key)  # what an unbound writer produces
    with pytest.raises(PayloadAuthError, match="carries no job binding.*same clustrix version"):
        load_result(blob, key, expect=JobBinding("j", "n" * 32))


def test_the_binding_is_signed(key_file):
    """Editing the binding in a result file breaks its HMAC: it cannot be re-pointed."""
    _, key = key_file
    bound = JobBinding("job-a", "ab" * 16)
    blob = bytearray(dump_result([ResultEnvelope(ok=True, value=1)], key, binding=bound, task=None))
    at = bytes(blob).index(b"job-a")
    blob[at:at + 5] = b"job-b"
    with pytest.raises(PayloadAuthError, match="HMAC check failed"):
        load_result(bytes(blob), key, expect=JobBinding("job-b", "ab" * 16))


def test_payloads_carry_their_binding_and_the_format_version_says_so(key_file):
    _, key = key_file
    binding = new_binding("/scratch/u/jobs/20240101-cafe/")
    assert binding.job == "20240101-cafe" and len(binding.nonce) == 32
    assert new_binding("/x/20240101-cafe").nonce != binding.nonce
    blob = dump_call(Call(operator.add, (1, 2)), key, binding=binding)
    assert load_payload(blob, key).binding == binding
    assert blob[len(MAGIC)] == FORMAT_VERSION == 2  # version-1 runners refuse it by name


def test_a_version_1_result_is_refused_with_the_fix(key_file):
    _, key = key_file
    blob = bytearray(dump_result([ResultEnvelope(ok=True, value=1)], key))
    blob[len(MAGIC)] = 1
    with pytest.raises(PayloadError, match="format version 1 .*install the same clustrix version"):
        load_result(bytes(blob), key)


def test_runner_refuses_an_old_format_payload(tmp_path, key_file):
    path, key = key_file
    job_dir = tmp_path / "old"
    job_dir.mkdir()
    blob = bytearray(dump_call(Call(operator.add, (1, 2)), key))
    blob[len(MAGIC)] = 1
    (job_dir / "call.pkl").write_bytes(bytes(blob))
    proc = run_runner(job_dir, path)
    assert proc.returncode == EXIT_PAYLOAD and "format version 1" in proc.stderr


names = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=20)
tasks = st.none() | st.integers(0, 10**6)


@given(job=names, nonce=names, task=tasks, other_job=names, other_nonce=names, other_task=tasks)
def test_binding_check_accepts_exactly_its_own_job_and_task(job, nonce, task, other_job, other_nonce,
                                                           other_task):
    meta = result_meta(JobBinding(job, nonce), task)
    check_result_binding(meta, JobBinding(job, nonce), task)  # its own: accepted
    if (other_job, other_nonce, other_task) != (job, nonce, task):
        with pytest.raises(PayloadAuthError):
            check_result_binding(meta, JobBinding(other_job, other_nonce), other_task)
