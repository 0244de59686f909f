"""``python -m clustrix.runner`` as a real subprocess: results, arrays, output capture, exit codes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

import pytest

from clustrix.errors import JobExitError, PayloadError
from clustrix.payload.codec import Call, dump_array, dump_call, load_result, write_key_file
from clustrix.payload.runner import EXIT_KEY, EXIT_OK, EXIT_PAYLOAD, EXIT_USAGE

DEADLINE_S = 60
HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def job(tmp_path):
    """A job dir (0700) and a key file outside it."""
    job_dir = tmp_path / "job"
    job_dir.mkdir(mode=0o700)
    key_file = str(tmp_path / "keys" / "hmac.key")
    key = write_key_file(key_file)
    return job_dir, key_file, key


class Touch:
    """Unpickling this creates a file: proves whether a payload was ever unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def run(job_dir, key_file, task="", *extra):
    """Run the runner as a batch script would, with this test module importable (PYTHONPATH)."""
    argv = [sys.executable, "-m", "clustrix.runner", str(job_dir), "--task", task, "--key-file", key_file, *extra]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(argv, capture_output=True, text=True, timeout=DEADLINE_S, cwd=str(job_dir), env=env)


def stage(job_dir, blob):
    (job_dir / "call.pkl").write_bytes(blob)


def result(job_dir, key, task=None):
    name = "result.pkl" if task is None else f"result.{task}.pkl"
    return load_result((job_dir / name).read_bytes(), key)


def chatty(x, fail=False):
    print("to stdout", x)
    print("to stderr", x, file=sys.stderr)
    if fail:
        raise KeyError(x)
    return {"x": x}


def test_single_call_value_and_output(job):
    job_dir, key_file, key = job
    stage(job_dir, dump_call(Call(chatty, (5,)), key))
    proc = run(job_dir, key_file)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert "to stdout 5" in proc.stdout and "to stderr 5" in proc.stderr  # tee: logs see it too
    (env,) = result(job_dir, key)
    assert env.unwrap() == {"x": 5}
    assert env.stdout == "to stdout 5\n" and env.stderr == "to stderr 5\n"
    assert env.pid != os.getpid() and env.host and env.ended >= env.started
    assert stat.S_IMODE((job_dir / "result.pkl").stat().st_mode) == 0o600
    assert sorted(p.name for p in job_dir.iterdir()) == ["call.pkl", "exit_code", "result.pkl"]
    assert (job_dir / "exit_code").read_text() == "0\n"  # the success the script would record


def test_exception_travels_with_type_and_traceback(job):
    job_dir, key_file, key = job
    stage(job_dir, dump_call(Call(chatty, ("k",), {"fail": True}), key))
    proc = run(job_dir, key_file)
    assert proc.returncode == EXIT_OK, proc.stderr
    (env,) = result(job_dir, key)
    assert env.exc_type == "KeyError" and env.stdout == "to stdout k\n"
    with pytest.raises(KeyError) as info:
        env.unwrap()
    assert "in chatty" in str(info.value.__cause__)
    assert "clustrix/runner.py" not in env.remote_traceback  # the runner's own frame is dropped


