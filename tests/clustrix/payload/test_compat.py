"""The preflight's verdicts (a table over both sides' versions) and the signed shipped-code list."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from clustrix.errors import PayloadAuthError, PayloadError, PreflightError
from clustrix.payload import compat
from clustrix.payload.code_paths import CODE_FILE, seal_code_paths, shipped_dirs
from clustrix.payload.compat import Needs, PythonInfo, compare
from clustrix.payload.format import FORMAT_VERSION

CLIENT = PythonInfo((3, 11, 7), "cpython", "/venv/bin/python", "3.1.3", "0.3.0", FORMAT_VERSION, True)
WHERE = "/usr/bin/python3 on login1"


def statuses(remote: PythonInfo, needs: Needs) -> dict[str, str]:
    return {row.name: row.status for row in compare(CLIENT, remote, needs, where=WHERE)}


@pytest.mark.parametrize(("changes", "needs", "expected"), [
    ({}, Needs(by_value=True), {"python": "ok", "clustrix": "ok", "cloudpickle": "ok"}),
    ({"python": (3, 11, 2)}, Needs(by_value=True), {"python": "ok"}),  # patch releases load each other's bytecode
    ({"python": (3, 10, 4)}, Needs(by_value=True), {"python": "fail"}),
    ({"python": (3, 10, 4)}, Needs(by_value=False), {"python": "warn"}),  # by reference only
    ({"python": (3, 10, 4)}, Needs(), {"python": "fail"}),  # unknown (doctor): assume by-value code
    ({"implementation": "pypy"}, Needs(by_value=True), {"python": "fail"}),
    ({"cloudpickle": None}, Needs(by_value=True), {"cloudpickle": "fail"}),
    ({"cloudpickle": None}, Needs(by_value=False), {"cloudpickle": "warn"}),
    ({"cloudpickle": "2.2.1"}, Needs(by_value=True), {"cloudpickle": "fail"}),
    ({"cloudpickle": "3.0.0"}, Needs(by_value=True), {"cloudpickle": "warn"}),
    ({"clustrix": None, "format_version": None}, Needs(by_value=False), {"clustrix": "fail"}),
    ({"format_version": FORMAT_VERSION - 1}, Needs(by_value=False), {"clustrix": "fail"}),
    ({"ships_code": False}, Needs(by_value=False, ships_code=True), {"clustrix": "fail"}),
    ({"ships_code": False}, Needs(by_value=False), {"clustrix": "ok"}),
    ({"clustrix": "0.2.9"}, Needs(by_value=False), {"clustrix": "warn"}),
])
def test_verdicts(changes, needs, expected):
    got = statuses(replace(CLIENT, **changes), needs)
    assert {k: got[k] for k in expected} == expected


def test_messages_name_both_sides_and_the_fix():
    rows = compare(CLIENT, replace(CLIENT, python=(3, 9, 18), cloudpickle="2.0.0", executable="/usr/bin/python3"),
                   Needs(by_value=True), where=WHERE)
    text = {r.name: r.detail for r in rows}
    assert "CPython 3.11.7" in text["python"] and "CPython 3.9.18" in text["python"] and WHERE in text["python"]
    assert "Fix: point the profile's python at a CPython 3.11" in text["python"]
    assert "cloudpickle 2.0.0, this client 3.1.3" in text["cloudpickle"]
    assert "/usr/bin/python3 -m pip install 'cloudpickle==3.1.3'" in text["cloudpickle"]


class Sh:
    """Runs the probe on this machine, as a transport would on the host."""

    host = None

    def __init__(self):
        self.runs = 0

    def run(self, argv, *, stdin=None, timeout_s=None, retry_safe=False):
        self.runs += 1
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout_s, env=env)


def test_the_probe_reports_this_python_and_is_asked_once_per_session():
    compat.forget_cache()
    sh = Sh()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(compat.__file__))))
    env = (("PYTHONPATH", root),)
    info = compat.check_remote_python(sh, sys.executable, env=env, setup=["echo chatty setup line"])
    assert info.python == tuple(sys.version_info[:3]) and info.format_version == FORMAT_VERSION and info.ships_code
    assert info.clustrix_path == os.path.join(root, "clustrix")
    compat.check_remote_python(sh, sys.executable, env=env, setup=["echo chatty setup line"])
    assert sh.runs == 1
    compat.forget_cache()


def test_shipped_code_lists_are_signed_and_bound_to_their_job(tmp_path):
    key, other_key = b"a" * 32, b"b" * 32
    code = tmp_path / ".clustrix-code" / "mylab-abc"
    code.mkdir(parents=True)
    job = tmp_path / "20250101-job1"
    job.mkdir()
    (job / CODE_FILE).write_bytes(seal_code_paths(["../.clustrix-code/mylab-abc"], str(job), key))
    assert shipped_dirs(str(job), key) == [str(code)]
    with pytest.raises(PayloadAuthError):
        shipped_dirs(str(job), other_key)
    copied = tmp_path / "20250101-job2"
    copied.mkdir()
    (copied / CODE_FILE).write_bytes((job / CODE_FILE).read_bytes())
    with pytest.raises(PayloadError, match="belongs to another job"):
        shipped_dirs(str(copied), key)
    code.rmdir()
    with pytest.raises(PayloadError, match="is gone from .*submit the job again"):
        shipped_dirs(str(job), key)
    assert shipped_dirs(str(copied.parent / "no-list"), key) == []


class Captured:
    """A host whose probe printed ``stdout`` (captured output, as a transport handler returns it)."""

    host = "login1"

    def __init__(self, stdout: str, returncode: int = 0):
        self.stdout, self.returncode = stdout, returncode

    def run(self, argv, *, stdin=None, timeout_s=None, retry_safe=False):
        return subprocess.CompletedProcess(argv, self.returncode, self.stdout, "")


def test_check_raises_with_every_problem_listed():
    compat.forget_cache()
    data = {"python": [3, 10, 1], "implementation": "cpython", "executable": "/usr/bin/python3",
            "cloudpickle_error": "ModuleNotFoundError: No module named 'cloudpickle'", "clustrix": "0.3.0",
            "format_version": FORMAT_VERSION, "ships_code": True}
    line = "Welcome to login1\nCLUSTRIX-PREFLIGHT " + json.dumps(data) + "\n"
    with pytest.raises(PreflightError) as info:
        compat.check_remote_python(Captured(line), "python3", needs=Needs(by_value=True))
    assert [p.split(":")[0] for p in info.value.problems] == ["python", "cloudpickle"]
    assert "python3 on login1 cannot run this client's jobs" in str(info.value)
    import cloudpickle

    here = json.dumps(list(sys.version_info[:3]))
    fixed = Captured(line.replace("[3, 10, 1]", here).replace(
        '"cloudpickle_error"', f'"cloudpickle": "{cloudpickle.__version__}", "x"'))
    compat.check_remote_python(fixed, "python3", needs=Needs(by_value=True))  # asked again: now it passes
    compat.forget_cache()
    with pytest.raises(PreflightError, match="cannot run the profile's python .*exit status 127"):
        compat.check_remote_python(Captured("", returncode=127), "python3")
    compat.forget_cache()
