"""Staging: job dirs, the HMAC key's local/remote agreement, round trips (real local filesystem)."""

from __future__ import annotations

import os
import re
import stat
from datetime import date

import pytest

from clustrix.backends.remote.staging import REMOTE_KEY_NAME, Stager, resolve_remote_dir
from clustrix.config.profile import Profile
from clustrix.errors import ConfigError
from clustrix.payload.keys import new_key, read_key_file
from clustrix.transports.local import LocalTransport


class CountingTransport(LocalTransport):
    """LocalTransport that records which operations ran (round trips over SSH)."""

    def __init__(self, home: str):
        super().__init__()
        self.calls: list[str] = []
        self._home = home

    def put_files(self, files, *, mode=0o600, dirs=(), dir_mode=0o700):
        self.calls.append("put_files")
        return super().put_files(files, mode=mode, dirs=dirs, dir_mode=dir_mode)

    def get_files(self, paths):
        self.calls.append("get_files")
        return super().get_files(paths)

    def makedirs(self, path, mode=0o700):
        self.calls.append("makedirs")
        return super().makedirs(path, mode)

    def stat_files(self, paths):
        self.calls.append("stat_files")
        return super().stat_files(paths)

    def uid(self):
        self.calls.append("uid")
        return super().uid()

    def home(self):
        self.calls.append("home")
        return self._home


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CLUSTRIX_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _stager(tmp_path, remote_dir="~/jobs"):
    t = CountingTransport(str(tmp_path / "home"))
    profile = Profile(name="p", backend="slurm", remote_dir=remote_dir)
    return t, Stager(t, profile, today=lambda: date(2025, 1, 2))


def test_staging_is_one_put_files_that_creates_the_job_dir(tmp_path, data_dir):
    t, stager = _stager(tmp_path)
    job_dir = stager.new_job_dir()
    assert re.fullmatch(re.escape(str(tmp_path / "home" / "jobs")) + r"/20250102-[0-9a-f]{32}", job_dir)
    stager.stage(job_dir, {f"{job_dir}/job.sh": "#!/bin/sh\n", f"{job_dir}/call.pkl": b"\x00payload"})
    # The key agreement (id -u, lstat of key and dir; no key yet, so no read) happens once.
    assert t.calls == ["home", "uid", "stat_files", "put_files"]
    assert stat.S_IMODE(os.stat(job_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(f"{job_dir}/call.pkl").st_mode) == 0o600
    remote_key = tmp_path / "home" / "jobs" / REMOTE_KEY_NAME
    assert read_key_file(str(remote_key)) == stager.key()  # 0600, hex, readable by the runner
    t.calls.clear()
    second = stager.new_job_dir()
    assert second != job_dir
    stager.stage(second, {f"{second}/job.sh": "x"})
    assert t.calls == ["put_files"]


def test_stage_many_stages_several_job_dirs_in_one_put_files(tmp_path, data_dir):
    t, stager = _stager(tmp_path)
    stager.key()
    t.calls.clear()
    dirs = [stager.new_job_dir() for _ in range(3)]
    stager.stage_many({d: {f"{d}/job.sh": f"#{i}", f"{d}/call.pkl": bytes([i])} for i, d in enumerate(dirs)})
    assert t.calls == ["put_files"]
    for i, d in enumerate(dirs):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
        assert open(f"{d}/job.sh").read() == f"#{i}"
        assert open(f"{d}/call.pkl", "rb").read() == bytes([i])


def test_prefetched_key_leaves_the_first_submission_one_put_files(tmp_path, data_dir):
    t, stager = _stager(tmp_path)
    stager.prefetch_key().join(10)
    assert t.calls == ["home", "uid", "stat_files"]
    assert list((data_dir / "keys").iterdir())  # the local copy was made with the data dir of then
    job_dir = stager.new_job_dir()
    stager.stage(job_dir, {f"{job_dir}/job.sh": "x"})
    assert t.calls == ["home", "uid", "stat_files", "put_files"]
    assert read_key_file(str(tmp_path / "home" / "jobs" / REMOTE_KEY_NAME)) == stager.key()


def test_failed_prefetch_is_retried_by_the_first_submission(tmp_path, data_dir):
    t, stager = _stager(tmp_path)
    t.stat_files = lambda paths: (_ for _ in ()).throw(OSError("link down"))
    stager.prefetch_key().join(10)
    del t.stat_files  # the link is back
    assert len(stager.key()) == 32


def test_existing_remote_key_is_adopted_and_cached_locally(tmp_path, data_dir):
    t, stager = _stager(tmp_path)
    key = new_key()
    jobs = tmp_path / "home" / "jobs"
    jobs.mkdir(parents=True)
    (jobs / REMOTE_KEY_NAME).write_bytes(key.hex().encode() + b"\n")
    (jobs / REMOTE_KEY_NAME).chmod(0o600)
    assert stager.key() == key
    local_keys = list((data_dir / "keys").iterdir())
    assert len(local_keys) == 1 and read_key_file(str(local_keys[0])) == key
    job_dir = stager.new_job_dir()
    stager.stage(job_dir, {f"{job_dir}/job.sh": "x"})
    assert (jobs / REMOTE_KEY_NAME).read_bytes().strip() == key.hex().encode()  # not replaced


def test_local_key_reused_by_a_new_process_when_remote_missing(tmp_path, data_dir):
    _, first = _stager(tmp_path)
    key = first.key()
    _, second = _stager(tmp_path)
    assert second.key() == key  # the local copy, uploaded with the next staging


def test_stage_refuses_files_outside_the_job_dir(tmp_path, data_dir):
    _, stager = _stager(tmp_path)
    job_dir = stager.new_job_dir()
    with pytest.raises(ValueError, match="not directly inside"):
        stager.stage(job_dir, {f"{job_dir}/../evil": "x"})


@pytest.mark.parametrize(("given", "expected"), [
    ("~", "/home/u"),
    ("~/a/b", "/home/u/a/b"),
    ("rel/dir", "/home/u/rel/dir"),
    ("/abs//x/", "/abs/x"),
    ("/with space/$(x);'q'", "/with space/$(x);'q'"),
])
def test_resolve_remote_dir(given, expected):
    assert resolve_remote_dir(given, lambda: "/home/u") == expected


@pytest.mark.parametrize("bad", ["~bob/x", "/a\nb"])
def test_resolve_remote_dir_rejects(bad):
    with pytest.raises(ConfigError):
        resolve_remote_dir(bad, lambda: "/home/u")
