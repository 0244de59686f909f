"""``clustrix demo`` as a user runs it: the installed console script, in a real subprocess.

Each run gets its own TMPDIR (so the simulator's root and the demo's temporary data dir land in
a directory this test owns) and its own XDG data/config dirs (so "the user's ledger" is a place
the test can inspect). After the run no process may mention that TMPDIR in its command line:
the controller, the tool server, the SSH server and every job process must be gone.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clustrix.backends.ledger import Ledger

CLUSTRIX = Path(sys.executable).parent / "clustrix"
DEADLINE_S = 240.0


def demo_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CLUSTRIX_") and k not in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    env.update(TMPDIR=str(tmpdir), XDG_DATA_HOME=str(tmp_path / "xdg-data"),
               XDG_CONFIG_HOME=str(tmp_path / "xdg-config"), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that contain ``text`` (zombies have empty cmdlines)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:  # exited meanwhile, or not ours to read
            continue
        if text in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


def assert_nothing_left(tmp_path: Path) -> None:
    tmpdir = str(tmp_path / "tmp")
    deadline = time.monotonic() + 15
    while processes_mentioning(tmpdir) and time.monotonic() < deadline:
        time.sleep(0.1)  # a killed process may need a moment to be reaped by its parent
    assert processes_mentioning(tmpdir) == []
    assert sorted(os.listdir(tmpdir)) == []  # simulator root and temporary data dir removed


def sacct_rows(stdout: str) -> dict[str, str]:
    """JobID -> State from the sacct table the demo prints."""
    return dict(re.findall(r"^ {3}(\d+(?:_\d+)?)\s+\S+\s+([A-Z_]+)\s", stdout, flags=re.MULTILINE))


def test_demo_runs_end_to_end_and_cleans_up(tmp_path: Path) -> None:
    done = subprocess.run([str(CLUSTRIX), "demo", "--items", "8", "--nodes", "2", "--cores-per-node", "2"],
                          env=demo_env(tmp_path), capture_output=True, text=True, timeout=DEADLINE_S)
    out = done.stdout
    assert done.returncode == 0, f"stdout:\n{out}\nstderr:\n{done.stderr}"
    assert "results: [0, 1, 4, 9, 16, 25, 36, 49]" in out
    assert "all correct" in out

    # The two single calls report the job they ran in; the table lists them and the array's 8 tasks.
    single = re.findall(r"ran as job (\d+) on simulated node (c\d+)", out)
    assert len(single) == 2 and single[0][0] != single[1][0]
    rows = sacct_rows(out)
    array_ids = {key.split("_")[0] for key in rows if "_" in key}
    assert len(array_ids) == 1, rows  # the map is ONE job array
    (array_id,) = array_ids
    expected = {job for job, _node in single} | {f"{array_id}_{i}" for i in range(8)}
    assert set(rows) == expected
    assert set(rows.values()) == {"COMPLETED"}
    assert re.search(rf"job {array_id}\s+array: 8 item\(s\) in 8 task\(s\)\s+COMPLETED", out)

    for label in ("simulator start", "single call, first", "single call, warm", "map over 8"):
        assert re.search(rf"{re.escape(label)}.*\d+\.\d\d s", out), label
    assert "Simulator stopped" in out

    # The user's data dir (ledger, keys) was never created; nothing is left running or on disk.
    assert not (tmp_path / "xdg-data" / "clustrix").exists()
    assert_nothing_left(tmp_path)


def test_keep_ledger_records_the_jobs_in_the_users_ledger(tmp_path: Path) -> None:
    ledger_file = tmp_path / "mine" / "ledger.sqlite3"
    done = subprocess.run([str(CLUSTRIX), "demo", "--items", "3", "--keep-ledger"],
                          env=demo_env(tmp_path, CLUSTRIX_LEDGER=str(ledger_file)),
                          capture_output=True, text=True, timeout=DEADLINE_S)
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    entries = Ledger(ledger_file).entries(limit=None)
    assert sorted((e.is_array, e.n_items, e.state) for e in entries) == [
        (False, 1, "COMPLETED"), (False, 1, "COMPLETED"), (True, 3, "COMPLETED")]
    assert not (tmp_path / "xdg-data" / "clustrix").exists()  # the keys went to the temporary dir
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize(("signum", "times", "items"), [
    (signal.SIGINT, 1, 60),  # Ctrl-C: the map cancels its unfinished items, then the simulator stops
    (signal.SIGTERM, 1, 60),
    (signal.SIGINT, 2, 400),  # a second Ctrl-C skips the cancelling; stopping the simulator kills all
])
def test_interrupt_during_the_map_stops_the_simulator(tmp_path: Path, signum: int, times: int, items: int) -> None:
    proc = subprocess.Popen([str(CLUSTRIX), "demo", "--items", str(items)], env=demo_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        seen = []
        deadline = time.monotonic() + DEADLINE_S
        for line in proc.stdout:  # ends at EOF; the deadline guards a demo that never gets there
            seen.append(line)
            if line.startswith("2. A map") or time.monotonic() > deadline:
                break
        assert seen and seen[-1].startswith("2. A map"), "".join(seen)
        # Interrupt once tasks of the array are running (their processes work under the sim's home).
        root = next(re.search(r"simulator root: (\S+)", s).group(1) for s in seen if "simulator root" in s)
        while not processes_mentioning(os.path.join(root, "home")) and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(times):
            proc.send_signal(signum)  # a no-op once the demo has exited
            time.sleep(0.5)
        try:
            _out, err = proc.communicate(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            # A stuck demo: ask it for every thread's stack (clustrix demo registers SIGUSR1 with
            # faulthandler) so the failure shows where it hangs.
            proc.send_signal(signal.SIGUSR1)
            time.sleep(2)
            proc.kill()
            _out, err = proc.communicate()
            pytest.fail(f"clustrix demo did not exit within {DEADLINE_S} s of {signum!r}; its stacks:\n{err}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Interrupted; the simulator and its jobs were stopped." in err
    assert_nothing_left(tmp_path)
