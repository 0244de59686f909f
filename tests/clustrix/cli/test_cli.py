"""The clustrix command line: version, config show, config validate, lazy subcommands."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

import clustrix
from clustrix import config as cfg
from clustrix.cli import main as cli


@pytest.fixture
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CLUSTRIX_CONFIG", raising=False)
    monkeypatch.delenv("CLUSTRIX_PROFILE", raising=False)
    cfg.reset_config()
    session = cfg.set_session_profile(None)  # the pytest plugin's routing, if active
    yield work
    cfg.reset_config()
    cfg.set_session_profile(session)


GOOD = """\
default_profile: hpc
profiles:
  hpc:
    backend: slurm
    host: login.example.org
    memory: 4G
    partition: short
  dbg:
    backend: debug
"""


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def test_version() -> None:
    result = run("version")
    assert result.exit_code == 0
    assert result.output == f"clustrix {clustrix.__version__}\n"


def test_config_show_lists_profiles_with_sources(clean: Path) -> None:
    (clean / "clustrix.yaml").write_text(GOOD)
    result = run("config", "show")
    assert result.exit_code == 0, result.output
    path = str((clean / "clustrix.yaml").resolve())
    assert f"# configuration file: {path}  [./clustrix.yaml]" in result.output
    assert f"# active profile: hpc  [default_profile in {path}]" in result.output
    assert f"# from {path}: profiles.hpc, active" in result.output
    assert "# from built-in" in result.output
    shown = yaml.safe_load(result.output)  # the body is valid YAML (comments aside)
    assert list(shown["profiles"]) == ["hpc", "dbg", "local", "debug"]
    hpc = shown["profiles"]["hpc"]
    assert (hpc["backend"], hpc["host"], hpc["memory"], hpc["partition"]) == ("slurm", "login.example.org", "4096M", "short")
    # What is shown is what the library resolves.
    assert cfg.Profile.from_mapping(hpc, name="hpc") == cfg.resolve_profile()


def test_config_show_one_profile_and_unknown_name(clean: Path) -> None:
    (clean / "clustrix.yaml").write_text(GOOD)
    result = run("config", "show", "--profile", "dbg")
    assert result.exit_code == 0
    assert list(yaml.safe_load(result.output)["profiles"]) == ["dbg"]
    bad = run("config", "show", "--profile", "gpu")
    assert bad.exit_code == 1
    assert "no profile named 'gpu'" in bad.output and "dbg, debug, hpc, local" in bad.output


def test_config_show_without_any_file(clean: Path) -> None:
    result = run("config", "show")
    assert result.exit_code == 0
    assert "# configuration file: (none)" in result.output
    assert list(yaml.safe_load(result.output)["profiles"]) == ["local", "debug"]


def test_config_validate_ok(clean: Path) -> None:
    path = clean / "other.yaml"
    path.write_text(GOOD)
    result = run("config", "validate", str(path))
    assert result.exit_code == 0
    assert result.output == (
        f"OK: {path.resolve()}: 2 profile(s): hpc [slurm on login.example.org], dbg [debug]; default: hpc\n"
    )


def test_config_validate_defaults_to_discovered_file(clean: Path) -> None:
    (clean / "clustrix.yaml").write_text("profiles:\n  only: {backend: local}\n")
    result = run("config", "validate")
    assert result.exit_code == 0
    assert "1 profile(s): only [local]; default: (the only profile)" in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("profiles:\n  hpc:\n    backend: slurm\n    partion: short\n", "profiles.hpc: key 'partion': unknown key"),
        ("profiles:\n  hpc: {backend: slurm\n", "invalid YAML at line 3"),
    ],
)
def test_config_validate_errors_name_file_and_key(clean: Path, text: str, expected: str) -> None:
    path = clean / "bad.yaml"
    path.write_text(text)
    result = run("config", "validate", str(path))
    assert result.exit_code == 1
    assert f"Error: {path.resolve()}: " in result.output
    assert expected in result.output
    assert "Traceback" not in result.output


def test_config_validate_without_file_fails(clean: Path) -> None:
    result = run("config", "validate")
    assert result.exit_code == 1
    assert "no configuration file to validate" in result.output


def test_lazy_subcommands(monkeypatch: pytest.MonkeyPatch) -> None:
    @click.command()
    def hello() -> None:
        click.echo("hello from a lazily loaded module")

    module = type(sys)("clustrix_fake_cli_module")
    module.hello = hello  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "clustrix_fake_cli_module", module)
    monkeypatch.setitem(cli.SUBCOMMANDS, "hello", "clustrix_fake_cli_module:hello")
    monkeypatch.setitem(cli.SUBCOMMANDS, "absent", "clustrix_no_such_module:group")
    assert run("hello").output == "hello from a lazily loaded module\n"
    listing = run("--help").output
    assert "hello" in listing and "absent" not in listing  # modules not in this build are skipped
    assert CliRunner().invoke(cli.main, ["absent"]).exit_code == 2  # click: no such command


def test_console_script_subprocess(clean: Path) -> None:
    (clean / "clustrix.yaml").write_text("profiles:\n  hpc:\n    backend: slurm\n    cores: zero\n")
    exe = shutil.which("clustrix", path=os.path.dirname(sys.executable))
    assert exe is not None, "the clustrix console script is not installed next to this Python"
    ok = subprocess.run([exe, "version"], capture_output=True, text=True, timeout=60)
    assert (ok.returncode, ok.stdout) == (0, f"clustrix {clustrix.__version__}\n")
    bad = subprocess.run([exe, "config", "validate"], capture_output=True, text=True, timeout=60, cwd=clean)
    assert bad.returncode == 1
    assert "clustrix.yaml: profiles.hpc: key 'cores': invalid cores 'zero'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_config_validate_reports_every_problem_with_suggestions(clean: Path) -> None:
    path = clean / "bad.yaml"
    path.write_text(
        "default_profil: hpc\n"
        "profiles:\n"
        "  hpc:\n    backend: slurm\n    partion: short\n    memory: lots\n"
        "  gpu:\n    backend: slurm\n    gpuz: 2\n"
    )
    result = run("config", "validate", str(path))
    assert result.exit_code == 1
    out = result.output
    assert "4 problems:" in out, out
    assert "key 'default_profil': unknown top-level key (did you mean 'default_profile'?)" in out
    assert "profiles.hpc: key 'partion': unknown key (did you mean 'partition'?)" in out
    assert "profiles.hpc: key 'memory':" in out and "lots" in out
    assert "profiles.gpu: key 'gpuz': unknown key (did you mean 'gpus'?)" in out
    assert "Traceback" not in out
