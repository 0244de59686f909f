"""The remote key is adopted only when nobody else could have planted it (real files, real modes).

The stager runs against this machine through :class:`LocalTransport` (``lstat`` and the uid are
real); the same refusals over real SSH to the simulator are in ``tests/e2e/test_key_trust.py``.
"""

from __future__ import annotations

import os
from datetime import date

import pytest

from clustrix.backends.remote.staging import REMOTE_KEY_NAME, Stager
from clustrix.config.profile import Profile
from clustrix.errors import KeyFileError
from clustrix.payload.keys import new_key
from clustrix.transports.local import LocalTransport

IS_ROOT = os.geteuid() == 0
OTHER_UID = 54321  # nobody's: a file chowned to it stands for one another user planted
needs_root = pytest.mark.skipif(not IS_ROOT, reason="chown to another uid needs root")


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CLUSTRIX_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def planted(tmp_path):
    """A remote dir holding a well-formed key (mode 0600, ours) that each test then spoils."""
    jobs = tmp_path / "remote" / "jobs"
    jobs.mkdir(parents=True, mode=0o700)
    jobs.chmod(0o700)
    key_file = jobs / REMOTE_KEY_NAME
    key = new_key()
    key_file.write_bytes(key.hex().encode() + b"\n")
    key_file.chmod(0o600)
    return jobs, key_file, key


def stager_for(jobs) -> Stager:
    profile = Profile(name="p", backend="slurm", remote_dir=str(jobs))
    return Stager(LocalTransport(), profile, today=lambda: date(2025, 1, 2))


def refused(jobs, *fragments: str) -> KeyFileError:
    stager = stager_for(jobs)
    with pytest.raises(KeyFileError) as info:
        stager.key()
    text = str(info.value)
    for fragment in fragments:
        assert fragment in text, text
    assert info.value.path == str(jobs / REMOTE_KEY_NAME)
    # Nothing was adopted: no local copy of the planted key, and staging refuses too.
    with pytest.raises(KeyFileError):
        stager.stage(stager.new_job_dir(), {})
    return info.value


def test_a_well_kept_key_is_adopted(planted):
    jobs, _, key = planted
    assert stager_for(jobs).key() == key


def test_group_readable_key_is_refused(planted):
    jobs, key_file, _ = planted
    key_file.chmod(0o640)
    refused(jobs, str(key_file), "mode 0640", f"chmod 600 {key_file}")


def test_key_in_a_group_writable_dir_is_refused(planted):
    jobs, key_file, _ = planted
    jobs.chmod(0o770)
    refused(jobs, str(jobs), "0770", f"chmod go-w {jobs}")


def test_key_in_a_world_writable_sticky_dir_is_refused(planted):
    """Sticky (like /tmp) stops others deleting our key, not creating one before we do."""
    jobs, _, _ = planted
    jobs.chmod(0o1777)
    refused(jobs, "1777", f"chmod go-w {jobs}")


def test_symlinked_key_is_refused(planted, tmp_path):
    jobs, key_file, key = planted
    elsewhere = tmp_path / "elsewhere.key"
    elsewhere.write_bytes(key.hex().encode())
    elsewhere.chmod(0o600)
    key_file.unlink()
    key_file.symlink_to(elsewhere)
    refused(jobs, "symbolic link", f"rm {key_file}")


@needs_root
def test_key_owned_by_someone_else_is_refused(planted):
    jobs, key_file, _ = planted
    os.chown(key_file, OTHER_UID, -1)
    refused(jobs, f"owned by uid {OTHER_UID}", f"not by you (uid {os.geteuid()})", f"rm {key_file}",
            f"chown {os.geteuid()} {key_file}")


@needs_root
def test_key_in_a_dir_owned_by_someone_else_is_refused(planted):
    jobs, _, _ = planted
    os.chown(jobs, OTHER_UID, -1)
    refused(jobs, f"{jobs} holding key file", f"owned by uid {OTHER_UID}", f"chown {os.geteuid()} {jobs}")


def test_no_key_yet_in_a_group_writable_dir_is_refused_before_uploading_ours(tmp_path):
    jobs = tmp_path / "shared"
    jobs.mkdir()
    jobs.chmod(0o775)
    refused(jobs, "0775", f"chmod go-w {jobs}")
    assert not (jobs / REMOTE_KEY_NAME).exists()


def test_fresh_remote_dir_gets_our_key_privately(tmp_path):
    jobs = tmp_path / "fresh" / "jobs"
    stager = stager_for(jobs)
    job_dir = stager.new_job_dir()
    stager.stage(job_dir, {f"{job_dir}/job.sh": "x"})
    key_st = os.lstat(jobs / REMOTE_KEY_NAME)
    assert (key_st.st_mode & 0o777, key_st.st_uid) == (0o600, os.geteuid())
    assert os.stat(jobs).st_mode & 0o777 == 0o700
    assert stager_for(jobs).key() == stager.key()  # and a later process adopts it
