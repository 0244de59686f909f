"""The documentation's examples run, so they cannot rot (rules: ``tests/docs/docs_snippets.py``).

Each python block runs as a script in a fresh interpreter, with this checkout first on its
import path, in an empty temporary directory with its own home, clustrix data dir and a
configuration file whose default profile is the ``local`` backend; blocks that need a cluster
start a :class:`clustrix_sim.cluster.SimCluster` themselves, as a reader would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import docs_snippets as snippets
import pytest
import yaml

BLOCKS = snippets.all_blocks()
RUNNABLE = snippets.runnable(BLOCKS)
BLOCK_TIMEOUT_S = 600

DOCS_CONFIG = """\
default_profile: docs
profiles:
  docs:
    backend: local
    max_workers: 2
"""

# Pages that teach by example: each must have at least one block that really runs.
PAGES_WITH_EXAMPLES = (
    "getting-started.md", "code-and-environment.md", "timeline.md", "schedulers/slurm.md", "schedulers/pbs.md",
    "schedulers/torque.md",
    "schedulers/sge.md", "testing.md", "simulator.md", "troubleshooting.md",
)


def example_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLUSTRIX_", "PYTEST_"))}
    for name in ("home", "data", "config", "state", "cache"):
        (tmp_path / name).mkdir()
    config = tmp_path / "clustrix.yaml"
    config.write_text(DOCS_CONFIG)
    env.update({
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "CLUSTRIX_DATA_DIR": str(tmp_path / "data"),
        "CLUSTRIX_CONFIG": str(config),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(snippets.ROOT), os.environ.get("PYTHONPATH")])),
    })
    return env


def _run(block: snippets.Block, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    work = tmp_path / "work"
    work.mkdir()
    env = example_env(tmp_path)
    args = block.pytest_args
    if args is None:
        script = work / "example.py"
        script.write_text(block.code)
        argv = [sys.executable, str(script)]
    else:
        (work / "test_example.py").write_text(block.code)
        argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args, "test_example.py"]
    return subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S,
                          check=False)


def _lines(text: str) -> list[str]:
    """Text as a page shows it: trailing blanks of a line and of the whole are invisible there."""
    return [line.rstrip() for line in text.rstrip().split("\n")]


@pytest.mark.parametrize(("block", "expected"), RUNNABLE, ids=[b.where for b, _ in RUNNABLE])
def test_example_runs(block: snippets.Block, expected: snippets.Block | None, tmp_path: Path) -> None:
    done = _run(block, tmp_path)
    assert done.returncode == 0, (
        f"{block.where} failed (exit {done.returncode})\n--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}")
    if block.pytest_args is not None:
        assert " passed" in done.stdout, f"{block.where}: pytest ran no test:\n{done.stdout}"
    if expected is not None:
        assert _lines(done.stdout) == _lines(expected.code), (
            f"{block.where} printed something else than {expected.where} shows\n--- printed ---\n{done.stdout}")


def test_every_python_block_runs_or_says_why_not() -> None:
    assert snippets.rule_violations(BLOCKS) == []


def test_example_pages_have_examples_that_run() -> None:
    counted = {page: 0 for page in PAGES_WITH_EXAMPLES}
    for block, _ in RUNNABLE:
        if block.page in counted:
            counted[block.page] += 1
    assert [page for page, n in counted.items() if n == 0] == []


CONFIG_BLOCKS = [b for b in BLOCKS if b.lang == "yaml" and isinstance(yaml.safe_load(b.code), dict)
                 and "profiles" in yaml.safe_load(b.code)]


@pytest.mark.parametrize("block", CONFIG_BLOCKS, ids=[b.where for b in CONFIG_BLOCKS])
def test_configuration_examples_are_valid(block: snippets.Block, tmp_path: Path) -> None:
    from clustrix.config import read_config_file

    path = tmp_path / "clustrix.yaml"
    path.write_text(block.code)
    conf = read_config_file(str(path))  # raises ConfigError naming every problem
    assert conf.profiles, f"{block.where}: no profile in the example"


CI_BLOCKS = [b for b in BLOCKS if b.lang == "yaml" and b.code.startswith(("# .github/", "# .gitlab-ci"))]


def _commands(node: object) -> list[str]:
    """Every string under a ``run`` or ``script`` key of a CI file."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("run", "script"):
                found += [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]
            else:
                found += _commands(value)
    elif isinstance(node, list):
        for value in node:
            found += _commands(value)
    return found


def test_ci_recipes_parse_and_run_both_backends() -> None:
    assert {b.code.split("\n", 1)[0] for b in CI_BLOCKS} == {"# .github/workflows/tests.yml", "# .gitlab-ci.yml"}
    for block in CI_BLOCKS:
        commands = " ".join(_commands(yaml.safe_load(block.code)))
        for backend in ("slurm-sim", "slurm-docker"):
            assert f"pytest --clustrix-backend={backend}" in commands, f"{block.where}: no {backend} run"
        assert 'pip install -e ".[test]"' in commands, block.where
