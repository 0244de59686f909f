"""Configuration: discovery order, precedence, validation errors, configure/use_profile."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest

from clustrix import config as cfg
from clustrix.config.profile import Profile
from clustrix.errors import ConfigError


@pytest.fixture
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory and config home, no clustrix env vars, no process state."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CLUSTRIX_CONFIG", raising=False)
    monkeypatch.delenv("CLUSTRIX_PROFILE", raising=False)
    cfg.reset_config()
    session = cfg.set_session_profile(None)  # the pytest plugin's routing, if active
    yield tmp_path
    cfg.reset_config()
    cfg.set_session_profile(session)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


ONE = "profiles:\n  {name}:\n    backend: {backend}\n    cores: {cores}\n"


# --- discovery ---------------------------------------------------------------------------------


def test_no_file_means_builtin_local_with_one_warning(clean: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="clustrix")
    first = cfg.resolve_profile()
    second = cfg.resolve_profile()
    assert first.backend == "local" and first.name == "local"
    assert second == first
    warnings = [r for r in caplog.records if r.name == "clustrix" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "clustrix.yaml" in text and 'configure(backend="slurm"' in text and "run on THIS machine" in text


def test_user_config_dir_is_found(clean: Path) -> None:
    write(clean / "xdg" / "clustrix" / "config.yaml", ONE.format(name="user", backend="debug", cores=2))
    profile = cfg.resolve_profile()
    assert (profile.name, profile.backend, profile.resources.cores) == ("user", "debug", 2)
    assert cfg.get_config().origin == "user config dir"


def test_user_config_dir_defaults_to_home_dot_config(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    write(clean / "home" / ".config" / "clustrix" / "config.yaml", ONE.format(name="h", backend="debug", cores=3))
    assert cfg.resolve_profile().name == "h"


def test_cwd_file_beats_user_config(clean: Path) -> None:
    write(clean / "xdg" / "clustrix" / "config.yaml", ONE.format(name="user", backend="debug", cores=2))
    write(clean / "work" / "clustrix.yaml", ONE.format(name="cwd", backend="local", cores=5))
    assert cfg.resolve_profile().name == "cwd"
    assert cfg.get_config().origin == "./clustrix.yaml"


def test_env_file_beats_cwd_file(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(clean / "work" / "clustrix.yaml", ONE.format(name="cwd", backend="local", cores=5))
    explicit = write(clean / "elsewhere.yaml", ONE.format(name="env", backend="debug", cores=7))
    monkeypatch.setenv("CLUSTRIX_CONFIG", str(explicit))
    assert cfg.resolve_profile().name == "env"


def test_env_file_that_does_not_exist_is_an_error(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(clean / "work" / "clustrix.yaml", ONE.format(name="cwd", backend="local", cores=5))
    monkeypatch.setenv("CLUSTRIX_CONFIG", str(clean / "missing.yaml"))
    with pytest.raises(ConfigError, match=r"CLUSTRIX_CONFIG.*missing\.yaml.*not an existing file"):
        cfg.resolve_profile()


def test_edits_to_the_file_are_picked_up(clean: Path) -> None:
    path = write(clean / "work" / "clustrix.yaml", ONE.format(name="a", backend="local", cores=1))
    assert cfg.resolve_profile().resources.cores == 1
    write(path, ONE.format(name="a", backend="local", cores=12))
    assert cfg.resolve_profile().resources.cores == 12


# --- selection -----------------------------------------------------------------------------------

TWO = """\
default_profile: hpc
profiles:
  hpc:
    backend: slurm
    host: login.example.org
    resources:
      memory: 4G
      partition: short
  dbg:
    backend: debug
