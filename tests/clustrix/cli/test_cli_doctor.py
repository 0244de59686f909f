"""``clustrix doctor`` without a cluster: profiles with nothing remote, and names that do not exist.

The remote checks run against slurm-sim over SSH in ``tests/e2e/test_doctor.py``.
"""

from __future__ import annotations

from click.testing import CliRunner

from clustrix.cli import main as cli


def test_a_local_profile_has_nothing_remote_to_check(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLUSTRIX_CONFIG", raising=False)
    done = CliRunner().invoke(cli.main, ["doctor", "local"])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[0].split()[:3] == ["OK", "profile", "local"]
    assert "nothing remote to check" in done.output and "profile 'local' is ready" in done.output


def test_an_unknown_profile_is_named(tmp_path, monkeypatch):
    config = tmp_path / "clustrix.yaml"
    config.write_text("profiles:\n  hpc:\n    backend: slurm\n    host: login.example.org\n")
    monkeypatch.setenv("CLUSTRIX_CONFIG", str(config))
    done = CliRunner().invoke(cli.main, ["doctor", "hcp"])
    assert done.exit_code == 1
    assert "hcp" in done.output and "hpc" in done.output  # the name asked for, and the one that exists
