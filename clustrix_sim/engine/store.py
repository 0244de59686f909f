"""SQLite persistence for the controller: config, nodes, partitions, jobs, live processes.

The controller writes every change before it answers the request that caused it, so a controller
killed with SIGKILL and restarted on the same state dir finds every job it ever accepted. WAL mode
with ``synchronous=NORMAL`` survives a crashed process (only an OS crash could lose the last
commits), and keeps a commit to a fraction of a millisecond, which the sbatch latency needs.

Array tasks share one request, so requests live in their own table keyed by the submission's
first job id and each job row points at it. Only the controller thread holding the model lock
touches the connection.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (name TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS partitions (name TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (id INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (job_id INTEGER PRIMARY KEY, request_id INTEGER NOT NULL,
                                 data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS procs (job_id INTEGER PRIMARY KEY, pid INTEGER NOT NULL,
                                  start_ticks INTEGER NOT NULL);
"""
DB_NAME = "cluster.db"


@dataclass(frozen=True)
class ProcEntry:
    """A job process the controller started: enough to find (and kill) it after a crash.
    ``start_ticks`` is field 22 of /proc/<pid>/stat, which tells a reused pid apart."""

    job_id: int
    pid: int
    start_ticks: int


@dataclass
class Snapshot:
    """Everything in a store, as plain dicts (the controller rebuilds its records from it)."""

    meta: dict[str, Any]
    nodes: list[dict[str, Any]]
    partitions: list[dict[str, Any]]
    requests: dict[int, dict[str, Any]]
    jobs: list[tuple[int, int, dict[str, Any]]]  # (job_id, request_id, record dict w/o request)
    procs: list[ProcEntry]


class Store:
    """The state dir's database. Writes are batched by the caller and made durable by commit()."""

    def __init__(self, state_dir: str) -> None:
        self.path = os.path.join(state_dir, DB_NAME)
        fresh = not os.path.exists(self.path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if fresh:
            os.chmod(self.path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._in_tx = False

    # -- reading -----------------------------------------------------------------------------
    def is_empty(self) -> bool:
        return self._db.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 0

    def load(self) -> Snapshot:
        db = self._db
        meta = {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}
        nodes = [json.loads(d) for (d,) in db.execute("SELECT data FROM nodes ORDER BY rowid")]
        parts = [json.loads(d) for (d,) in db.execute("SELECT data FROM partitions ORDER BY rowid")]
        requests = {i: json.loads(d) for i, d in db.execute("SELECT id, data FROM requests")}
        jobs = [(j, r, json.loads(d)) for j, r, d in
                db.execute("SELECT job_id, request_id, data FROM jobs ORDER BY job_id")]
        procs = [ProcEntry(*row) for row in db.execute("SELECT job_id, pid, start_ticks FROM procs")]
        return Snapshot(meta, nodes, parts, requests, jobs, procs)

    # -- writing (inside a transaction the caller commits) -------------------------------------
    def _begin(self) -> None:
        if not self._in_tx:
            self._db.execute("BEGIN")
            self._in_tx = True

    def set_meta(self, key: str, value: Any) -> None:
        self._begin()
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def save_node(self, name: str, data_json: str) -> None:
        self._begin()
        self._db.execute("INSERT OR REPLACE INTO nodes (name, data) VALUES (?, ?)", (name, data_json))

    def save_partition(self, name: str, data_json: str) -> None:
        self._begin()
        self._db.execute("INSERT OR REPLACE INTO partitions (name, data) VALUES (?, ?)", (name, data_json))

    def save_request(self, request_id: int, data_json: str) -> None:
        self._begin()
        self._db.execute("INSERT OR REPLACE INTO requests (id, data) VALUES (?, ?)", (request_id, data_json))

    def save_jobs(self, rows: Iterable[tuple[int, int, str]]) -> None:
        """Upsert ``(job_id, request_id, record JSON without its request)`` rows."""
        self._begin()
        self._db.executemany("INSERT OR REPLACE INTO jobs (job_id, request_id, data) VALUES (?, ?, ?)", rows)

    def save_proc(self, entry: ProcEntry) -> None:
        self._begin()
        self._db.execute("INSERT OR REPLACE INTO procs (job_id, pid, start_ticks) VALUES (?, ?, ?)",
                         (entry.job_id, entry.pid, entry.start_ticks))

    def delete_proc(self, job_id: int) -> None:
        self._begin()
        self._db.execute("DELETE FROM procs WHERE job_id = ?", (job_id,))

    def commit(self) -> None:
        if self._in_tx:
            self._db.execute("COMMIT")
            self._in_tx = False

    def close(self) -> None:
        self.commit()
        self._db.close()


def read_procs(state_dir: str) -> list[ProcEntry]:
    """The job processes a (possibly dead) controller recorded, read without taking over the
    store; used to clean up after a controller that cannot be asked any more."""
    path = os.path.join(state_dir, DB_NAME)
    if not os.path.exists(path):
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
    try:
        return [ProcEntry(*row) for row in db.execute("SELECT job_id, pid, start_ticks FROM procs")]
    except sqlite3.Error:
        return []
    finally:
        db.close()
