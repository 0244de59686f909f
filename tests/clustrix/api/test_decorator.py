"""@cluster end to end on the local (subprocess) and debug (in-process) backends."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import cloudpickle
import pytest

import clustrix
from clustrix import config as cfg
from clustrix.api.decorator import ClusterFunction, cluster, executor_for, shutdown_executors
from clustrix.api.executor import IN_JOB_ENV
from clustrix.errors import ConfigError, JobTimeoutError, ResourceError
from clustrix.futures import JobFuture


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
    shutdown_executors(wait=True)
    cfg.reset_config()
    cfg.set_session_profile(session)


class Unusual(Exception):
    """A user-defined exception type that must survive the trip back."""


@cluster
def add(a: int, b: int = 10) -> int:
    """Add two numbers."""
    return a + b


@cluster(cores=1, memory="200M", time="10m")
def fail_with(kind: str, value: str) -> None:
    if kind == "key":
        raise KeyError(value)
    raise Unusual(value)


@cluster
def whoami() -> int:
    return os.getpid()


@cluster
def outer_and_inner() -> tuple[int, int]:
    return os.getpid(), whoami()  # whoami is decorated too: inside a job it runs in place


@cluster
def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


@cluster(profile="debug")
def pinned_pid() -> int:
    return os.getpid()


@cluster(time="1s")
def overstays() -> str:
    time.sleep(120)
    return "should have been stopped"


@cluster
def nap(marker: str) -> str:
    Path(marker).write_text(str(os.getpid()))
    time.sleep(120)
    return "woke up"


BACKENDS = ["local", "debug"]


# --- shape of the decorated object -------------------------------------------------------------


def test_wraps_metadata_and_type() -> None:
    assert isinstance(add, ClusterFunction)
    assert add.__name__ == "add" and add.__qualname__ == "add" and add.__module__ == __name__
    assert add.__doc__ == "Add two numbers."
    assert add.__wrapped__(1, 2) == 3
    assert "add" in repr(add)


def test_bare_and_called_forms_agree() -> None:
    def plain(x: int) -> int:
        return x

    assert isinstance(cluster(plain), ClusterFunction)
    assert isinstance(cluster()(plain), ClusterFunction)
    assert isinstance(cluster(cores=2)(plain), ClusterFunction)


def test_unknown_argument_names_it_and_the_valid_ones() -> None:
    with pytest.raises(TypeError) as info:
        cluster(cpus=4)
    message = str(info.value)
    assert "unknown argument 'cpus'" in message
    assert "valid arguments are: cores, nodes, memory, time, gpus, partition" in message
    with pytest.raises(TypeError, match="did you mean 'memory'"):
        cluster(memroy="1G")
    with pytest.raises(TypeError, match="keyword arguments only"):
        cluster(4)


def test_bad_values_fail_at_decoration_time() -> None:
    with pytest.raises(ResourceError, match="invalid memory 'eight gigs'"):
        cluster(memory="eight gigs")(lambda: None)
    with pytest.raises(ResourceError, match="invalid time"):
        cluster(time="1:99:99")(lambda: None)
    with pytest.raises(ResourceError, match="invalid cores -2"):
        cluster(cores=-2)(lambda: None)
    with pytest.raises(ConfigError, match="key 'env'"):
        cluster(env=["A=1"])(lambda: None)
    with pytest.raises(ConfigError, match="unknown key"):
        cluster(profile={"backend": "debug", "nodez": 2})(lambda: None)
    with pytest.raises(TypeError, match="decorates a callable"):
        ClusterFunction(42)  # type: ignore[arg-type]


# --- calling -------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_call_returns_value(backend: str) -> None:
    with cfg.use_profile(backend):
        assert add(1) == 11
        assert add(1, b=2) == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_call_reraises_with_original_type(backend: str) -> None:
    with cfg.use_profile(backend):
        with pytest.raises(KeyError) as info:
            fail_with("key", "x")
        assert info.value.args == ("x",)
        with pytest.raises(Unusual, match="odd"):
            fail_with("unusual", "odd")
    if backend == "local":
        assert "fail_with" in str(info.value.__cause__)  # the remote traceback


def test_local_backend_runs_elsewhere_and_local_runs_here() -> None:
    with cfg.use_profile("local"):
        assert whoami() != os.getpid()
    assert whoami.local() == os.getpid()
    with cfg.use_profile("debug"):
        assert whoami() == os.getpid()


def test_profile_resolved_at_call_time_unless_pinned() -> None:
    cfg.configure(backend="debug")
    assert whoami() == os.getpid()
    cfg.configure(backend="local")
    assert whoami() != os.getpid()  # same function, new configuration
    assert pinned_pid() == os.getpid()  # pinned to debug
    with cfg.use_profile("local"):
        assert pinned_pid() == os.getpid()


def test_pinned_mapping_profile() -> None:
    here = cluster(profile={"backend": "debug"})(os.getpid)
    with cfg.use_profile("local"):
        assert here() == os.getpid()


@pytest.mark.parametrize("backend", BACKENDS)
def test_submit_returns_a_job_future(backend: str) -> None:
    with cfg.use_profile(backend):
        fut = add.submit(5, b=5)
        assert isinstance(fut, JobFuture)
        assert fut.result(timeout=60) == 10


@pytest.mark.parametrize("backend", BACKENDS)
def test_map_in_order(backend: str) -> None:
    with cfg.use_profile(backend):
        assert add.map([1, 2, 3]) == [11, 12, 13]
        assert add.map([1, 2, 3], [0, 1, 2]) == [1, 3, 5]
        assert add.map([]) == []
        with pytest.raises(KeyError, match="b"):
            fail_with.map(["key", "key"], ["b", "c"])  # the first failing item's exception
        with pytest.raises(TypeError, match="at least one iterable"):
            add.map()


def test_map_chunk_size_is_validated() -> None:
    with cfg.use_profile("debug"):
        for bad in (0, False, 1.5):
            with pytest.raises(ValueError, match=f"chunk_size must be .*got {bad!r}"):
                add.map([1], chunk_size=bad)
        assert add.map([1, 2, 3], chunk_size=2) == [11, 12, 13]


def test_map_closes_its_progress_bar_before_returning(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import clustrix.api.executor as executor_module
    from clustrix.api.progress import Progress

    bars: list[Progress] = []
    closers: list[threading.Thread] = []

    class Recording(Progress):
        def __init__(self, futures, **kw):
            kw["enabled"] = True  # as if stderr were a terminal
            super().__init__(futures, **kw)
            bars.append(self)

        def close(self) -> None:
            closers.append(threading.current_thread())
            super().close()

    monkeypatch.setattr(executor_module, "Progress", Recording)
    with cfg.use_profile("local"):
        assert add.map(range(5)) == [10, 11, 12, 13, 14]
        # Closed by the caller, before map returned: the last future's done-callback (run in the
        # backend's thread after the caller woke up) can no longer draw on the caller's next line.
        (bar,) = bars
        assert not bar.enabled and threading.current_thread() in closers
        assert "/5" in capsys.readouterr().err
        with pytest.raises(KeyError):
            fail_with.map(["key"] * 3, ["a", "b", "c"])
        assert len(bars) == 2 and not bars[1].enabled


def test_nested_and_recursive_calls_run_inside_the_job() -> None:
    with cfg.use_profile("local"):
        outer_pid, inner_pid = outer_and_inner()
        assert outer_pid == inner_pid != os.getpid()
        assert fib(10) == 55


def test_in_job_calls_run_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(IN_JOB_ENV, "1")
    assert clustrix.in_job()
    with cfg.use_profile("local"):
        assert whoami() == os.getpid()
        assert whoami.submit().result() == os.getpid()
        assert add.map([1]) == [11]


def test_resources_reach_the_backend() -> None:
    with cfg.use_profile("local"), pytest.raises(JobTimeoutError):  # time="1s" is the local limit
        overstays()


def test_survives_cloudpickle_and_runs_in_place_in_a_job() -> None:
    clone = cloudpickle.loads(cloudpickle.dumps(outer_and_inner))
    assert isinstance(clone, ClusterFunction)
    with cfg.use_profile("local"):
        outer_pid, inner_pid = clone()
    assert outer_pid == inner_pid != os.getpid()
    # A function defined inside a test travels by value, decorator and all.
    factor = 3

    @cluster
    def times(x: int) -> int:
        return factor * x

    with cfg.use_profile("local"):
        assert cloudpickle.loads(cloudpickle.dumps(times))(4) == 12
        assert times.map([1, 2]) == [3, 6]


def test_method_decoration() -> None:
    class Scaler:
        def __init__(self, k: int):
            self.k = k

        @cluster
        def scale(self, x: int) -> int:
            return self.k * x

    with cfg.use_profile("debug"):
        assert Scaler(3).scale(2) == 6
        assert Scaler(2).scale.map([1, 2]) == [2, 4]
    with cfg.use_profile("local"):
        assert Scaler(5).scale(2) == 10
    assert isinstance(Scaler.scale, ClusterFunction)


def test_job_name_defaults_to_qualified_name_and_can_be_set() -> None:
    named = cluster(name="nightly run")(os.getpid)
    _, spec = named._executor_and_spec()
    assert spec.name == "nightly_run"
    _, spec = fail_with._executor_and_spec()
    assert (spec.name, spec.resources.mem_mb, spec.resources.time_s) == ("fail_with", 200, 600)


def test_shared_executor_per_profile() -> None:
    with cfg.use_profile("debug"):
        add(1)
        first = executor_for(cfg.resolve_profile())
        add(2)
        assert executor_for(cfg.resolve_profile()) is first


# --- the no-configuration warning ---------------------------------------------------------------


def test_no_config_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="clustrix")
    assert add(1) == 11
    assert add.map([1, 2]) == [11, 12]
    assert whoami() != os.getpid()  # it really ran on the built-in local backend
    warnings = [r for r in caplog.records if r.name == "clustrix" and r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "run on THIS machine" in warnings[0].getMessage()


# --- Ctrl-C --------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
def test_ctrl_c_while_waiting_cancels_the_job(clean: Path) -> None:
    assert threading.current_thread() is threading.main_thread()
    marker = clean / "started"
    main_id = threading.main_thread().ident
    assert main_id is not None

    def press_ctrl_c() -> None:
        deadline = time.monotonic() + 60
        while not marker.exists() or not marker.read_text():
            if time.monotonic() > deadline:
                return  # the test then fails: nap() would not be interrupted
            time.sleep(0.02)
        signal.pthread_kill(main_id, signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c, daemon=True)
    presser.start()
    with cfg.use_profile("local"), pytest.raises(KeyboardInterrupt):
        nap(str(marker))
    presser.join(10)
    job_pid = int(marker.read_text())
    # The job's process was killed (and reaped) before KeyboardInterrupt reached us.
    with pytest.raises(ProcessLookupError):
        os.kill(job_pid, 0)


def test_evicted_executors_still_resolve_their_futures(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import clustrix.api.decorator as deco

    monkeypatch.setattr(deco, "MAX_SHARED_EXECUTORS", 1)
    release = clean / "release"

    @cluster
    def wait_for_release(path: str) -> str:
        deadline = time.monotonic() + 60
        while not Path(path).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return "released"

    with cfg.use_profile("local", cores=1):
        fut = wait_for_release.submit(str(release))
        first = executor_for(cfg.resolve_profile())
    with cfg.use_profile("local", cores=2):  # a second profile evicts the first executor
        assert add(1) == 11
    assert first not in deco._executors.values()
    with pytest.raises(RuntimeError, match="after shutdown"):
        first.submit(add.__wrapped__, 1)
    release.write_text("go")
    assert fut.result(timeout=60) == "released"
