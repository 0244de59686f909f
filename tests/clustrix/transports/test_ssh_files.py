"""SSHTransport file staging over SFTP against a real server: modes, atomicity, missing files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from transport_helpers import Sim

from clustrix.errors import TransportError


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_makedirs_put_get_with_modes_despite_umask(sim: Sim) -> None:
    t = sim.connect()
    old = os.umask(0o002)  # the server runs in this process: a permissive umask must not leak in
    try:
        t.makedirs("~/jobs/a/b")
        t.put_files({"~/jobs/a/b/call.pkl": b"\x80payload", "~/jobs/a/b/key": b"k" * 32})
        t.put_files({"~/jobs/a/b/script.sh": b"#!/bin/sh\n"}, mode=0o700)
    finally:
        os.umask(old)
    for directory in ("jobs", "jobs/a", "jobs/a/b"):
        assert _mode(sim.home / directory) == 0o700, directory
    assert _mode(sim.home / "jobs/a/b/call.pkl") == 0o600
    assert _mode(sim.home / "jobs/a/b/script.sh") == 0o700
    assert (sim.home / "jobs/a/b/call.pkl").read_bytes() == b"\x80payload"
    got = t.get_files(["~/jobs/a/b/call.pkl", "jobs/a/b/key", "~/jobs/a/b/missing.pkl",
                       str(sim.home / "jobs/a/b/script.sh")])
    assert got == {"~/jobs/a/b/call.pkl": b"\x80payload", "jobs/a/b/key": b"k" * 32,
                   "~/jobs/a/b/missing.pkl": None, str(sim.home / "jobs/a/b/script.sh"): b"#!/bin/sh\n"}
    assert sorted(os.listdir(sim.home / "jobs/a/b")) == ["call.pkl", "key", "script.sh"]  # no tmp left


def test_put_replaces_atomically_and_large_files_round_trip(sim: Sim) -> None:
    t = sim.connect()
    t.makedirs("d")
    target = sim.home / "d" / "f"
    target.write_bytes(b"old")
    target.chmod(0o644)
    t.put_files({"d/f": b"new"})
    assert target.read_bytes() == b"new" and _mode(target) == 0o600
    blob = os.urandom(3_000_000)
    t.put_files({"d/big": blob})
    assert t.get_files(["d/big"])["d/big"] == blob
    assert t.get_files(["d/empty-missing"]) == {"d/empty-missing": None}
    (sim.home / "d" / "empty").write_bytes(b"")
    assert t.get_files(["d/empty"]) == {"d/empty": b""}


def test_makedirs_is_idempotent_and_leaves_existing_dirs_alone(sim: Sim) -> None:
    t = sim.connect()
    existing = sim.home / "shared"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    t.makedirs("~/shared/job1")
    t.makedirs("~/shared/job1")
    t.makedirs(str(sim.home / "shared" / "job1"))
    assert _mode(existing) == 0o755 and _mode(existing / "job1") == 0o700


def test_file_errors_are_transport_errors_naming_the_path(sim: Sim) -> None:
    t = sim.connect()
    (sim.home / "plain").write_text("x")
    with pytest.raises(TransportError, match="plain"):
        t.makedirs("plain/sub")
    with pytest.raises(TransportError, match="a file of that name exists"):
        t.makedirs("plain")
    with pytest.raises(TransportError, match="no-such-dir"):
        t.put_files({"no-such-dir/f": b"x"})
    assert t.run(["true"]).returncode == 0  # a file error does not poison the connection


def test_get_files_with_tilde_on_a_fresh_connection(sim: Sim) -> None:
    (sim.home / "f").write_bytes(b"fresh")
    t = sim.connect()  # home() not resolved yet: get_files must resolve it without deadlocking
    assert t.get_files(["~/f"]) == {"~/f": b"fresh"}


def test_home_and_expand_path(sim: Sim) -> None:
    t = sim.connect()
    assert t.home() == os.path.realpath(sim.home)
    assert t.expand_path("~") == t.home()
    assert t.expand_path("~/x/y") == f"{t.home()}/x/y"
    assert t.expand_path("/abs/~x") == "/abs/~x"
    with pytest.raises(ValueError, match="~bob"):
        t.expand_path("~bob/x")


def test_sftp_survives_a_dropped_connection(sim: Sim) -> None:
    t = sim.connect(reconnect_backoff_s=0.05)
    t.put_files({"before": b"1"})
    sim.server.drop_connections()
    t.put_files({"after": b"2"})
    assert t.get_files(["before", "after"]) == {"before": b"1", "after": b"2"}
    assert sim.server.connection_count == 1


def test_a_dead_sftp_channel_is_reopened_without_dropping_the_connection(sim: Sim) -> None:
    t = sim.connect()
    t.put_files({"one": b"1"})
    sftp, generation, _ = t._conn.sftp()  # white-box: break only the SFTP channel
    sftp.get_channel().close()
    t.put_files({"two": b"2"})
    assert t.get_files(["one", "two"]) == {"one": b"1", "two": b"2"}
    assert t._conn.generation == generation  # same SSH connection, new SFTP channel


def test_listdir_names_a_directory_in_one_call(sim: Sim) -> None:
    t = sim.connect()
    t.makedirs("~/listing")
    t.put_files({"~/listing/result.0.pkl": b"r", "~/listing/exit_code.0": b"0\n"})
    assert sorted(t.listdir("~/listing")) == ["exit_code.0", "result.0.pkl"]
    assert t.listdir(str(sim.home / "listing" / "missing")) is None
