"""pytest plugin entry point (registered as ``pytest11: clustrix``).

``pytest --clustrix-backend=slurm-sim`` runs the whole suite, ``@cluster`` calls included, on an
embedded simulated SLURM cluster reached over SSH; ``local`` (the default) runs them on this
machine; ``profile:NAME`` on a real cluster from the user's clustrix configuration.

This module holds only hooks and fixtures. clustrix, clustrix_sim and paramiko are imported
lazily, so installing clustrix does not slow down pytest runs that never use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_clustrix import choice as _choice
from pytest_clustrix.import_hook import when_imported

SESSION_KEY = pytest.StashKey["Any"]()
UNHOOK_KEY = pytest.StashKey["Any"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("clustrix", "clustrix: where @cluster calls run")
    group.addoption(
        _choice.OPTION, dest="clustrix_backend", default=None, metavar="BACKEND",
        help="run @cluster calls on BACKEND: local (default), debug, slurm-sim, pbs-sim, torque-sim, or "
             "profile:NAME. "
             f"Also ${_choice.ENV_VAR} or the ini key {_choice.INI_KEY}.",
    )
    group.addoption("--clustrix-sim-nodes", dest="clustrix_sim_nodes", type=int, default=2, metavar="N",
                    help="number of nodes of the simulated cluster (default 2)")
    group.addoption("--clustrix-keep-sim", dest="clustrix_keep_sim", action="store_true", default=False,
                    help="keep the simulator's state dir and logs when a test failed")
    parser.addini(_choice.INI_KEY, "default clustrix backend (see --clustrix-backend)", default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "clustrix(backends=[...]): run the test only on these clustrix backends")
    config.addinivalue_line("markers", "clustrix_resources(**resources): override @cluster resources "
                                       "(cores=, memory=, time=...) for the test")
    try:
        chosen = _choice.resolve(config.getoption("clustrix_backend"), config.getini(_choice.INI_KEY))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    nodes = config.getoption("clustrix_sim_nodes")
    if nodes < 1:
        raise pytest.UsageError(f"--clustrix-sim-nodes must be at least 1, got {nodes}")
    from pytest_clustrix.session import ClustrixSession

    session = ClustrixSession(chosen, sim_nodes=nodes, keep_sim=config.getoption("clustrix_keep_sim"))
    config.stash[SESSION_KEY] = session

    def route(config_module: Any) -> None:
        config_module.set_session_profile(session.profile)

    # Routing is installed when the code under test first imports clustrix (or now, if it has).
    config.stash[UNHOOK_KEY] = when_imported("clustrix.config", route)


def pytest_unconfigure(config: pytest.Config) -> None:
    unhook = config.stash.get(UNHOOK_KEY, None)
    if unhook is not None:
        unhook()
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return
    import sys

    config_module = sys.modules.get("clustrix.config")
    if config_module is not None:
        config_module.set_session_profile(None)
    kept = session.close()
    if kept:
        tr = config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write_line(f"clustrix: simulator state and logs kept in {kept}")


def pytest_report_header(config: pytest.Config) -> str | None:
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return None
    return f"clustrix: backend {session.choice.value} (from {session.choice.origin})"


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("clustrix")
    if marker is None:
        return
    backends = marker.kwargs.get("backends", marker.args[0] if marker.args else None)
    if backends is None:
        return
    if isinstance(backends, str):
        backends = [backends]
    current = _session(item.config).choice.value
    if current not in backends and not (current.startswith("profile:") and "profile" in backends):
        pytest.skip(f"runs only on clustrix backends {list(backends)}; this session uses {current!r}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    marker = item.get_closest_marker("clustrix_resources")
    if marker is None:
        yield
        return
    from clustrix.config import use_profile

    try:
        profile = _session(item.config).profile().with_resources(**marker.kwargs)
        problem = None
    except ValueError as exc:  # ResourceError / ConfigError name the bad value
        problem = f"@pytest.mark.clustrix_resources: {exc}"
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    with use_profile(profile):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        session = _session(item.config)
        session.any_failed = True
        if session.sim_started:
            tail = session.sim_log_tail()
            if tail:
                report.sections.append(("clustrix simulator log", tail))


def _session(config: pytest.Config) -> Any:
    return config.stash[SESSION_KEY]


# -- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def clustrix_backend(request: pytest.FixtureRequest) -> str:
    """The session's backend value: ``local``, ``debug``, ``slurm-sim`` or ``profile:NAME``."""
    return _session(request.config).choice.value


@pytest.fixture(scope="session")
def clustrix_profile(request: pytest.FixtureRequest) -> Any:
    """The :class:`clustrix.config.profile.Profile` every routed ``@cluster`` call uses."""
    return _session(request.config).profile()


@pytest.fixture
def clustrix_executor(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A ``ClusterExecutor`` bound to the session's backend, shut down after the test."""
    from clustrix.api.executor import ClusterExecutor

    with ClusterExecutor(_session(request.config).profile()) as executor:
        yield executor


@pytest.fixture(scope="session")
def sim_cluster(request: pytest.FixtureRequest) -> Any:
    """The session's ``SimCluster`` (with ``.faults`` and ``.jobs()``); skips off-simulator."""
    session = _session(request.config)
    if not session.choice.uses_simulator:
        pytest.skip(f"needs a simulated cluster; this session's clustrix backend is {session.choice.value!r} "
                    f"(run with --clustrix-backend=slurm-sim)")
    return session.sim()
