"""The HMAC key over real SSH (simulated SLURM): never adopted from, or used in, a place others can write.

Real files with real owners and modes on the simulator's login node (this machine): the client
checks them through SFTP ``lstat`` and the remote ``id -u``; the job checks its key again.
"""

from __future__ import annotations

import os
import sys

import cloudpickle
import pytest
from e2e_env import JOB_ENV

from clustrix.backends.remote.backend import RemoteBackend
from clustrix.backends.remote.staging import REMOTE_KEY_NAME
from clustrix.config.profile import Profile
from clustrix.errors import JobFailedError, KeyFileError
from clustrix.payload.codec import Call
from clustrix.payload.keys import new_key
from clustrix.spec import JobSpec

cloudpickle.register_pickle_by_value(sys.modules[__name__])
DEADLINE_S = 90
OTHER_UID = 54321
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")


def double(x):
    return 2 * x


def spec() -> JobSpec:
    return JobSpec(name="keys", python=sys.executable, env=JOB_ENV)


@pytest.fixture
def remote(tmp_path):
    jobs = tmp_path / "jobs"
    jobs.mkdir(mode=0o700)
    jobs.chmod(0o700)
    return jobs


@pytest.fixture
def make_backend(slurm, remote):
    made = []

    def make() -> RemoteBackend:
        b = RemoteBackend(Profile.from_mapping(slurm.profile(name="sim", remote_dir=str(remote))),
                          sleep=lambda s: None)
        made.append(b)
        return b

    yield make
    for b in made:
        b.shutdown(wait=False, cancel_futures=True)


def plant(remote, mode=0o600):
    key_file = remote / REMOTE_KEY_NAME
    key_file.write_bytes(new_key().hex().encode() + b"\n")
    key_file.chmod(mode)
    return key_file


def test_key_in_a_group_writable_remote_dir_is_refused_then_the_fix_works(make_backend, remote):
    key_file = plant(remote)
    remote.chmod(0o770)
    with pytest.raises(KeyFileError) as info:
        make_backend().submit(Call(double, (2,)), spec())
    assert str(remote) in str(info.value) and f"chmod go-w {remote}" in str(info.value)
    assert " on 127.0.0.1" in str(info.value)
    remote.chmod(0o700)  # the fix the message names; a new process agrees on the key again
    assert make_backend().submit(Call(double, (2,)), spec()).result(timeout=DEADLINE_S) == 4
    assert key_file.exists()


def test_readable_remote_key_is_refused(make_backend, remote):
    key_file = plant(remote, mode=0o644)
    with pytest.raises(KeyFileError, match=f"mode 0644.*chmod 600 {key_file}"):
        make_backend().submit(Call(double, (2,)), spec())


@needs_root
def test_remote_key_planted_by_another_user_is_refused(make_backend, remote):
    key_file = plant(remote)
    os.chown(key_file, OTHER_UID, -1)
    with pytest.raises(KeyFileError, match=f"owned by uid {OTHER_UID}.*rm {key_file}"):
        make_backend().submit(Call(double, (2,)), spec())


def test_job_refuses_its_key_once_the_dir_became_group_writable(make_backend, remote):
    backend = make_backend()
    assert backend.submit(Call(double, (1,)), spec()).result(timeout=DEADLINE_S) == 2  # key agreed
    remote.chmod(0o770)  # from now on others could swap the key under the jobs
    try:
        with pytest.raises(JobFailedError) as info:
            backend.submit(Call(double, (3,)), spec()).result(timeout=DEADLINE_S)
    finally:
        remote.chmod(0o700)
    assert f"chmod go-w {remote}" in str(info.value)  # the job's stderr says why and how
