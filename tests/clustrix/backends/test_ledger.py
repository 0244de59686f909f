"""The job ledger: SQLite persistence across connections, threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from clustrix.backends import ledger as ledger_module
from clustrix.backends.ledger import Ledger, LedgerError, profile_record


def _record(ledger: Ledger, job_id: str = "101", host: str | None = "login1", **kw):
    args = dict(job_id=job_id, backend="slurm", host=host,
                profile={"name": "hpc", "backend": "slurm", "host": host, "password": "hunter2",
                         "resources": {"cores": 2}},
                job_dir="/home/u/.clustrix/jobs/20250101-abc", key_file="/home/u/.clustrix/jobs/.clustrix-key",
                function="mod.fn")
    args.update(kw)
    return ledger.record(**args)


def test_record_and_find_roundtrip(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite3")
    row = _record(ledger)
    entry = ledger.find("101")
    assert entry.row == row
    assert entry.job_id == "101" and entry.backend == "slurm" and entry.host == "login1"
    assert entry.profile["resources"] == {"cores": 2}
    assert "password" not in entry.profile
    assert entry.state == "PENDING" and not entry.is_final and entry.finished_at is None
    assert (tmp_path / "l.sqlite3").stat().st_mode & 0o777 == 0o600


def test_states_and_tasks(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite3")
    row = _record(ledger, task_ids=["7_0", "7_1", "7_2"], n_items=5, chunk_size=2, job_id="7")
    ledger.set_task_states(row, {0: "COMPLETED", 2: "RUNNING"})
    ledger.set_state(row, "RUNNING")
    entry = ledger.by_row(row)
    assert entry.is_array and entry.n_items == 5 and entry.chunk_size == 2
    assert entry.task_ids == ("7_0", "7_1", "7_2")
    assert entry.task_states == ("COMPLETED", "PENDING", "RUNNING")
    ledger.set_state(row, "FAILED", error="ValueError: boom")
    entry = ledger.by_row(row)
    assert entry.is_final and entry.finished_at is not None and entry.error == "ValueError: boom"


def test_find_ambiguous_and_missing(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite3")
    _record(ledger, host="a")
    newer_same_host = _record(ledger, host="a")
    assert ledger.find("101").row == newer_same_host  # same target: newest wins
    _record(ledger, host="b")
    with pytest.raises(LedgerError, match="several targets"):
        ledger.find("101")
    assert ledger.find("101", host="b").host == "b"
    with pytest.raises(LedgerError, match="not in the ledger"):
        ledger.find("999")
    assert ledger.find(f"#{newer_same_host}").row == newer_same_host


def test_entries_order_and_active_filter(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite3")
    rows = [_record(ledger, job_id=str(i)) for i in range(5)]
    ledger.set_state(rows[1], "COMPLETED")
    listed = ledger.entries(limit=None)
    assert [e.job_id for e in listed] == ["4", "3", "2", "1", "0"]
    assert [e.job_id for e in ledger.entries(active_only=True, limit=None)] == ["4", "3", "2", "0"]
    assert len(ledger.entries(limit=2)) == 2


def test_concurrent_writers_threads_and_process(tmp_path):
    path = tmp_path / "l.sqlite3"
    ledger = Ledger(path)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(20):
                _record(ledger, job_id=f"{n}-{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    code = (f"from clustrix.backends.ledger import Ledger; l = Ledger({str(path)!r})\n"
            "for i in range(20): l.record(job_id=f'p-{i}', backend='ssh', host='h', profile={'name': 'x'},"
            " job_dir='/d', key_file='/k', function='f')")
    proc = subprocess.Popen([sys.executable, "-c", code])
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert proc.wait(60) == 0
    assert not errors
    assert len(Ledger(path).entries(limit=None)) == 100


def test_profile_record_is_json_safe():
    rec = profile_record({"name": "p", "setup": ("a", "b"), "env": (("A", "1"),), "api_token": "x"})
    assert rec == {"name": "p", "setup": ["a", "b"], "env": [["A", "1"]]}


def test_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("CLUSTRIX_LEDGER", str(tmp_path / "sub" / "ledger.db"))
    ledger = Ledger()
    assert ledger.path == tmp_path / "sub" / "ledger.db"
    _record(ledger)
    assert (tmp_path / "sub" / "ledger.db").exists()


def _record_array(ledger, job_id, task_ids, **kw):
    return ledger.record(job_id=job_id, backend=kw.pop("backend", "pbs"), host=kw.pop("host", "h"),
                         profile={"backend": "pbs"}, profile_name=kw.pop("profile_name", "p"),
                         job_dir="/d", key_file="/k", function="m.f", task_ids=task_ids,
                         n_items=len(task_ids), **kw)


def test_array_tasks_are_found_in_each_schedulers_notation(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite3")
    slurm_row = _record_array(ledger, "100", ["100_0", "100_1"], backend="slurm")
    pbs_row = _record_array(ledger, "200[].srv", ["200[0].srv", "200[1].srv"])
    sge_row = _record_array(ledger, "300", ["300.1", "300.2"], backend="sge")
    assert ledger.find_task("100_1")[0].row == slurm_row and ledger.find_task("100_1")[1] == 1
    assert ledger.find_task("200[1]")[0].row == pbs_row and ledger.find_task("200[1]")[1] == 1
    assert ledger.find_task("200[1].srv")[1] == 1
    assert ledger.find_task("300.2")[0].row == sge_row and ledger.find_task("300.2")[1] == 1  # SGE is 1-based
    assert ledger.find_task("100") == (ledger.by_row(slurm_row), None)
    with pytest.raises(LedgerError, match="not in the ledger"):
        ledger.find_task("100_7")
    with pytest.raises(LedgerError):
        ledger.find_task("1%0_1")  # LIKE wildcards are matched literally


def test_rows_record_the_profile_name_and_port(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite3")
    row = ledger.record(job_id="1", backend="slurm", host="127.0.0.1", port=2222, profile_name="sim",
                        profile={"backend": "slurm"}, job_dir="/d", key_file="/k", function="m.f")
    entry = ledger.by_row(row)
    assert (entry.profile_name, entry.port) == ("sim", 2222)
    assert ledger.find("1", profile="sim").row == row


def test_a_version_1_ledger_gains_the_port_column(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    old_schema = ledger_module._SCHEMA.replace("    port INTEGER,\n", "")
    db = sqlite3.connect(path)
    db.executescript(old_schema)
    db.execute("INSERT INTO jobs (job_id, backend, host, profile_name, profile_json, job_dir, key_file, function,"
               " state, submitted_at, updated_at) VALUES ('7', 'slurm', 'h', 'old', '{}', '/d', '/k', 'm.f',"
               " 'COMPLETED', 1, 1)")
    db.commit()
    db.close()
    entry = Ledger(path).find("7")
    assert (entry.profile_name, entry.port, entry.state) == ("old", None, "COMPLETED")


_VERSION_2_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, backend TEXT NOT NULL, host TEXT,
    port INTEGER, profile_name TEXT NOT NULL, profile_json TEXT NOT NULL, job_dir TEXT NOT NULL,
    key_file TEXT NOT NULL, function TEXT NOT NULL, is_array INTEGER NOT NULL DEFAULT 0,
    n_items INTEGER NOT NULL DEFAULT 1, chunk_size INTEGER NOT NULL DEFAULT 1, state TEXT NOT NULL,
    error TEXT, submitted_at REAL NOT NULL, updated_at REAL NOT NULL, finished_at REAL);
CREATE INDEX jobs_job_id ON jobs (job_id);
CREATE TABLE tasks (
    job_row INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE, task_index INTEGER NOT NULL,
    task_id TEXT NOT NULL, state TEXT NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (job_row, task_index));
INSERT INTO meta VALUES ('schema_version', '2');
INSERT INTO jobs (job_id, backend, host, port, profile_name, profile_json, job_dir, key_file, function,
                  is_array, n_items, state, submitted_at, updated_at)
    VALUES ('8', 'slurm', 'h', 22, 'old', '{}', '/d', '/k', 'm.f', 1, 2, 'RUNNING', 10, 10);
INSERT INTO tasks VALUES (1, 0, '8_0', 'RUNNING', 10), (1, 1, '8_1', 'RUNNING', 10);
"""