def test_main_script_function_traceback_names_its_file(tmp_path, job):
    job_dir, key_file, key = job
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from clustrix.payload.codec import Call, dump_call
        def boom(v):
            raise ValueError(v)
        key = bytes.fromhex(open({key_file!r}).read().strip())
        open({str(job_dir / "call.pkl")!r}, "wb").write(dump_call(Call(boom, ("bad",)), key))
    """))
    subprocess.run([sys.executable, str(script)], check=True, timeout=DEADLINE_S)
    assert run(job_dir, key_file).returncode == EXIT_OK
    (env,) = result(job_dir, key)
    with pytest.raises(ValueError, match="bad"):
        env.unwrap()
    assert f'File "{script}", line 5, in boom' in env.remote_traceback


def test_array_task_runs_every_item_of_its_chunk_in_order(job):
    job_dir, key_file, key = job
    chunks = [[((0,), {})], [((1,), {}), ((2,), {"fail": True}), ((3,), {})]]
    stage(job_dir, dump_array(chatty, chunks, key))
    proc = run(job_dir, key_file, "1")
    assert proc.returncode == EXIT_OK, proc.stderr
    assert not (job_dir / "result.pkl").exists() and not (job_dir / "result.0.pkl").exists()
    envs = result(job_dir, key, 1)
    assert [e.ok for e in envs] == [True, False, True]
    assert envs[0].unwrap() == {"x": 1} and envs[2].unwrap() == {"x": 3}
    assert [e.stdout for e in envs] == ["to stdout 1\n", "to stdout 2\n", "to stdout 3\n"]
    with pytest.raises(KeyError):
        envs[1].unwrap()


def exits(how):
    if how == "sys":
        sys.exit(4)
    os._exit(7)


def test_sys_exit_is_a_result_but_os_exit_leaves_none(job):
    job_dir, key_file, key = job
    stage(job_dir, dump_call(Call(exits, ("sys",)), key))
    assert run(job_dir, key_file).returncode == EXIT_OK
    with pytest.raises(JobExitError) as info:  # a SystemExit here would end the caller
        result(job_dir, key)[0].unwrap()
    assert isinstance(info.value.__cause__, SystemExit)
    (job_dir / "result.pkl").unlink()
    stage(job_dir, dump_call(Call(exits, ("os",)), key))
    assert run(job_dir, key_file).returncode == 7
    assert not (job_dir / "result.pkl").exists()


def returns_unpicklable():
    import threading

    print("made a lock")
    return threading.Lock()


def test_unpicklable_return_value_is_reported(job):
    job_dir, key_file, key = job
    stage(job_dir, dump_call(Call(returns_unpicklable), key))
    assert run(job_dir, key_file).returncode == EXIT_OK
    (env,) = result(job_dir, key)
    assert env.stdout == "made a lock\n"
    with pytest.raises(PayloadError, match="_thread.lock.*cannot be pickled"):
        env.unwrap()


def returns_values_plain_pickle_refuses(n):
    class Local:  # a class plain pickle cannot find by name
        def __init__(self, v):
            self.v = v

    loaded_before = "cloudpickle" in sys.modules
    return loaded_before, (lambda x: x + n), Local(n), [1, 2]


def test_values_plain_pickle_refuses_still_come_back(job):
    """The job pickles results with plain pickle first; what it refuses goes through cloudpickle."""
    job_dir, key_file, key = job
    stage(job_dir, dump_call(Call(returns_values_plain_pickle_refuses, (10,)), key))
    proc = run(job_dir, key_file)
    assert proc.returncode == EXIT_OK, proc.stderr
    loaded_before, add, local, data = result(job_dir, key)[0].unwrap()
    assert loaded_before is False  # the fallback, not a cloudpickle already loaded, did this
    assert add(5) == 15 and local.v == 10 and type(local).__name__ == "Local" and data == [1, 2]


def test_module_next_to_the_script_is_found_through_sys_path_hints(tmp_path, job, monkeypatch):
    job_dir, key_file, key = job
    code_dir = tmp_path / "project"
    code_dir.mkdir()
    (code_dir / "h3_user_mod.py").write_text("def double(v):\n    return 2 * v\n")
    monkeypatch.syspath_prepend(str(code_dir))
    import h3_user_mod

    stage(job_dir, dump_call(Call(h3_user_mod.double, (21,)), key, sys_path=[str(code_dir)]))
    assert run(job_dir, key_file).returncode == EXIT_OK
    assert result(job_dir, key)[0].unwrap() == 42

    # Without the hint the module is not importable there: reported as the function's error.
    stage(job_dir, dump_call(Call(h3_user_mod.double, (21,)), key, sys_path=[]))
    assert run(job_dir, key_file).returncode == EXIT_OK
    with pytest.raises(ModuleNotFoundError, match="h3_user_mod.*importable on the execution host"):
        result(job_dir, key)[0].unwrap()


def test_missing_or_tampered_payload_exits_3_without_unpickling(tmp_path, job):
    job_dir, key_file, key = job
    proc = run(job_dir, key_file)
    assert proc.returncode == EXIT_PAYLOAD and "cannot read the payload" in proc.stderr
    marker = tmp_path / "unpickled"
    blob = bytearray(dump_call(Call(print, (Touch(str(marker)),)), key))
    blob[-3] ^= 0x10
    stage(job_dir, bytes(blob))
    proc = run(job_dir, key_file)
    assert proc.returncode == EXIT_PAYLOAD and "HMAC check failed" in proc.stderr
    stage(job_dir, bytes(blob[:100]))
    proc = run(job_dir, key_file)
    assert proc.returncode == EXIT_PAYLOAD and "truncated" in proc.stderr
    assert not marker.exists() and not (job_dir / "result.pkl").exists()
    # Control: the same payload, untouched, is unpickled by the runner (and creates the marker).
    stage(job_dir, dump_call(Call(print, (Touch(str(marker)),)), key))
    assert run(job_dir, key_file).returncode == EXIT_OK and marker.exists()


def test_key_file_problems_exit_4(tmp_path, job):
    job_dir, key_file, key = job
    stage(job_dir, dump_call(Call(chatty, (1,)), key))
    proc = run(job_dir, str(tmp_path / "missing.key"))
    assert proc.returncode == EXIT_KEY and "does not exist" in proc.stderr
    os.chmod(key_file, 0o644)
    proc = run(job_dir, key_file)
    assert proc.returncode == EXIT_KEY and f"chmod 600 {key_file}" in proc.stderr
    assert not (job_dir / "result.pkl").exists()


def test_no_fsync_still_writes_the_result(job):
    """The local backend's flag: same result file, same mode, just no fsync."""
    job_dir, key_file, key = job
    stage(job_dir, dump_call(Call(chatty, (8,)), key))
    proc = run(job_dir, key_file, "", "--no-fsync")
    assert proc.returncode == EXIT_OK, proc.stderr
    assert result(job_dir, key)[0].unwrap() == {"x": 8}
    assert stat.S_IMODE((job_dir / "result.pkl").stat().st_mode) == 0o600
    assert sorted(p.name for p in job_dir.iterdir()) == ["call.pkl", "exit_code", "result.pkl"]
    assert (job_dir / "exit_code").read_text() == "0\n"  # the success the script would record


