"""``clustrix jobs timeline``'s own rules: what it refuses, and the PNG path without its extra.

The scheduler-backed runs are end to end in ``tests/e2e/test_timeline_cli.py``; here the
recorded job is a plain-ssh one (no scheduler: nothing is run on its host to draw it).
"""

from __future__ import annotations

import importlib
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from clustrix.backends.ledger import Ledger
from clustrix.cli import main as cli
from clustrix.gantt import png as png_module

NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def ledger_path(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    profile = {"name": "far", "backend": "ssh", "host": "127.0.0.1", "port": 9, "remote_dir": "/scratch/x",
               "use_ssh_config": False}
    row = ledger.record(job_id="4242", backend="ssh", host="127.0.0.1", port=9, profile_name="far",
                        profile=profile, job_dir="/scratch/x/j", key_file="/scratch/x/k", function="m.f",
                        prepared_at=1000.0)
    ledger.set_state(row, "COMPLETED")
    arr = ledger.record(job_id="77", backend="ssh", host="127.0.0.1", port=9, profile_name="far",
                        profile=profile, job_dir="/scratch/x/a", key_file="/scratch/x/k", function="m.g",
                        task_ids=("77_0", "77_1"), n_items=2, prepared_at=1000.0)
    ledger.set_task_states(arr, {0: "COMPLETED", 1: "FAILED"})
    return str(path)


def run(*args):
    return CliRunner().invoke(cli.main, ["jobs", *args], catch_exceptions=False)


def test_a_job_without_a_scheduler_is_drawn_from_the_ledger(ledger_path, tmp_path):
    out = tmp_path / "t.svg"
    result = run("--ledger", ledger_path, "timeline", "4242", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "1 tasks: 1 COMPLETED" in result.output and "ssh has no scheduler accounting" in result.output
    (row,) = [g for g in ET.parse(out).getroot().iter(f"{NS}g") if "task" in g.get("class", "").split()]
    assert row.get("data-task") == "4242" and row.get("data-state") == "COMPLETED"


def test_last_n_takes_the_newest_first(ledger_path, tmp_path):
    result = run("--ledger", ledger_path, "timeline", "--last", "2", "-o", str(tmp_path / "t.html"))
    assert result.exit_code == 0, result.output
    assert "3 tasks of 2 jobs" in result.output and "2 COMPLETED, 1 FAILED" in result.output
    assert (tmp_path / "t.html").read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("args,message", [
    (["4242", "--last", "2"], "give a JOB_ID or --last N, not both"),
    (["77_1"], "one task of array 77"),
    (["31337"], "not in the ledger"),
])
def test_refusals_name_the_fix(ledger_path, args, message):
    result = run("--ledger", ledger_path, "timeline", *args)
    assert result.exit_code != 0 and message in result.output


def test_png_without_matplotlib_names_the_extra(ledger_path, tmp_path, monkeypatch):
    real = importlib.import_module

    def no_matplotlib(name, *args, **kwargs):
        if name.split(".")[0] == "matplotlib":
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(png_module.importlib, "import_module", no_matplotlib)
    result = run("--ledger", ledger_path, "timeline", "4242", "-o", str(tmp_path / "t.png"))
    assert result.exit_code == 1
    assert "pip install 'clustrix[plot]'" in result.output and "--format html or svg" in result.output
    assert not (tmp_path / "t.png").exists()


def test_a_cluster_that_cannot_be_reached_still_draws_its_ledger_rows(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    profile = {"name": "gone", "backend": "slurm", "host": "127.0.0.1", "port": 9, "remote_dir": "/scratch/x",
               "use_ssh_config": False, "connect_timeout_s": 5}
    row = ledger.record(job_id="12", backend="slurm", host="127.0.0.1", port=9, profile_name="gone",
                        profile=profile, job_dir="/scratch/x/j", key_file="/scratch/x/k", function="m.f", prepared_at=1.0)
    ledger.set_state(row, "COMPLETED")
    result = run("--ledger", str(path), "timeline", "-o", str(tmp_path / "t.svg"))
    assert result.exit_code == 0, result.output
    assert "could not" in result.output and "127.0.0.1" in result.output and "ledger's times only" in result.output
