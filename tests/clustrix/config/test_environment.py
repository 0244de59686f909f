"""The ``environment`` profile key: validated at configuration time, every bad item named."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from clustrix.config import parse_config
from clustrix.config.environment import Environment, read_requirements_file
from clustrix.config.profile import Profile
from clustrix.errors import ConfigError


def profile(**environment) -> Profile:
    return Profile.from_mapping({"backend": "slurm", "environment": environment}, name="p", source="lab.yaml")


def test_a_plain_pip_list_is_kept_in_order_and_builds_a_venv():
    env = profile(pip=["sortedcontainers", "numpy>=1.26"]).environment
    assert env.pip == ("sortedcontainers", "numpy>=1.26")
    assert env.builds_venv and not env.offline
    assert profile(python="/opt/py/bin/python3").environment.builds_venv is False


def test_unknown_key_gets_a_did_you_mean_and_the_source():
    with pytest.raises(ConfigError, match=r"lab.yaml: key 'environment.pipp': unknown key \(did you mean 'pip'\?\)"):
        profile(pipp=["x"])


def test_every_bad_item_is_named_at_once(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notapkg").mkdir()
    with pytest.raises(ConfigError) as info:
        profile(pip=["./notapkg", "./missing", "not a requirement!"], replicate="yes")
    text = str(info.value)
    assert "'./notapkg' is not a package" in text and "pyproject.toml" in text
    assert "'./missing' does not exist" in text
    assert "'not a requirement!' is not a requirement pip understands" in text
    assert "environment.replicate" in text and "true or false" in text


def test_a_requirements_file_must_exist(tmp_path: Path):
    with pytest.raises(ConfigError, match="requirements file .*nope.txt.* does not exist"):
        profile(requirements=str(tmp_path / "nope.txt"))


def test_requirements_file_lines_follow_includes_and_refuse_options(tmp_path: Path):
    (tmp_path / "base.txt").write_text("sortedcontainers==2.4.0  # pinned\n\n")
    (tmp_path / "reqs.txt").write_text("-r base.txt\niniconfig \\\n  >=2\n")
    assert read_requirements_file(str(tmp_path / "reqs.txt")) == ("sortedcontainers==2.4.0", "iniconfig>=2")
    (tmp_path / "bad.txt").write_text("iniconfig\n--index-url https://example.invalid/simple\n")
    with pytest.raises(ConfigError, match=r"bad.txt:2: option line '--index-url .*' is not supported"):
        profile(requirements=str(tmp_path / "bad.txt"))


def test_local_packages_are_made_absolute(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "pyproject.toml").write_text("[project]\nname = 'mypkg'\nversion = '1'\n")
    assert profile(pip=["./mypkg"]).environment.pip == (str(tmp_path / "mypkg"),)


def test_python_and_conda_exclude_each_other_and_python_must_agree():
    with pytest.raises(ConfigError, match="either python .* or conda"):
        profile(python="/usr/bin/python3", conda="lab")
    with pytest.raises(ConfigError, match="python '/a/python' and environment.python '/b/python' disagree"):
        Profile.from_mapping({"backend": "slurm", "python": "/a/python", "environment": {"python": "/b/python"}})


def test_prelude_quotes_names_and_runs_in_a_shell():
    env = Environment(modules=("gcc/12", "python/3.11"), conda="my-env")
    lines = env.prelude()
    assert lines[0].startswith("module load gcc/12 python/3.11 ||")
    assert "conda activate my-env ||" in lines[-1]
    for line in lines:  # each line is valid shell
        assert subprocess.run(["sh", "-n", "-c", line], check=False).returncode == 0
    assert env.base_python("python3") == "python"
    with pytest.raises(ConfigError, match="is not a module name"):
        profile(modules=["gcc; rm -rf ~"])
    with pytest.raises(ConfigError, match="not a conda environment name"):
        profile(conda="lab$(id)")
    assert shlex.split(Environment(modules=("a",)).prelude()[0])[:3] == ["module", "load", "a"]


def test_environment_round_trips_through_a_config_file(tmp_path: Path):
    text = ("profiles:\n  hpc:\n    backend: slurm\n    host: login\n    environment:\n"
            "      pip: [iniconfig]\n      wheelhouse: true\n      build_timeout_s: 60\n")
    prof = parse_config(text, "f.yaml").profiles["hpc"]
    assert prof.environment == Environment(pip=("iniconfig",), wheelhouse=True, build_timeout_s=60.0)
    assert Profile.from_mapping(prof.to_mapping(), name="hpc") == prof


def test_build_timeout_and_wheelhouse_are_checked(tmp_path: Path):
    with pytest.raises(ConfigError, match="positive number of seconds"):
        profile(pip=["x"], build_timeout_s=0)
    with pytest.raises(ConfigError, match="wheelhouse directory .* does not exist"):
        profile(pip=["x"], wheelhouse=str(tmp_path / "none"))
    assert profile(pip=["x"], wheelhouse=str(tmp_path)).environment.offline


def test_conda_runs_its_own_python_so_a_profile_python_is_refused():
    with pytest.raises(ConfigError, match="environment.conda 'lab' disagree"):
        Profile.from_mapping({"backend": "slurm", "python": "/a/python", "environment": {"conda": "lab"}})