@pytest.mark.parametrize(
    "argv,message",
    [
        (["JOB", "--task", "abc", "--key-file", "K"], "--task must be a task index"),
        (["JOB", "--task", ""], "--key-file is missing"),
        (["--task", "", "--key-file", "K"], "JOB_DIR is missing"),
        (["JOB", "--task", "", "--key-file", "K", "--bogus"], "unknown option"),
    ],
)
def test_bad_arguments_exit_2(job, argv, message):
    job_dir, key_file, _ = job
    argv = [str(job_dir) if a == "JOB" else key_file if a == "K" else a for a in argv]
    proc = subprocess.run([sys.executable, "-m", "clustrix.runner", *argv], capture_output=True, text=True,
                          timeout=DEADLINE_S)
    assert proc.returncode == EXIT_USAGE
    assert message in proc.stderr and "usage:" in proc.stderr


def test_task_and_payload_kind_must_agree(job):
    job_dir, key_file, key = job
    stage(job_dir, dump_array(chatty, [[((1,), {})]], key))
    proc = run(job_dir, key_file, "")
    assert proc.returncode == EXIT_USAGE and "array payload; pass --task 0..0" in proc.stderr
    proc = run(job_dir, key_file, "3")
    assert proc.returncode == EXIT_USAGE and "out of range" in proc.stderr
    stage(job_dir, dump_call(Call(chatty, (1,)), key))
    proc = run(job_dir, key_file, "0")
    assert proc.returncode == EXIT_USAGE and "single call" in proc.stderr
