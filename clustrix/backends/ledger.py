"""The job ledger: every remote submission recorded in SQLite, so jobs outlive the client process.

``clustrix jobs list|status|result|logs|cancel`` and :func:`clustrix.attach` read it after a
restart and reconnect with the stored profile. The database lives in the user data dir
(:func:`clustrix.paths.ledger_path`, ``$CLUSTRIX_LEDGER`` overrides), in WAL mode so the poller
thread, the CLI and other clients can write concurrently. Profiles are stored as plain mappings
with secret-looking keys removed; the HMAC key is never stored here (it stays in its 0600 file).

One row per submission in ``jobs``; arrays also get one row per task in ``tasks``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clustrix.errors import ClustrixError
from clustrix.paths import ledger_path

SCHEMA_VERSION = 3
"""2 added ``jobs.port`` (ids repeat across simulators on one host); 3 added the client's own
timestamps for timelines: ``jobs.prepared_at`` (the client began the submission: before pickling
and staging) and ``tasks.finished_at`` (the client had the task's result, or its final state).
Older files are migrated in place: the new columns are NULL for rows written before."""
_SECRET_MARKERS = ("password", "passphrase", "secret", "token", "private")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    backend TEXT NOT NULL,
    host TEXT,
    port INTEGER,
    profile_name TEXT NOT NULL,
    profile_json TEXT NOT NULL,
    job_dir TEXT NOT NULL,
    key_file TEXT NOT NULL,
    function TEXT NOT NULL,
    is_array INTEGER NOT NULL DEFAULT 0,
    n_items INTEGER NOT NULL DEFAULT 1,
    chunk_size INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL,
    error TEXT,
    submitted_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    finished_at REAL,
    prepared_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_job_id ON jobs (job_id);
CREATE TABLE IF NOT EXISTS tasks (
    job_row INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    task_index INTEGER NOT NULL,
    task_id TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL,
    finished_at REAL,
    PRIMARY KEY (job_row, task_index)
);
"""

FINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY",
                          "NODE_FAIL", "PREEMPTED", "LOST", "ERROR"})


class LedgerError(ClustrixError, LookupError):
    """A job id is not in the ledger, or matches jobs on several hosts."""


@dataclass(frozen=True)
class LedgerEntry:
    """One recorded submission. ``task_ids``/``task_states`` are empty for a single job."""

    row: int
    job_id: str
    backend: str
    host: str | None
    port: int | None
    profile_name: str
    profile: dict[str, Any]
    job_dir: str
    key_file: str
    function: str
    is_array: bool
    n_items: int
    chunk_size: int
    state: str
    error: str | None
    submitted_at: float
    updated_at: float
    finished_at: float | None
    task_ids: tuple[str, ...] = ()
    task_states: tuple[str, ...] = ()
    prepared_at: float | None = None
    """When the client began this submission (None in rows written before schema 3)."""
    task_finished_at: tuple[float | None, ...] = ()
    """Per task: when the client had its result or final state (None while open)."""

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


