"""ClusterExecutor end to end on the local (subprocess) and debug (in-process) backends."""

from __future__ import annotations

import concurrent.futures
import functools
import os
import sys
import threading
import time
import traceback
import types
from pathlib import Path

import pytest

from clustrix import config as cfg
from clustrix.api.executor import IN_JOB_ENV, ClusterExecutor, job_name_for, sanitize_job_name
from clustrix.backends.factory import create_backend
from clustrix.config.profile import Profile
from clustrix.errors import ConfigError, JobCancelledError, ResourceError
from clustrix.futures import JobFuture
from clustrix.states import JobState


@pytest.fixture(autouse=True)
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CLUSTRIX_CONFIG", raising=False)
    monkeypatch.delenv("CLUSTRIX_PROFILE", raising=False)
    monkeypatch.delenv(IN_JOB_ENV, raising=False)
    cfg.reset_config()
    session = cfg.set_session_profile(None)  # the pytest plugin's routing, if active
    yield tmp_path
    cfg.reset_config()
    cfg.set_session_profile(session)


BACKENDS = ["local", "debug"]


def square(x: int) -> int:
    print(f"squaring {x}")
    return x * x


def raise_key(k: str) -> None:
    raise KeyError(k)


def job_facts() -> dict[str, object]:
    return {"pid": os.getpid(), "in_job": os.environ.get(IN_JOB_ENV), "color": os.environ.get("COLOR"),
            "setup": os.environ.get("FROM_SETUP")}


def sleep_then_touch(path: str, seconds: float) -> str:
    Path(path + ".started").write_text(str(os.getpid()))
    time.sleep(seconds)
    Path(path).write_text("finished")
    return "slept"


