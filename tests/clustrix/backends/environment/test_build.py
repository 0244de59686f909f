"""The venv build on the execution host, through a real transport (this machine's shell).

What a cluster's login node does is the same POSIX shell: the lock that makes concurrent
submissions build once, the stale-lock rule, the completion marker, the deadline and the log.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from clustrix.backends.environment import EnvironmentManager, prepare_environment
from clustrix.backends.environment.wheels import write_wheel
from clustrix.config.profile import Profile
from clustrix.errors import EnvironmentBuildError
from clustrix.transports.local import LocalTransport


class CountingTransport:
    """A real LocalTransport that remembers what it was asked (runs and uploads)."""

    def __init__(self) -> None:
        self.inner = LocalTransport(command_timeout_s=60)
        self.host = None
        self.runs: list[list[str]] = []
        self.puts: list[list[str]] = []

    def run(self, argv, **kw):
        self.runs.append(list(argv))
        return self.inner.run(argv, **kw)

    def put_files(self, files, **kw):
        self.puts.append(sorted(files))
        return self.inner.put_files(files, **kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("wheel-cache"))


def make_profile(tmp_path: Path, **environment) -> Profile:
    environment.setdefault("wheelhouse", True)
    python = "python3" if "python" in environment else sys.executable
    return Profile.from_mapping({"backend": "slurm", "remote_dir": str(tmp_path / "remote"),
                                 "python": python, "environment": environment}, name="t")


def manager(profile: Profile, cache_dir: str, transport=None) -> EnvironmentManager:
    return EnvironmentManager(transport or LocalTransport(command_timeout_s=60), profile,
                              lambda: profile.remote_dir, cache_dir=cache_dir)


def run_python(python: str, code: str) -> str:
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, env={"PATH": os.defpath})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_concurrent_builders_build_once_and_later_sessions_pay_one_probe(tmp_path: Path, cache_dir: str):
    profile = make_profile(tmp_path, pip=["sortedcontainers"])
    results: list[object] = []

    def one() -> None:
        try:
            results.append(manager(profile, cache_dir).interpreter())
        except BaseException as exc:  # noqa: BLE001 - reported below
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert len(results) == 8 and all(not isinstance(r, BaseException) for r in results), results
    assert len({r.python for r in results}) == 1 and sum(r.built for r in results) == 1
    env_dir = Path(results[0].env_dir)
    assert len((env_dir / "builds").read_text().splitlines()) == 1
    assert (env_dir / "ready").is_file() and not (env_dir / "lock").exists()
    # the venv is isolated from the interpreter it was made from: only what was asked for
    python = results[0].python
    assert run_python(python, "import sortedcontainers, sys; print(sortedcontainers.__file__.startswith(sys.prefix))") == "True"
    assert run_python(python, "import importlib.util as u; print(u.find_spec('hypothesis') is None)") == "True"
    assert run_python(python, "import clustrix.runner, cloudpickle; print('ok')") == "ok"

    counting = CountingTransport()
    again = manager(profile, cache_dir, counting).interpreter()
    assert again.python == python and not again.built
    assert len(counting.runs) == 1 and counting.puts == []  # one probe, nothing uploaded


def test_a_half_built_venv_is_rebuilt_and_a_stale_lock_is_broken(tmp_path: Path, cache_dir: str):
    profile = make_profile(tmp_path, pip=["iniconfig"])
    first = manager(profile, cache_dir).interpreter()
    env_dir = Path(first.env_dir)
    (env_dir / "ready").unlink()  # as if the build died before its last step
    dead = subprocess.Popen(["true"])
    dead.wait()
    (env_dir / "lock").mkdir()
    (env_dir / "lock" / "owner").write_text(f"{socket.gethostname()} {dead.pid}\n")
    second = manager(profile, cache_dir).interpreter()
    assert second.built and second.python == first.python
    assert len((env_dir / "builds").read_text().splitlines()) == 2
    assert "broke the stale lock" in (env_dir / "build.log").read_text()


def test_a_lock_older_than_the_deadline_is_broken_whoever_holds_it(tmp_path: Path, cache_dir: str):
    profile = make_profile(tmp_path, pip=["iniconfig"], build_timeout_s=30)
    env_dir = Path(manager(profile, cache_dir).interpreter().env_dir)
    (env_dir / "ready").unlink()
    (env_dir / "lock").mkdir()
    (env_dir / "lock" / "owner").write_text("another-login-node 12345\n")
    old = (env_dir / "lock").stat().st_mtime - 3600
    os.utime(env_dir / "lock", (old, old))
    assert manager(profile, cache_dir).interpreter().built


def test_a_package_the_remote_python_cannot_install_fails_with_the_log_tail(tmp_path: Path, cache_dir: str):
    wheel = write_wheel(str(tmp_path / "dist"), "needs-future", "1.0", {"needs_future/__init__.py": b""},
                        b"Metadata-Version: 2.1\nName: needs-future\nVersion: 1.0\nRequires-Python: >=3.99\n")
    counting = CountingTransport()
    profile = make_profile(tmp_path, pip=[wheel.path])
    mgr = manager(profile, cache_dir, counting)
    with pytest.raises(EnvironmentBuildError) as info:
        mgr.interpreter()
    err = info.value
    assert err.item == "needs-future"
    assert "requires a different Python" in err.log_tail and "build.log" in str(err)
    assert err.log_path is not None and Path(err.log_path).is_file()
    assert not (Path(err.log_path).parent / "ready").exists()
    runs = len(counting.runs)
    with pytest.raises(EnvironmentBuildError):
        mgr.interpreter()  # remembered: no second build
    assert len(counting.runs) == runs


def test_a_build_past_its_deadline_is_stopped_with_a_clear_error(tmp_path: Path, cache_dir: str):
    slow = tmp_path / "slow-python"
    slow.write_text(f'#!/bin/sh\nif [ "$1" = -m ] && [ "$2" = venv ]; then sleep 60; fi\nexec {sys.executable} "$@"\n')
    slow.chmod(0o755)
    profile = make_profile(tmp_path, pip=["iniconfig"], python=str(slow), build_timeout_s=2)
    with pytest.raises(EnvironmentBuildError, match="did not finish within the build deadline of 2 s") as info:
        manager(profile, cache_dir).interpreter()
    assert "build_timeout_s" in str(info.value)


def test_an_interpreter_that_does_not_run_is_named(tmp_path: Path, cache_dir: str):
    profile = make_profile(tmp_path, pip=["iniconfig"], python="/no/such/python3")
    with pytest.raises(EnvironmentBuildError, match="'/no/such/python3' does not run on this machine"):
        manager(profile, cache_dir).interpreter()


def test_without_a_wheelhouse_local_wheels_still_install(tmp_path: Path, cache_dir: str):
    wheel = write_wheel(str(tmp_path / "dist"), "labtools", "0.1", {"labtools/__init__.py": b"ANSWER = 42\n"},
                        b"Metadata-Version: 2.1\nName: labtools\nVersion: 0.1\n")
    spaced = tmp_path / "a remote dir"  # paths are values, never split by the shell
    profile = make_profile(spaced, pip=[wheel.path], wheelhouse=False)
    ready = prepare_environment(LocalTransport(command_timeout_s=60), profile, profile.remote_dir, cache_dir=cache_dir)
    assert run_python(ready.python, "import labtools; print(labtools.ANSWER)") == "42"


def test_python_alone_builds_nothing_and_modules_come_first(tmp_path: Path, cache_dir: str):
    profile = Profile.from_mapping({"backend": "slurm", "environment": {"python": "/opt/py/bin/python3",
                                                                        "modules": ["python/3.11"]}}, name="t")
    counting = CountingTransport()
    ready = manager(profile, cache_dir, counting).interpreter()
    assert ready.python == "/opt/py/bin/python3" and ready.setup[0].startswith("module load python/3.11")
    assert counting.runs == []


def python_without(tmp_path: Path, *modules: str) -> str:
    """An interpreter whose ``modules`` cannot be imported (as Debian's without python3-venv lacks ensurepip)."""
    blocked = tmp_path / "blocked"
    for name in modules:
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(f"raise ImportError('{name} is not installed here')\n")
    wrapper = tmp_path / "python-without"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={blocked} exec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def test_a_python_without_ensurepip_still_builds_the_venv(tmp_path: Path, cache_dir: str):
    profile = make_profile(tmp_path, pip=["iniconfig"], python=python_without(tmp_path, "ensurepip"))
    ready = manager(profile, cache_dir).interpreter()
    assert ready.built and run_python(ready.python, "import iniconfig; print('ok')") == "ok"


def test_a_python_without_venv_says_what_to_install(tmp_path: Path, cache_dir: str):
    profile = make_profile(tmp_path, pip=["iniconfig"], python=python_without(tmp_path, "venv"))
    with pytest.raises(EnvironmentBuildError, match=r"has no venv module; install it \(Debian/Ubuntu: apt-get install python3-venv\)"):
        manager(profile, cache_dir).interpreter()


def test_an_unreachable_index_fails_with_pips_error_tail(tmp_path: Path, cache_dir: str, monkeypatch):
    # The cluster's pip (this machine's shell here) is pointed at a closed port, with no retries.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "5")
    profile = make_profile(tmp_path, pip=["iniconfig==2.3.1"], wheelhouse=False)
    with pytest.raises(EnvironmentBuildError) as info:
        manager(profile, cache_dir).interpreter()
    err = info.value
    assert err.item == "iniconfig==2.3.1"
    assert "127.0.0.1" in err.log_tail and "pip install failed" in str(err)


def test_modules_load_before_the_build_and_a_failing_one_is_named(tmp_path: Path, cache_dir: str, monkeypatch):
    # `module` as Lmod and Environment Modules provide it to child shells: an exported function.
    calls = tmp_path / "module-calls"
    monkeypatch.setenv("BASH_FUNC_module%%", f'() {{  echo "$*" >> {calls}; [ "$2" != broken ] || {{ echo "Lmod has detected the following error: $2" >&2; return 1; }}\n}}')
    good = make_profile(tmp_path / "good", pip=["iniconfig"], modules=["python/3.11"])
    ready = manager(good, cache_dir).interpreter()
    assert ready.built and ready.setup[0].startswith("module load python/3.11")
    assert "load python/3.11" in calls.read_text()  # in the probe and in the build
    bad = make_profile(tmp_path / "bad", pip=["iniconfig"], modules=["broken"])
    with pytest.raises(EnvironmentBuildError, match="the environment's setup failed on this machine: .*broken") as info:
        manager(bad, cache_dir).interpreter()
    assert info.value.item == "broken"