def profile_record(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-safe copy of a profile mapping with secret-looking keys dropped."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if any(marker in str(key).lower() for marker in _SECRET_MARKERS):
            continue
        if isinstance(value, Mapping):
            value = profile_record(value)
        elif isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        out[str(key)] = value
    return json.loads(json.dumps(out, default=str))


class Ledger:
    """Thread-safe access to the ledger database (one connection per thread)."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else ledger_path()
        self._local = threading.local()
        db = self._connection()
        db.executescript(_SCHEMA)  # idempotent; executescript manages its own transaction
        _migrate(db)
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                       (str(SCHEMA_VERSION),))
        try:
            os.chmod(self.path, 0o600)  # job dirs and profiles of a user are nobody else's business
        except OSError:
            pass

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection (other threads' close when they end)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- writing -------------------------------------------------------------------------------

    def record(
        self,
        *,
        job_id: str,
        backend: str,
        host: str | None,
        profile: Mapping[str, Any],
        profile_name: str = "default",
        port: int | None = None,
        job_dir: str,
        key_file: str,
        function: str,
        task_ids: tuple[str, ...] | list[str] = (),
        n_items: int = 1,
        chunk_size: int = 1,
        state: str = "PENDING",
        prepared_at: float | None = None,
    ) -> int:
        """Record a submission; returns its ledger row id.

        ``profile`` is the profile's mapping (secret-looking keys are dropped before storing);
        ``profile_name`` its name, which ``--profile`` selects on. ``prepared_at`` is when the
        client began the submission (epoch seconds); ``submitted_at`` is now, the submit
        command having returned.
        """
        now = time.time()
        record = profile_record(profile)
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO jobs (job_id, backend, host, port, profile_name, profile_json, job_dir, key_file,"
                " function, is_array, n_items, chunk_size, state, submitted_at, updated_at, prepared_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, backend, host, port, profile_name, json.dumps(record), job_dir,
                 key_file, function, int(bool(task_ids)), n_items, chunk_size, state, now, now,
                 prepared_at),
            )
            row = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO tasks (job_row, task_index, task_id, state, updated_at) VALUES (?, ?, ?, ?, ?)",
                [(row, i, tid, state, now) for i, tid in enumerate(task_ids)],
            )
        return row

    def set_state(self, row: int, state: str, *, error: str | None = None) -> None:
        """Update a submission's (aggregate) state; final states also set ``finished_at``."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state = ?, error = COALESCE(?, error), updated_at = ?,"
                " finished_at = CASE WHEN ? THEN COALESCE(finished_at, ?) ELSE NULL END WHERE id = ?",
                (state, error, now, state in FINAL_STATES, now, row),
            )

    def set_task_states(self, row: int, states: Mapping[int, str]) -> None:
        """Update the states of some array tasks of submission ``row``; a task's first final
        state also sets its ``finished_at``."""
        now = time.time()
        with self._tx() as db:
            db.executemany(
                "UPDATE tasks SET state = ?, updated_at = ?,"
                " finished_at = CASE WHEN ? THEN COALESCE(finished_at, ?) ELSE NULL END"
                " WHERE job_row = ? AND task_index = ?",
                [(s, now, s in FINAL_STATES, now, row, i) for i, s in states.items()])

    def delete(self, row: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM jobs WHERE id = ?", (row,))

    # -- reading -------------------------------------------------------------------------------

    def entries(self, *, limit: int | None = 50, active_only: bool = False) -> list[LedgerEntry]:
        """Most recent submissions first."""
        sql = "SELECT * FROM jobs"
        if active_only:
            sql += " WHERE state NOT IN (" + ",".join("?" * len(FINAL_STATES)) + ")"
        sql += " ORDER BY submitted_at DESC, id DESC"
        params: list[Any] = sorted(FINAL_STATES) if active_only else []
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        db = self._connection()
        return [self._entry(db, r) for r in db.execute(sql, params).fetchall()]

    def by_row(self, row: int) -> LedgerEntry:
        db = self._connection()
        r = db.execute("SELECT * FROM jobs WHERE id = ?", (row,)).fetchone()
        if r is None:
            raise LedgerError(f"no ledger entry #{row}; see `clustrix jobs list`")
        return self._entry(db, r)

    def find_task(self, job_id: str, *, host: str | None = None,
                  profile: str | None = None) -> tuple[LedgerEntry, int | None]:
        """Like :meth:`find`, also accepting one array task in the scheduler's own notation.

        ``123_7`` (SLURM), ``123[7]`` or ``123[7].server`` (PBS, Torque) and ``123.7`` (Grid
        Engine, whose task numbers start at 1) name a task of a recorded array; the result is
        the array's entry and the 0-based task index (None when ``job_id`` names a whole job).
        """
        text = str(job_id).strip()
        try:
            return self.find(text, host=host, profile=profile), None
        except LedgerError as missing:
            hit = self._find_task_id(text, host=host, profile=profile)
            if hit is None:
                raise missing from None
            return hit

    def _find_task_id(self, text: str, *, host: str | None,
                      profile: str | None) -> tuple[LedgerEntry, int] | None:
        # Stored task ids are what status output prints: 123_7, 123[7].srv, 123.8 (SGE: +1).
        # A PBS id typed without its server suffix matches the stored one's prefix.
        sql = ("SELECT tasks.job_row AS job_row, tasks.task_index AS task_index FROM tasks"
               " JOIN jobs ON jobs.id = tasks.job_row WHERE (tasks.task_id = ? OR tasks.task_id LIKE ? ESCAPE '\\')")
        params: list[Any] = [text, _like_prefix(text) + ".%"] if text.endswith("]") else [text, _like_prefix(text)]
        if host is not None:
            sql += " AND jobs.host IS ?"
            params.append(host)
        if profile is not None:
            sql += " AND jobs.profile_name = ?"
            params.append(profile)
        db = self._connection()
        rows = db.execute(sql + " ORDER BY jobs.submitted_at DESC, jobs.id DESC", params).fetchall()
        if not rows:
            return None
        targets = {r["job_row"] for r in rows}
        if len(targets) > 1:
            raise LedgerError(f"task id {text!r} matches tasks of several recorded jobs; pass --host or "
                              "--profile, or use the ledger row '#N' with --task")
        return self.by_row(rows[0]["job_row"]), int(rows[0]["task_index"])

    def find(self, job_id: str, *, host: str | None = None, profile: str | None = None) -> LedgerEntry:
        """The submission with scheduler id ``job_id`` (``#N`` selects ledger row N).

        Ids repeat across clusters (and after a scheduler restart): several matches on different
        hosts or profiles raise :class:`LedgerError` asking for ``host``/``profile``; on the same
        one the newest submission wins.
        """
        text = str(job_id).strip()
        if text.startswith("#") and text[1:].isdigit():
            return self.by_row(int(text[1:]))
        sql = "SELECT * FROM jobs WHERE job_id = ?"
        params: list[Any] = [text]
        if host is not None:
            sql += " AND host IS ?"
            params.append(host)
        if profile is not None:
            sql += " AND profile_name = ?"
            params.append(profile)
        db = self._connection()
        rows = db.execute(sql + " ORDER BY submitted_at DESC, id DESC", params).fetchall()
        if not rows:
            where = f" on host {host!r}" if host else ""
            raise LedgerError(f"job {text!r}{where} is not in the ledger at {self.path}; "
                              "see `clustrix jobs list`")
        targets = {(r["host"], r["profile_name"]) for r in rows}
        if len(targets) > 1:
            shown = ", ".join(f"host={h!r} profile={p!r}" for h, p in sorted(targets, key=str))
            raise LedgerError(f"job id {text!r} matches jobs on several targets ({shown}); "
                              "pass --host or --profile, or use the ledger row '#N' from `clustrix jobs list`")
        return self._entry(db, rows[0])

    @staticmethod
    def _entry(db: sqlite3.Connection, r: sqlite3.Row) -> LedgerEntry:
        tasks = db.execute("SELECT task_id, state, finished_at FROM tasks WHERE job_row = ? ORDER BY task_index",
                           (r["id"],)).fetchall()
        return LedgerEntry(
            row=r["id"], job_id=r["job_id"], backend=r["backend"], host=r["host"], port=r["port"],
            profile_name=r["profile_name"],
            profile=json.loads(r["profile_json"]), job_dir=r["job_dir"], key_file=r["key_file"],
            function=r["function"], is_array=bool(r["is_array"]), n_items=r["n_items"],
            chunk_size=r["chunk_size"], state=r["state"], error=r["error"],
            submitted_at=r["submitted_at"], updated_at=r["updated_at"], finished_at=r["finished_at"],
            task_ids=tuple(t["task_id"] for t in tasks), task_states=tuple(t["state"] for t in tasks),
            prepared_at=r["prepared_at"], task_finished_at=tuple(t["finished_at"] for t in tasks),
        )


_ADDED_COLUMNS = (("jobs", "port", "INTEGER"),         # version 2
                  ("jobs", "prepared_at", "REAL"),     # version 3
                  ("tasks", "finished_at", "REAL"))    # version 3
"""Columns later versions added, in order: an older ledger gets them (NULL in its old rows)."""


def _migrate(db: sqlite3.Connection) -> None:
    """Bring an older ledger's tables up to :data:`SCHEMA_VERSION` (idempotent)."""
    for table, column, kind in _ADDED_COLUMNS:
        if column not in {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _like_prefix(text: str) -> str:
    """``text`` as a literal LIKE prefix: its wildcards and the escape character escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
