"""The job side refuses a key file, or key directory, that others could have written.

``read_key_file`` is what the runner calls before it verifies a payload; the runner is also run
for real (a subprocess, as a batch script starts it) to check its exit code and message.
"""

from __future__ import annotations

import operator
import os
import stat
import subprocess
import sys
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

import clustrix
from clustrix.errors import KeyFileError
from clustrix.payload.codec import Call, dump_call, load_result, read_key_file, write_key_file
from clustrix.payload.key_checks import key_dir_problem, key_file_problem
from clustrix.payload.runner import EXIT_KEY, EXIT_OK

DEADLINE_S = 60
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(clustrix.__file__)))
OTHER_UID = 54321
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")


@pytest.fixture
def keyed(tmp_path):
    keys = tmp_path / "keys"
    path = keys / "hmac.key"
    key = write_key_file(str(path))  # creates keys/ 0700 and the file 0600
    return keys, path, key


def run_runner(job_dir, key_file):
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-m", "clustrix.runner", str(job_dir), "--task", "",
                           "--key-file", str(key_file)], capture_output=True, text=True, timeout=DEADLINE_S,
                          cwd=str(job_dir), env=env)


def test_a_private_key_is_read(keyed):
    keys, path, key = keyed
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o700
    assert read_key_file(str(path)) == key


@pytest.mark.parametrize(("mode", "words"), [(0o770, "0770"), (0o757, "0757"), (0o1777, "1777")])
def test_key_in_a_dir_others_can_write_is_refused(keyed, mode, words):
    keys, path, _ = keyed
    keys.chmod(mode)
    with pytest.raises(KeyFileError, match=f"{words}.*chmod go-w {keys}"):
        read_key_file(str(path))


def test_symlinked_key_is_refused(keyed, tmp_path):
    keys, path, _ = keyed
    link = keys / "link.key"
    link.symlink_to(path)
    with pytest.raises(KeyFileError, match="symbolic link"):
        read_key_file(str(link))


def test_a_fifo_in_place_of_the_key_is_refused_without_hanging(keyed):
    keys, _, _ = keyed
    fifo = keys / "fifo.key"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(KeyFileError, match="not a regular file"):
        read_key_file(str(fifo))


@needs_root
def test_key_owned_by_someone_else_is_refused(keyed):
    _, path, _ = keyed
    os.chown(path, OTHER_UID, -1)
    with pytest.raises(KeyFileError, match=f"owned by uid {OTHER_UID}.*chown {os.geteuid()} {path}"):
        read_key_file(str(path))


@needs_root
def test_key_in_a_dir_owned_by_someone_else_is_refused(keyed):
    keys, path, _ = keyed
    os.chown(keys, OTHER_UID, -1)
    with pytest.raises(KeyFileError, match=f"{keys} holding key file .*owned by uid {OTHER_UID}"):
        read_key_file(str(path))


def test_runner_refuses_a_key_in_a_group_writable_dir(keyed, tmp_path):
    keys, path, key = keyed
    job_dir = tmp_path / "job"
    job_dir.mkdir(mode=0o700)
    (job_dir / "call.pkl").write_bytes(dump_call(Call(operator.add, (1, 2)), key, sys_path=[]))
    keys.chmod(0o770)
    proc = run_runner(job_dir, path)
    assert proc.returncode == EXIT_KEY
    assert f"chmod go-w {keys}" in proc.stderr
    assert not (job_dir / "result.pkl").exists()
    keys.chmod(0o700)  # the fix the message names
    assert run_runner(job_dir, path).returncode == EXIT_OK
    assert [e.unwrap() for e in load_result((job_dir / "result.pkl").read_bytes(), key)] == [3]


@needs_root
def test_runner_refuses_a_key_owned_by_someone_else(keyed, tmp_path):
    keys, path, key = keyed
    job_dir = tmp_path / "job"
    job_dir.mkdir(mode=0o700)
    (job_dir / "call.pkl").write_bytes(dump_call(Call(operator.add, (1, 2)), key, sys_path=[]))
    os.chown(path, OTHER_UID, -1)
    proc = run_runner(job_dir, path)
    assert proc.returncode == EXIT_KEY and f"owned by uid {OTHER_UID}" in proc.stderr


def facts(mode, uid):
    return SimpleNamespace(st_mode=mode, st_uid=uid)


@given(perm=st.integers(0, 0o7777), owner=st.integers(0, 3), me=st.integers(0, 3))
def test_key_file_rule(perm, owner, me):
    problem = key_file_problem("/k", facts(stat.S_IFREG | perm, owner), me)
    assert (problem is None) == (owner == me and perm & 0o077 == 0)


@given(perm=st.integers(0, 0o7777), owner=st.integers(0, 3), me=st.integers(0, 3))
def test_key_dir_rule(perm, owner, me):
    problem = key_dir_problem("/d", "/d/k", facts(stat.S_IFDIR | perm, owner), me)
    assert (problem is None) == (owner == me and perm & 0o022 == 0)


@given(kind=st.sampled_from([stat.S_IFLNK, stat.S_IFIFO, stat.S_IFDIR, stat.S_IFSOCK, stat.S_IFCHR]))
def test_only_regular_files_are_keys(kind):
    assert key_file_problem("/k", facts(kind | 0o600, 0), 0) is not None