def wait_for(predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        time.sleep(0.02)


@pytest.mark.parametrize("backend", BACKENDS)
def test_submit_value_output_and_status(backend: str) -> None:
    with ClusterExecutor(backend) as ex:
        fut = ex.submit(square, 7)
        assert isinstance(fut, JobFuture)
        assert fut.result(timeout=60) == 49
        assert fut.stdout() == "squaring 7\n"
        assert fut.status.state == JobState.COMPLETED
        assert fut.job_id


@pytest.mark.parametrize("backend", BACKENDS)
def test_exception_keeps_type_and_remote_traceback(backend: str) -> None:
    with ClusterExecutor(backend) as ex:
        fut = ex.submit(raise_key, "x")
        with pytest.raises(KeyError) as info:
            fut.result(timeout=60)
    assert info.value.args == ("x",)
    if backend == "local":  # rebuilt from the job's result: the remote traceback is the cause
        assert "raise_key" in str(info.value.__cause__) and "KeyError" in str(info.value.__cause__)
    else:  # in-process: the original object with its own traceback
        assert "raise_key" in [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_map_is_ordered_and_lazy(backend: str) -> None:
    with ClusterExecutor(backend) as ex:
        results = ex.map(pow, [2, 3, 4], [5, 2, 1])
        assert isinstance(results, types.GeneratorType)
        assert list(results) == [32, 9, 4]
        assert list(ex.map(square, [])) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_map_raises_the_item_exception(backend: str) -> None:
    with ClusterExecutor(backend) as ex:
        it = ex.map(raise_key, ["a"])
        with pytest.raises(KeyError, match="a"):
            next(it)


@pytest.mark.parametrize("backend", BACKENDS)
def test_submit_array_passes_each_item_whole(backend: str) -> None:
    with ClusterExecutor(backend) as ex:
        futures = ex.submit_array(len, [(1, 2), "abcd", [0] * 3])
        assert [f.result(timeout=60) for f in futures] == [2, 4, 3]
        assert len({f.job_id for f in futures}) == 3
        assert ex.submit_array(len, []) == []


def test_map_timeout_cancels_the_rest(clean: Path) -> None:
    marker = str(clean / "never")
    ex = ClusterExecutor("local")
    results = ex.map(sleep_then_touch, [marker], [120.0], timeout=0.2)
    with pytest.raises(concurrent.futures.TimeoutError):
        next(results)
    # The job was cancelled (its process killed), so shutdown(wait=True) returns promptly.
    done = threading.Thread(target=ex.shutdown)
    done.start()
    done.join(60)
    assert not done.is_alive()
    assert not Path(marker).exists()


def test_cancel_running_job(clean: Path) -> None:
    marker = str(clean / "never")
    with ClusterExecutor("local") as ex:
        fut = ex.submit(sleep_then_touch, marker, 120.0)
        wait_for(lambda: Path(marker + ".started").exists())
        assert fut.cancel()
        with pytest.raises(JobCancelledError):
            fut.result(timeout=5)
    assert not Path(marker).exists()


def test_job_environment_and_setup(clean: Path) -> None:
    profile = Profile(backend="local", env=(("COLOR", "teal"),), setup=("export FROM_SETUP=yes",))
    with ClusterExecutor(profile) as ex:
        facts = ex.submit(job_facts).result(timeout=60)
    assert facts["pid"] != os.getpid()
    assert (facts["in_job"], facts["color"], facts["setup"]) == ("1", "teal", "yes")


def test_spec_merges_profile_and_executor_settings() -> None:
    profile = Profile.from_mapping({"backend": "debug", "env": {"A": "1", "B": "2"}, "setup": ["s1"],
                                    "python": "/opt/py/bin/python3", "memory": "1G", "partition": "p"})
    ex = ClusterExecutor(profile, env={"B": "3"}, setup="s2", cores=4)
    spec = ex.spec_for(square, env={"C": "4"}, setup=["s3"])
    assert spec.name == "square"
    assert dict(spec.env) == {"A": "1", "B": "3", "C": "4", IN_JOB_ENV: "1"}
    assert spec.setup == ("s1", "s2", "s3")
    assert spec.python == "/opt/py/bin/python3"
    assert (spec.resources.cores, spec.resources.mem_mb, spec.resources.partition) == (4, 1024, "p")
    assert ClusterExecutor(profile, name="my job!").spec_for(square).name == "my_job"
    ex.shutdown()


def test_resource_errors_are_immediate() -> None:
    with pytest.raises(ConfigError) as info:
        ClusterExecutor("debug", cpus=4)
    assert "unknown resource 'cpus'" in str(info.value)
    assert "cores, nodes, memory, time" in str(info.value)
    with pytest.raises(ResourceError, match="invalid memory 'lots'"):
        ClusterExecutor("debug", memory="lots")
    with pytest.raises(ResourceError, match="invalid cores 0"):
        ClusterExecutor("debug", cores=0)
    with pytest.raises(ConfigError, match="no profile named 'nope'"):
        ClusterExecutor("nope")


def test_executor_keeps_the_profile_it_was_built_with() -> None:
    cfg.configure(backend="debug", cores=2)
    ex = ClusterExecutor()
    cfg.configure(backend="local", cores=9)
    with cfg.use_profile("local"):
        assert (ex.profile.backend, ex.resources.cores) == ("debug", 2)
        assert ex.submit(os.getpid).result() == os.getpid()  # still in-process (debug)
    ex.shutdown()


def test_shutdown_refuses_new_work() -> None:
    ex = ClusterExecutor("debug")
    ex.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(square, 1)
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.map(square, [1])
    with ClusterExecutor("debug") as ex2:
        assert ex2.submit(square, 2).result() == 4
    with pytest.raises(RuntimeError):
        ex2.submit(square, 2)


def test_cancel_futures_cancels_the_unfinished_ones(clean: Path) -> None:
    with ClusterExecutor(Profile(backend="local", max_workers=1)) as ex:
        done = ex.submit(square, 3)
        assert done.result(timeout=30) == 9
        running = ex.submit(sleep_then_touch, str(clean / "a"), 120)
        queued = ex.submit(sleep_then_touch, str(clean / "b"), 120)
        wait_for((clean / "a.started").exists)
        assert ex.cancel_futures([done, running, queued]) == 2
        assert running.cancelled() and queued.cancelled() and done.result() == 9


def test_map_argument_errors() -> None:
    with ClusterExecutor("debug") as ex:
        for bad in (0, -1, True, 2.5, "4"):
            with pytest.raises(ValueError, match=f"chunksize must be .*got {bad!r}"):
                ex.map(square, [1], chunksize=bad)
            with pytest.raises(ValueError, match="chunk_size"):
                ex.submit_array(square, [1], chunk_size=bad)
        # backends without array tasks accept (and ignore) a chunk size
        assert list(ex.map(square, [1, 2, 3], chunksize=2)) == [1, 4, 9]
        with pytest.raises(TypeError, match="at least one iterable"):
            ex.map(square)
        with pytest.raises(TypeError, match="expected a callable"):
            ex.submit(42)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("simulate", "simulate"),
        ("outer.<locals>.inner", "outer.locals.inner"),
        ("<lambda>", "lambda"),
        ("_private", "private"),
        ("9lives", "job_9lives"),
        ("a b;c$(rm -rf)", "a_b_c_rm_-rf"),
        ("", "job"),
        ("x" * 100, "x" * 64),
        ("Klasse.méthode", "Klasse.m_thode"),
    ],
)
def test_sanitize_job_name(raw: str, expected: str) -> None:
    assert sanitize_job_name(raw) == expected


def test_job_name_for_callables() -> None:
    def inner() -> None: ...

    assert job_name_for(inner) == "test_job_name_for_callables.locals.inner"
    assert job_name_for(lambda: 0) == "test_job_name_for_callables.locals.lambda"
    assert job_name_for(functools.partial(square, 2)) == "square"
    assert job_name_for(len) == "len"


def test_create_backend_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    from clustrix.backends.local.backend import DebugBackend, LocalBackend

    local = create_backend(Profile(backend="local"))
    assert isinstance(local, LocalBackend)
    local.shutdown()
    assert isinstance(create_backend(Profile(backend="debug")), DebugBackend)

    class FakeRemote:
        def __init__(self, profile: Profile):
            self.profile = profile

    fake = types.ModuleType("clustrix.backends.remote.backend")
    fake.RemoteBackend = FakeRemote  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "clustrix.backends.remote.backend", fake)
    for backend in ("slurm", "pbs", "torque", "sge"):
        made = create_backend(Profile(backend=backend, host="h"))
        assert isinstance(made, FakeRemote) and made.profile.backend == backend
    assert isinstance(create_backend(Profile(backend="ssh", host="h")), FakeRemote)

    monkeypatch.setitem(sys.modules, "clustrix.backends.remote.backend", None)  # as if the module did not exist
    with pytest.raises(ConfigError, match="backend 'slurm' is not available in this build"):
        create_backend(Profile(name="hpc", backend="slurm"))
    with pytest.raises(TypeError, match="needs a Profile"):
        create_backend("local")  # type: ignore[arg-type]