def test_a_version_2_ledger_gains_the_timeline_columns(tmp_path):
    import sqlite3

    path = tmp_path / "v2.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(_VERSION_2_SCHEMA)
    db.close()
    ledger = Ledger(path)
    entry = ledger.find("8")
    assert (entry.prepared_at, entry.task_finished_at, entry.task_ids) == (None, (None, None), ("8_0", "8_1"))
    ledger.set_task_states(entry.row, {0: "COMPLETED", 1: "RUNNING"})
    after = ledger.by_row(entry.row)
    assert after.task_finished_at[0] is not None and after.task_finished_at[0] >= 10
    assert after.task_finished_at[1] is None
    version = sqlite3.connect(path).execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (str(ledger_module.SCHEMA_VERSION),) == ("3",)
    Ledger(path)  # opening a migrated ledger again changes nothing
    assert ledger.by_row(entry.row).task_finished_at == after.task_finished_at


def test_client_timestamps_are_recorded(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite3")
    row = ledger.record(job_id="5", backend="slurm", host=None, profile={}, job_dir="/d", key_file="/k",
                        function="m.f", task_ids=("5_0", "5_1"), n_items=2, prepared_at=123.5)
    entry = ledger.by_row(row)
    assert entry.prepared_at == 123.5 and entry.submitted_at >= 123.5
    ledger.set_task_states(row, {1: "FAILED"})
    first = ledger.by_row(row).task_finished_at[1]
    ledger.set_task_states(row, {1: "FAILED"})  # a repeated final state keeps the first time
    assert first is not None and ledger.by_row(row).task_finished_at == (None, first)
