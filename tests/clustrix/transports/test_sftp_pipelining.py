"""Pipelined SFTP (clustrix.transports.sftp_batch) against a real server: results and ROUND TRIPS.

A round trip is counted where the client, having sent requests, starts reading answers (paramiko's
SFTP packet functions are wrapped for the test). Counts, never times: the machine is shared.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from paramiko.sftp import BaseSFTP
from paramiko.sftp_client import SFTPClient
from transport_helpers import Sim

from clustrix.errors import TransportError


class RoundTrips:
    def __init__(self) -> None:
        self.count = 0
        self.requests = 0
        self._sent = False


@pytest.fixture()
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[RoundTrips]:
    rt = RoundTrips()
    send, read = BaseSFTP._send_packet, BaseSFTP._read_packet

    # The server runs in this process too: only the client's packets count.
    def counting_send(self, t, packet):  # type: ignore[no-untyped-def]
        if isinstance(self, SFTPClient):
            rt.requests += 1
            rt._sent = True
        return send(self, t, packet)

    def counting_read(self):  # type: ignore[no-untyped-def]
        if isinstance(self, SFTPClient) and rt._sent:
            rt.count += 1
            rt._sent = False
        return read(self)

    monkeypatch.setattr(BaseSFTP, "_send_packet", counting_send)
    monkeypatch.setattr(BaseSFTP, "_read_packet", counting_read)
    yield rt


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _warm(sim: Sim):  # type: ignore[no-untyped-def]
    t = sim.connect()
    t.home()  # the SFTP channel is open and the home directory known before counting
    (sim.home / "jobs").mkdir(mode=0o700)
    return t


def test_a_job_dir_and_its_files_cost_two_round_trips(sim: Sim, trips: RoundTrips) -> None:
    t = _warm(sim)
    before = trips.count
    big = os.urandom(200_000)  # several write requests, still in the same batch
    t.put_files({"~/jobs/j1/job.sh": b"#!/bin/sh\n", "~/jobs/j1/call.pkl": big, "~/jobs/.key": b"k" * 65},
                dirs=["~/jobs/j1"])
    assert trips.count - before == 2
    assert _mode(sim.home / "jobs/j1") == 0o700
    assert _mode(sim.home / "jobs/j1/call.pkl") == 0o600
    assert (sim.home / "jobs/j1/call.pkl").read_bytes() == big
    assert sorted(os.listdir(sim.home / "jobs/j1")) == ["call.pkl", "job.sh"]  # no temporary left


def test_several_job_dirs_in_one_put_files_still_two_round_trips(sim: Sim, trips: RoundTrips) -> None:
    t = _warm(sim)
    before = trips.count
    t.put_files({f"~/jobs/p{i}/call.pkl": bytes([i]) * 10 for i in range(10)},
                dirs=[f"~/jobs/p{i}" for i in range(10)])
    assert trips.count - before == 2
    assert all((sim.home / f"jobs/p{i}/call.pkl").read_bytes() == bytes([i]) * 10 for i in range(10))


def test_missing_parents_are_created_then_the_batch_is_sent_again(sim: Sim) -> None:
    t = sim.connect()
    t.put_files({"~/new/root/j/call.pkl": b"x"}, dirs=["~/new/root/j"])
    for d in ("new", "new/root", "new/root/j"):
        assert _mode(sim.home / d) == 0o700, d
    assert (sim.home / "new/root/j/call.pkl").read_bytes() == b"x"


def test_a_file_where_the_job_dir_should_be_is_refused_by_name(sim: Sim) -> None:
    t = _warm(sim)
    (sim.home / "jobs" / "taken").write_bytes(b"")
    with pytest.raises(TransportError, match="taken"):
        t.put_files({"~/jobs/taken/call.pkl": b"x"}, dirs=["~/jobs/taken"])
    assert not [n for n in os.listdir(sim.home / "jobs") if n.startswith(".")]


def test_reading_many_small_files_costs_two_round_trips(sim: Sim, trips: RoundTrips) -> None:
    t = _warm(sim)
    for i in range(40):
        (sim.home / "jobs" / f"result.{i}.pkl").write_bytes(f"r{i}".encode())
    paths = [f"~/jobs/result.{i}.pkl" for i in range(40)] + [f"~/jobs/missing.{i}" for i in range(5)]
    before = trips.count
    got = t.get_files(paths)
    assert trips.count - before == 2
    assert got == {**{f"~/jobs/result.{i}.pkl": f"r{i}".encode() for i in range(40)},
                   **{f"~/jobs/missing.{i}": None for i in range(5)}}


def test_nothing_there_costs_one_round_trip_and_big_files_read_whole(sim: Sim, trips: RoundTrips) -> None:
    t = _warm(sim)
    before = trips.count
    assert t.get_files(["~/jobs/a", "~/jobs/b"]) == {"~/jobs/a": None, "~/jobs/b": None}
    assert trips.count - before == 1
    blob = os.urandom(300_000)
    (sim.home / "jobs" / "big").write_bytes(blob)
    (sim.home / "jobs" / "empty").write_bytes(b"")
    assert t.get_files(["~/jobs/big", "~/jobs/empty"]) == {"~/jobs/big": blob, "~/jobs/empty": b""}


def test_lstat_of_many_paths_is_one_round_trip(sim: Sim, trips: RoundTrips) -> None:
    t = _warm(sim)
    (sim.home / "jobs" / "f").write_bytes(b"")
    before = trips.count
    stats = t.stat_files([f"~/jobs/{n}" for n in ("f", "g", "h")] + ["~/jobs"])
    assert trips.count - before == 1
    assert stats["~/jobs/g"] is None and stats["~/jobs/h"] is None
    assert stat.S_ISREG(stats["~/jobs/f"].st_mode) and stat.S_ISDIR(stats["~/jobs"].st_mode)
