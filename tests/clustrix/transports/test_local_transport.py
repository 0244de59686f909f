"""LocalTransport with real subprocesses and files."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from transport_helpers import DEADLINE_S, HOSTILE, pid_gone, wait_until

from clustrix.errors import CommandError, CommandTimeoutError, SubmissionError, TransportError
from clustrix.transports import Completed, LocalTransport, Transport


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_is_a_transport() -> None:
    assert isinstance(LocalTransport(), Transport)
    assert LocalTransport().host is None


def test_exit_codes_streams_and_stdin() -> None:
    t = LocalTransport()
    done = t.run(["sh", "-c", "echo out; echo err >&2; exit 5"])
    assert (done.returncode, done.stdout, done.stderr, done.ok) == (5, "out\n", "err\n", False)
    assert t.run(["cat"], stdin="text\n").stdout == "text\n"
    assert t.run(["cat"], stdin=b"\xffraw").stdout == "\ufffdraw"
    assert t.run(["cat"]).stdout == ""  # stdin is /dev/null, not the test's terminal
    missing = t.run(["no-such-command-xyz"])
    assert missing.returncode == 127 and "command not found" in missing.stderr
    assert t.run([sys.executable, "-c", "print('py')"]).stdout == "py\n"


def test_big_output_on_both_streams() -> None:
    done = LocalTransport().run(
        ["sh", "-c", "head -c 6000000 /dev/zero & head -c 6000000 /dev/zero >&2; wait"],
        timeout_s=DEADLINE_S)
    assert len(done.stdout) == 6_000_000 and len(done.stderr) == 6_000_000


def test_argv_is_never_a_shell_line(tmp_path: Path) -> None:
    done = LocalTransport().run(["printf", "%s\\0", *HOSTILE])
    assert done.stdout.split("\0")[:-1] == HOSTILE
    assert not (Path.cwd() / "MARKER").exists()
    with pytest.raises(TypeError, match="single string"):
        LocalTransport().run("echo hi")  # type: ignore[arg-type]


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    with pytest.raises(CommandTimeoutError, match=r"localhost: command .*sleep 300.* 0\.5 s"):
        LocalTransport().run(
            ["sh", "-c", f"sleep 300 & echo $! > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; wait"],
            timeout_s=0.5)
    child = int(pidfile.read_text())
    wait_until(lambda: pid_gone(child), "the background child to be killed with its group")


def test_completed_check() -> None:
    ok = Completed(["true"], 0, "", "")
    assert ok.check() is ok and ok.argv == ("true",)
    bad = Completed(["sbatch", "x.sh"], 1, "", "sbatch: error: invalid partition\n", host="h")
    with pytest.raises(CommandError, match=r"'sbatch x.sh' exited 1 on h: sbatch: error: invalid "
                                           r"partition \(pick another\)") as caught:
        bad.check("pick another")
    assert caught.value.stderr == bad.stderr and caught.value.exit_code == 1
    with pytest.raises(SubmissionError):
        bad.check(error=SubmissionError)


def test_files_and_dirs_with_modes(tmp_path: Path) -> None:
    t = LocalTransport()
    old = os.umask(0)  # umask 0: modes must still be exactly what was asked
    try:
        t.makedirs(str(tmp_path / "a" / "b" / "c"))
        t.put_files({str(tmp_path / "a/b/c/f"): b"data", str(tmp_path / "a/b/c/g"): b""})
        t.put_files({str(tmp_path / "a/b/c/x.sh"): b"#!/bin/sh\n"}, mode=0o750)
    finally:
        os.umask(old)
    for rel in ("a", "a/b", "a/b/c"):
        assert _mode(tmp_path / rel) == 0o700
    assert _mode(tmp_path / "a/b/c/f") == 0o600 and _mode(tmp_path / "a/b/c/x.sh") == 0o750
    got = t.get_files([str(tmp_path / "a/b/c/f"), str(tmp_path / "a/b/c/g"), str(tmp_path / "nope")])
    assert list(got.values()) == [b"data", b"", None]
    t.put_files({str(tmp_path / "a/b/c/f"): b"replaced"})
    assert (tmp_path / "a/b/c/f").read_bytes() == b"replaced"
    assert sorted(os.listdir(tmp_path / "a/b/c")) == ["f", "g", "x.sh"]  # no temp files left
    existing = tmp_path / "open"
    existing.mkdir()
    existing.chmod(0o755)
    t.makedirs(str(existing))
    t.makedirs(str(existing / "job"))
    assert _mode(existing) == 0o755 and _mode(existing / "job") == 0o700


def test_file_errors(tmp_path: Path) -> None:
    t = LocalTransport()
    (tmp_path / "file").write_text("x")
    with pytest.raises(TransportError, match="file"):
        t.makedirs(str(tmp_path / "file" / "sub"))
    with pytest.raises(TransportError, match="missing-dir"):
        t.put_files({str(tmp_path / "missing-dir" / "f"): b"x"})
    with pytest.raises(TransportError, match="directory"):
        t.get_files([str(tmp_path)])


def test_home_and_expand_path() -> None:
    t = LocalTransport()
    assert t.home() == os.path.expanduser("~")
    assert t.expand_path("~/x") == os.path.join(os.path.expanduser("~"), "x")
    assert t.expand_path("rel/x") == "rel/x"
    with pytest.raises(ValueError, match="~other"):
        t.expand_path("~other/x")


def test_listdir_names_and_missing(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("1")
    (tmp_path / "b").mkdir()
    t = LocalTransport()
    assert sorted(t.listdir(str(tmp_path))) == ["a", "b"]
    assert t.listdir(str(tmp_path / "nope")) is None
    with pytest.raises(TransportError, match="a"):
        t.listdir(str(tmp_path / "a"))  # a file, not a directory


@pytest.mark.parametrize("bad", [None, 0, -1, float("inf"), float("nan"), True, "60"])
def test_every_command_has_a_deadline(bad):
    with pytest.raises(ValueError, match="command_timeout_s must be a positive, finite number"):
        LocalTransport(command_timeout_s=bad)
    with pytest.raises(ValueError, match="timeout_s must be a positive, finite number"):
        LocalTransport().run(["true"], timeout_s=bad if bad is not None else float("inf"))
