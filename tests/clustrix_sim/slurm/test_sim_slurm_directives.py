"""#SBATCH scanning (sbatch's get_argument rules) and sbatch value grammars."""

from __future__ import annotations

import pytest

from clustrix_sim.slurm.directives import DirectiveFatal, scan_directives, split_directive_line
from clustrix_sim.slurm.sbatch_values import (
    build_export_env,
    parse_array,
    parse_dependency,
    parse_gpus,
    parse_gres_gpus,
    parse_mem_mb,
    parse_nodes,
    parse_signal,
)

SUBMITIT = """#!/bin/bash

# Parameters
#SBATCH --array=0-9%10
#SBATCH --error=/path/%A_%a_0_log.err
#SBATCH --exclusive
#SBATCH --job-name=submitit
#SBATCH --mem=8GB
#SBATCH --nodes=1
#SBATCH --open-mode=append
#SBATCH --signal=USR2@90
#SBATCH --time=5
#SBATCH --wckey=submitit

# command
export SUBMITIT_EXECUTOR=slurm
#SBATCH --ignored=after-first-command
srun --unbuffered --output /path/%j_%t_log.out python -u -m submitit.core._submit /path
"""

PSIJ = """#!/bin/bash
#SBATCH --job-name="my job"
#SBATCH --chdir="/dir with space"
#SBATCH --time=1:5:0
#SBATCH --partition="q" --account='a'
#SBATCH -e /dev/null
#SBATCH -o /dev/null
#SBATCH --export=NONE
"""


def test_submitit_template() -> None:
    found = scan_directives(SUBMITIT, "submitit.sh")
    assert found.args == ["--array=0-9%10", "--error=/path/%A_%a_0_log.err", "--exclusive",
                          "--job-name=submitit", "--mem=8GB", "--nodes=1", "--open-mode=append",
                          "--signal=USR2@90", "--time=5", "--wckey=submitit"]
    assert found.warnings == []


def test_psij_quoted_values_and_short_options() -> None:
    assert scan_directives(PSIJ, "psij.sh").args == [
        "--job-name=my job", "--chdir=/dir with space", "--time=1:5:0", "--partition=q",
        "--account=a", "-e", "/dev/null", "-o", "/dev/null", "--export=NONE"]


@pytest.mark.parametrize(
    ("rest", "args"),
    [
        (" -J a\\ b", ["-J", "a b"]),
        (" --comment=x # a trailing comment", ["--comment=x"]),
        (" --comment='x # y'", ["--comment=x # y"]),
        (" --comment=a\\#b", ["--comment=a#b"]),
        ('  -J "" -p x', ["-J"]),  # an empty argument ends the scan, as in Slurm
        ("", []),
    ],
)
def test_argument_splitting(rest: str, args: list[str]) -> None:
    assert split_directive_line(rest) == args


def test_column_zero_and_stop_rules() -> None:
    script = "#!/bin/sh\n #SBATCH -J indented\n\n# plain comment\n#SBATCH -p a\n  \necho hi\n#SBATCH -p b\n"
    assert scan_directives(script, "s").args == ["-p", "a"]


def test_legacy_magic_warns_once() -> None:
    found = scan_directives("#!/bin/sh\n#SLURM -J a\n#SLURM -p b\n", "s")
    assert found.args == ["-J", "a", "-p", "b"]
    assert found.warnings == [
        "Change from #SLURM to #SBATCH in your script and verify the options are valid in sbatch"]


def test_unmatched_quote_is_fatal() -> None:
    with pytest.raises(DirectiveFatal) as exc:
        scan_directives('#!/bin/sh\n#SBATCH -J "oops\n', "job.sh")
    assert str(exc.value) == 'job.sh: line 2: Unmatched `"` in [#SBATCH -J "oops]'
    with pytest.raises(DirectiveFatal, match="Unexpected `:`"):
        scan_directives("#!/bin/sh\n#SBATCH :\n", "job.sh")


@pytest.mark.parametrize(
    ("text", "mb"),
    [("8GB", 8192), ("1536MB", 1536), ("15G", 15360), ("4g", 4096), ("1048576K", 1024),
     ("1K", 1), ("100", 100), ("0", 0), ("1T", 1048576)],
)
def test_memory(text: str, mb: int) -> None:
    assert parse_mem_mb(text) == mb


@pytest.mark.parametrize("bad", ["1.5G", "G", "8X", "-1", "8 GB", "B"])
def test_memory_invalid(bad: str) -> None:
    with pytest.raises(ValueError, match=r"^Invalid --mem specification$"):
        parse_mem_mb(bad)


def test_arrays() -> None:
    assert parse_array("0-15") == (list(range(16)), None)
    assert parse_array("0,6,16-18") == ([0, 6, 16, 17, 18], None)
    assert parse_array("0-15:4") == ([0, 4, 8, 12], None)
    assert parse_array("0-9%10") == (list(range(10)), 10)
    for bad in ("", "a", "5-1", "1-5:0", "1%x", "-1", "1,,2"):
        with pytest.raises(ValueError, match="Invalid job array specification"):
            parse_array(bad)


def Dependency(kind: str, job_ids: list[str] | None = None, minutes: int = 0) -> dict:  # noqa: N802
    """The wire shape of clustrix_sim.engine.model.Dependency."""
    return {"kind": kind, "job_ids": job_ids or [], "minutes": minutes}


def test_dependencies() -> None:
    assert parse_dependency("afterok:1:2,afterany:3_4") == (
        [Dependency("afterok", ["1", "2"]), Dependency("afterany", ["3_4"])], False)
    assert parse_dependency("afterok:1?afternotok:2") == (
        [Dependency("afterok", ["1"]), Dependency("afternotok", ["2"])], True)
    assert parse_dependency("after:5+10") == ([Dependency("after", ["5"], 10)], False)
    assert parse_dependency("singleton") == ([Dependency("singleton")], False)
    for bad in ("afterok:1,afterany:2?afterok:3", "afterwhat:1", "afterok:", "afterok:x"):
        with pytest.raises(ValueError, match="Job dependency problem"):
            parse_dependency(bad)


def test_nodes_signal_gpus() -> None:
    assert parse_nodes("2") == (2, 2)
    assert parse_nodes("1-3") == (1, 3)
    with pytest.raises(ValueError, match="invalid node count `x'"):
        parse_nodes("x")
    for ok in ("USR2@90", "B:USR1@30", "R:10", "SIGTERM", "15"):
        assert parse_signal(ok) == ok
    for bad in ("FOO", "USR2@x", "99"):
        with pytest.raises(ValueError, match="Invalid --signal specification"):
            parse_signal(bad)
    assert parse_gpus("2") == 2 and parse_gpus("v100:2,a100:1") == 3
    assert parse_gres_gpus("gpu:a100:2") == 2 and parse_gres_gpus("gpu") == 1
    assert parse_gres_gpus("mps:100,gpu:3") == 3


def test_export() -> None:
    env = {"A": "1", "B": "2", "PATH": "/bin"}
    assert build_export_env(None, env) == env
    assert build_export_env("ALL", env) == env
    assert build_export_env("NONE", env) == {}
    assert build_export_env("ALL,C=3", env) == dict(env, C="3")
    assert build_export_env("A,C=y", env) == {"A": "1", "C": "y"}