"""


def test_default_profile_and_env_override(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(clean / "work" / "clustrix.yaml", TWO)
    hpc = cfg.resolve_profile()
    assert (hpc.name, hpc.host, hpc.resources.mem_mb, hpc.resources.partition) == ("hpc", "login.example.org", 4096, "short")
    monkeypatch.setenv("CLUSTRIX_PROFILE", "dbg")
    assert cfg.resolve_profile().backend == "debug"
    monkeypatch.setenv("CLUSTRIX_PROFILE", "local")  # built-ins are always available
    assert cfg.resolve_profile().backend == "local"


def test_env_profile_unknown_names_var_and_choices(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(clean / "work" / "clustrix.yaml", TWO)
    monkeypatch.setenv("CLUSTRIX_PROFILE", "gpu")
    with pytest.raises(ConfigError) as info:
        cfg.resolve_profile()
    message = str(info.value)
    assert "CLUSTRIX_PROFILE" in message and "'gpu'" in message and "dbg, debug, hpc, local" in message


def test_several_profiles_without_default_is_an_error(clean: Path) -> None:
    write(clean / "work" / "clustrix.yaml", "profiles:\n  a: {backend: local}\n  b: {backend: debug}\n")
    with pytest.raises(ConfigError, match=r"clustrix\.yaml: key 'default_profile': 2 profiles \(a, b\)"):
        cfg.resolve_profile()


def test_resolve_accepts_name_profile_mapping(clean: Path) -> None:
    write(clean / "work" / "clustrix.yaml", TWO)
    assert cfg.resolve_profile("dbg").backend == "debug"
    given = Profile(name="mine", backend="debug")
    assert cfg.resolve_profile(given) is given
    from_map = cfg.resolve_profile({"backend": "debug", "cores": 3})
    assert (from_map.backend, from_map.resources.cores) == ("debug", 3)
    assert cfg.resolve_profile("hpc", cores=6).resources.cores == 6
    with pytest.raises(ConfigError, match="no profile named 'nope'"):
        cfg.resolve_profile("nope")
    with pytest.raises(ConfigError, match="unknown key"):
        cfg.resolve_profile({"backend": "debug", "core": 3})
    with pytest.raises(ConfigError, match="a profile is a name"):
        cfg.resolve_profile(42)  # type: ignore[arg-type]


def test_load_config_beats_discovery(clean: Path) -> None:
    write(clean / "work" / "clustrix.yaml", TWO)
    other = write(clean / "other.yaml", ONE.format(name="loaded", backend="debug", cores=9))
    conf = cfg.load_config(other)
    assert conf.path == str(other.resolve()) and set(conf.profiles) == {"loaded"}
    assert cfg.resolve_profile().name == "loaded"


# --- errors name the file and key ------------------------------------------------------------------

BAD_FILES = [
    ("profiles:\n  a:\n    backend: slurmm\n", "profiles.a: key 'backend': unknown backend 'slurmm'"),
    ("profiles:\n  a:\n    backend: local\n    corez: 3\n", "profiles.a: key 'corez': unknown key"),
    ("profiles:\n  a:\n    memory: lots\n", "profiles.a: key 'memory': invalid memory 'lots'"),
    ("profiles:\n  a:\n    time: 1:99:00\n", "profiles.a: key 'time': invalid time"),
    ("profiles:\n  a:\n    port: twenty-two\n", "profiles.a: key 'port': must be a positive whole number"),
    ("profiles:\n  a:\n    backend: slurm\n    max_array_size: 0\n",
     "profiles.a: key 'max_array_size': must be a positive whole number, got 0"),
    ("profiles:\n  a:\n    max_array_size: lots\n", "profiles.a: key 'max_array_size': must be a positive whole number"),
    ("profiles:\n  a:\n    host: 12\n", "profiles.a: key 'host': must be a non-empty string"),
    ("profiles:\n  a:\n    env: [A, B]\n", "profiles.a: key 'env': must be a mapping"),
    ("profiles:\n  a:\n    resources: 4\n", "profiles.a: key 'resources': must be a mapping"),
    ("profiles:\n  a: [1, 2]\n", "profiles.a: a profile must be a mapping"),
    ("profiles: [a, b]\n", "key 'profiles': must be a mapping"),
    ("profile:\n  a: {}\n", "key 'profile': unknown top-level key"),
    ("backend: slurm\n", "key 'backend': unknown top-level key; valid keys are: default_profile, profiles (profile settings go under profiles.NAME)"),
    ("default_profile: b\nprofiles:\n  a: {}\n", "key 'default_profile': 'b' is not a profile"),
    ("- just\n- a list\n", "the file must hold a mapping"),
    ("profiles:\n  a: {backend: local}\n  a: {backend: debug}\n", "invalid YAML at line 3, column 3: duplicate key 'a'"),
    ("profiles:\n  a:\n    backend: local\n   cores: 2\n", "invalid YAML at line 4"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_every_bad_file_names_file_and_key(clean: Path, text: str, expected: str) -> None:
    path = write(clean / "work" / "clustrix.yaml", text)
    with pytest.raises(ConfigError) as info:
        cfg.resolve_profile()
    message = str(info.value)
    assert message.startswith(str(path.resolve())), message
    assert expected in message, message
    with pytest.raises(ConfigError) as again:  # load_config reports the same way
        cfg.load_config(path)
    assert expected in str(again.value)


def test_empty_file_means_no_profiles(clean: Path) -> None:
    write(clean / "work" / "clustrix.yaml", "")
    assert cfg.get_config().profiles == {}
    assert cfg.resolve_profile().name == "local"


def test_load_config_missing_file(clean: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: configuration file does not exist"):
        cfg.load_config(clean / "nope.yaml")


# --- configure / use_profile -------------------------------------------------------------------


def test_configure_overrides_and_validates(clean: Path) -> None:
    write(clean / "work" / "clustrix.yaml", TWO)
    new = cfg.configure(cores=8, memory="2G")
    assert (new.name, new.backend, new.resources.cores, new.resources.mem_mb) == ("hpc", "slurm", 8, 2048)
    assert new.resources.partition == "short"  # file values kept under the override
    assert cfg.resolve_profile() == new
    again = cfg.configure(backend="debug")  # configure() builds on the previous configure()
    assert (again.backend, again.resources.cores) == ("debug", 8)
    with pytest.raises(ConfigError, match="configure\\(\\): key 'memroy': unknown key"):
        cfg.configure(memroy="2G")
    with pytest.raises(ConfigError, match="key 'cores': invalid cores -1"):
        cfg.configure(cores=-1)
    assert cfg.resolve_profile() == again  # a failed configure() changes nothing
    assert cfg.configure("dbg").name == "dbg"


def test_configure_does_not_change_captured_profiles(clean: Path) -> None:
    captured = cfg.resolve_profile()  # what an executor keeps
    cfg.configure(backend="debug", cores=4)
    assert captured.backend == "local" and captured.resources.cores == 1
    assert cfg.resolve_profile().backend == "debug"


def test_use_profile_nests_and_restores(clean: Path) -> None:
    write(clean / "work" / "clustrix.yaml", TWO)
    assert cfg.resolve_profile().name == "hpc"
    with cfg.use_profile("dbg") as outer:
        assert cfg.resolve_profile() is outer
        with cfg.use_profile(cores=3) as inner:  # overrides apply to the enclosing block's profile
            assert (inner.backend, inner.resources.cores) == ("debug", 3)
            with cfg.use_profile({"backend": "local"}):
                assert cfg.resolve_profile().backend == "local"
            assert cfg.resolve_profile() is inner
        assert cfg.resolve_profile() is outer
    assert cfg.resolve_profile().name == "hpc"
    with pytest.raises(RuntimeError), cfg.use_profile("dbg"):
        raise RuntimeError("boom")
    assert cfg.resolve_profile().name == "hpc"  # restored after an exception too
    cfg.configure(cores=2)
    with cfg.use_profile("dbg"):  # use_profile beats configure
        assert cfg.resolve_profile().backend == "debug"


def test_use_profile_is_per_thread(clean: Path) -> None:
    seen: dict[str, str] = {}
    inside = threading.Event()
    release = threading.Event()

    def other() -> None:
        inside.wait(10)
        seen["other"] = cfg.resolve_profile().backend
        release.set()

    worker = threading.Thread(target=other)
    worker.start()
    with cfg.use_profile("debug"):
        inside.set()
        assert release.wait(10)
        seen["main"] = cfg.resolve_profile().backend
    worker.join(10)
    assert seen == {"main": "debug", "other": "local"}


def test_use_profile_is_per_asyncio_task(clean: Path) -> None:
    async def in_block(step: asyncio.Event, done: asyncio.Event) -> str:
        with cfg.use_profile("debug"):
            step.set()
            await done.wait()
            return cfg.resolve_profile().backend

    async def outside(step: asyncio.Event, done: asyncio.Event) -> str:
        await step.wait()
        backend = cfg.resolve_profile().backend  # while the other task is inside its block
        done.set()
        return backend

    async def run() -> list[str]:
        step, done = asyncio.Event(), asyncio.Event()
        return list(await asyncio.wait_for(asyncio.gather(in_block(step, done), outside(step, done)), 10))

    assert asyncio.run(run()) == ["debug", "local"]


def test_to_mapping_round_trips() -> None:
    original = Profile.from_mapping(
        {"backend": "slurm", "host": "h", "memory": "1.5G", "time": "1-02:03:04", "env": {"A": "1"},
         "setup": ["module load x"], "extra_directives": ["--constraint=a100"], "gpus": 2},
        name="p",
    )
    assert Profile.from_mapping(original.to_mapping(), name="p") == original


def test_session_profile_precedence(clean: Path) -> None:
    write(clean / "work" / "clustrix.yaml", TWO)
    calls = []

    def provider() -> Profile:
        calls.append(1)
        return Profile(name="sim", backend="debug")

    previous = cfg.set_session_profile(provider)
    try:
        assert calls == []  # lazy: nothing built until a call needs it
        cfg.configure(backend="local", cores=3)
        assert cfg.resolve_profile().name == "sim"  # beats configure() and the file
        assert cfg.active_profile_source().startswith("test session")
        with cfg.use_profile("dbg"):  # an explicit block in the test still wins
            assert cfg.resolve_profile().name == "dbg"
        assert cfg.resolve_profile("hpc").name == "hpc"  # and so does an explicit name
        with pytest.raises(ConfigError, match="a session profile is a Profile or a callable"):
            cfg.set_session_profile("sim")  # type: ignore[arg-type]
    finally:
        assert cfg.set_session_profile(previous) is provider
    assert cfg.resolve_profile().backend == "local"  # configure() applies again


@pytest.mark.parametrize(("backend", "given", "limit"), [
    ("slurm", None, 1001), ("pbs", None, 10000), ("torque", None, 10000), ("sge", None, 75000),
    ("slurm", 10, 10), ("local", None, None), ("debug", None, None),
])
def test_array_size_limit_defaults_per_scheduler(backend: str, given: int | None, limit: int | None) -> None:
    profile = Profile.from_mapping({"backend": backend, "max_array_size": given}, name="p")
    assert profile.array_size_limit == limit
    assert Profile.from_mapping(profile.to_mapping(), name="p") == profile
