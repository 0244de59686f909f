"""The SQLite store: round trips, WAL durability across connections, proc entries."""

from __future__ import annotations

import json
import os
import stat

from clustrix_sim.engine.store import ProcEntry, Store, read_procs


def test_round_trip_and_upsert(tmp_path):
    store = Store(str(tmp_path))
    assert store.is_empty()
    store.set_meta("config", {"a": 1})
    store.save_node("c1", json.dumps({"name": "c1"}))
    store.save_partition("normal", json.dumps({"name": "normal"}))
    store.save_request(5, json.dumps({"script": "x"}))
    store.save_jobs([(5, 5, json.dumps({"state": "PENDING"})), (6, 5, json.dumps({"state": "PENDING"}))])
    store.save_jobs([(6, 5, json.dumps({"state": "RUNNING"}))])
    store.save_proc(ProcEntry(6, 1234, 99))
    store.commit()
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    other = Store(str(tmp_path))  # a second connection sees committed data (what a restart sees)
    snap = other.load()
    assert snap.meta == {"config": {"a": 1}}
    assert snap.requests == {5: {"script": "x"}}
    assert snap.jobs == [(5, 5, {"state": "PENDING"}), (6, 5, {"state": "RUNNING"})]
    assert snap.procs == [ProcEntry(6, 1234, 99)] == read_procs(str(tmp_path))
    store.delete_proc(6)
    store.commit()
    assert read_procs(str(tmp_path)) == []
    store.close()
    other.close()


def test_uncommitted_changes_are_not_visible(tmp_path):
    store = Store(str(tmp_path))
    store.set_meta("x", 1)
    assert Store(str(tmp_path)).is_empty()
    store.commit()
    assert not Store(str(tmp_path)).is_empty()


def test_read_procs_of_missing_store_is_empty(tmp_path):
    assert read_procs(str(tmp_path / "nope")) == []
