"""The SLURM batch script: directives read back verbatim by an independent sbatch tokenizer.

The tokenizer below is written from sbatch's source (``src/sbatch/opt.c``: ``_opt_batch_script`` and
``_get_argument``) and the reference's summary, deliberately without importing clustrix_sim or the
module under test, so a quoting mistake cannot hide behind shared code. It runs in two variants:
the C code as published (a backslash before a space ends the argument anyway) and the documented
behaviour (``\\ `` escapes a space); the encoder must be right under both.
"""

from __future__ import annotations

import posixpath
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from clustrix.errors import ResourceError
from clustrix.schedulers import slurm
from clustrix.schedulers.script import RUNNER_LAUNCH
from clustrix.spec import ArraySpec, JobPaths, JobSpec, Resources

DATA = Path(__file__).resolve().parents[2] / "data" / "slurm"
_C_SPACE = " \t\n\v\f\r"  # isspace() in the C locale
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class SbatchFatal(Exception):
    """sbatch would stop with ``fatal: ...`` (unmatched quote, leading ':')."""


def _get_argument(line: str, pos: int, *, escaped_space_joins: bool) -> tuple[str | None, int]:
    """One argument from ``line[pos:]`` as opt.c reads it; (None, pos) when none is left."""
    while pos < len(line) and line[pos] in _C_SPACE:
        pos += 1
    if pos < len(line) and line[pos] == ":":
        raise SbatchFatal(f"Unexpected `:` in [{line}]")
    if pos >= len(line):
        return None, pos
    arg: list[str] = []
    quoted, q_char, escape = False, "", False
    while pos < len(line) and line[pos] != "\n":
        ch = line[pos]
        if ch in _C_SPACE and not quoted and not (escape and escaped_space_joins):
            break
        if escape:
            escape = False
        elif ch == "\\":
            escape = True
            pos += 1
            continue
        elif quoted:
            if ch == q_char:
                quoted = False
                pos += 1
                continue
        elif ch in "\"'":
            quoted, q_char = True, ch
            pos += 1
            continue
        elif ch == "#":
            break  # an unquoted, unescaped '#' starts a comment: the rest of the line is ignored
        arg.append(ch)
        pos += 1
    if quoted:
        raise SbatchFatal(f"Unmatched `{q_char}` in [{line}]")
    # opt.c returns NULL when nothing was copied (e.g. a bare '""'), ending the line's arguments.
    return ("".join(arg) if arg else None), pos


def sbatch_directives(script: str, *, escaped_space_joins: bool = False) -> tuple[list[str], int]:
    """The option arguments sbatch reads from a script's ``#SBATCH`` lines, and how many
    heterogeneous-job separators ('hetjob'/'packjob', any case, anywhere on the line) it saw."""
    args: list[str] = []
    het_splits = 0
    for line in script.split("\n"):
        if line.startswith("#SBATCH"):
            rest = line[len("#SBATCH"):]
        elif line.startswith("#SLURM"):
            rest = line[len("#SLURM"):]
        else:
            stripped = line.lstrip(_C_SPACE)
            if stripped and not stripped.startswith("#"):
                break  # the first command ends directive scanning
            continue
        lowered = line.translate(_ASCII_LOWER)  # strcasestr: ASCII case folding only
        if "hetjob" in lowered or "packjob" in lowered:
            het_splits += 1
        pos = 0
        while True:
            arg, pos = _get_argument(rest, pos, escaped_space_joins=escaped_space_joins)
            if arg is None:
                break
            args.append(arg)
    return args, het_splits


def long_options(args: list[str]) -> list[tuple[str, str | None]]:
    """``--name=value`` arguments as pairs, in order (a bare ``--flag`` pairs with None)."""
    pairs: list[tuple[str, str | None]] = []
    for arg in args:
        assert arg.startswith("--"), f"not a long option: {arg!r}"
        name, eq, value = arg[2:].partition("=")
        pairs.append((name, value if eq else None))
    return pairs


def expand_filename(pattern: str, *, task: int | None) -> str:
    """SLURM's filename-pattern expansion for the letters clustrix may emit (sbatch.1)."""
    if "\\" in pattern:
        return pattern.replace("\\", "")  # any backslash: no expansion, backslashes removed
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "%" and i + 1 < len(pattern):
            letter = pattern[i + 1]
            if letter == "%":
                out.append("%")
            elif letter == "a":
                out.append(str(task if task is not None else 4294967294))
            else:
                out.append(pattern[i : i + 2])  # other letters never appear in our patterns
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


TOKENIZER_VARIANTS = pytest.mark.parametrize("joins", [False, True], ids=["opt.c", "documented"])


# --- the tokenizer itself behaves like sbatch ------------------------------------------------------


@pytest.mark.parametrize(
    "line,expected",
    [
        ('#SBATCH --job-name="a b" -p q', ["--job-name=a b", "-p", "q"]),
        ("#SBATCH --job-name='x\"y' # trailing comment", ['--job-name=x"y']),
        ('#SBATCH -J a"b c"d', ["-J", "ab cd"]),
        ("#SBATCH -J ab#cd", ["-J", "ab"]),
        ('#SBATCH -J "ab#cd"', ["-J", "ab#cd"]),
        (r'#SBATCH -J "a\"b\\c"', ["-J", 'a"b\\c']),
        (" #SBATCH -J ignored", []),
    ],
)
def test_reference_tokenizer_reads_documented_forms(line, expected):
    assert sbatch_directives(line + "\n")[0] == expected


def test_reference_tokenizer_rejects_unmatched_quote_and_stops_at_first_command():
    with pytest.raises(SbatchFatal):
        sbatch_directives('#SBATCH -J "open\n')
    args, _ = sbatch_directives("#!/bin/bash\n#SBATCH -N 1\n\necho hi\n#SBATCH -N 2\n")
    assert args == ["-N", "1"]


def test_reference_tokenizer_sees_het_separators():
    assert sbatch_directives("#SBATCH --job-name=myHetJob\n")[1] == 1


# --- quoting --------------------------------------------------------------------------------------

HOSTILE = [
    "plain",
    "with space",
    "  leading and trailing  ",
    "tab\there",
    'double"quote',
    "single'quote",
    "both'\"quotes\"'",
    "$(rm -rf ~)",
    "`id`; echo pwned",
    "a;b&&c||d",
    "#not-a-comment",
    "50%",
    "%j%a%%",
    "back\\slash",
    "trailing\\",
    "\\\"",
    "unicode λ ✓ 東京",
    "hetjob",
    "my-PackJob-x",
    "hethetjobjob",
    "=leading-equals",
    "-looks-like-an-option",
    ":colon",
    "\x0bvertical\x0cformfeed",
]


@TOKENIZER_VARIANTS
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_round_trip(value, joins):
    line = f"#SBATCH --comment={slurm.quote_directive_value('comment', value)}\n"
    args, het = sbatch_directives(line, escaped_space_joins=joins)
    assert args == [f"--comment={value}"]
    assert het == 0


@settings(max_examples=400, deadline=None)
@given(st.text(st.characters(blacklist_characters="\n\r\x00", blacklist_categories=("Cs",)), min_size=1))
@example("het'job\"hetjob")
@example('"""')
def test_any_one_line_value_round_trips(value):
    quoted = slurm.quote_directive_value("comment", value)
    for joins in (False, True):
        args, het = sbatch_directives(f"#SBATCH --comment={quoted}\n", escaped_space_joins=joins)
        assert args == [f"--comment={value}"]
        assert het == 0


@pytest.mark.parametrize("bad", ["two\nlines", "carriage\rreturn", "nul\x00byte"])
def test_unrepresentable_values_raise_resource_error_naming_the_field(bad):
    with pytest.raises(ResourceError) as info:
        slurm.quote_directive_value("account", bad)
    assert info.value.field == "account"
    assert "single line" in str(info.value)


def test_plain_values_stay_readable():
    assert slurm.quote_directive_value("partition", "gpu-a100") == "gpu-a100"
    assert slurm.quote_directive_value("job name", "my job") == '"my job"'


# --- filename patterns ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/d/stdout.log", "/data/100%/x%a%%/stdout.log", "/x/%j/%4a"])
def test_filename_pattern_expands_back_to_the_literal_path(path):
    assert expand_filename(slurm.filename_pattern("f", path), task=7) == path


def test_backslash_in_a_log_path_is_refused():
    with pytest.raises(ResourceError, match="backslash"):
        slurm.filename_pattern("job directory", "/data/a\\b/stdout.log")


# --- whole scripts --------------------------------------------------------------------------------


def _spec(**res_kwargs) -> JobSpec:
    return JobSpec(name="job", resources=Resources(**res_kwargs))


PATHS = JobPaths(job_dir="/scratch/u/clustrix/job-1", key_file="/home/u/.clustrix/key")


def _options(script: str, joins: bool = False) -> list[tuple[str, str | None]]:
    args, het = sbatch_directives(script, escaped_space_joins=joins)
    assert het == 0
    return long_options(args)


def test_minimal_script_has_the_fixed_directives_and_the_body():
    script = slurm.render_script(_spec(), PATHS)
    assert script.startswith("#!/bin/bash\n")
    assert _options(script) == [
        ("job-name", "job"),
        ("nodes", "1"),
        ("ntasks", "1"),
        ("cpus-per-task", "1"),
        ("output", "/scratch/u/clustrix/job-1/stdout.log"),
        ("error", "/scratch/u/clustrix/job-1/stderr.log"),
    ]
    assert f"-c {shlex.quote(RUNNER_LAUNCH)} /scratch/u/clustrix/job-1 --task" in script
    assert 'CLUSTRIX_TASK=""' in script


@pytest.mark.parametrize(
    "time_s,text",
    [(1, "00:00:01"), (3600, "01:00:00"), (86399, "23:59:59"), (86400, "1-00:00:00"),
     (129600, "1-12:00:00"), (10 * 86400 + 61, "10-00:01:01")],
)
def test_time_is_hms_below_a_day_and_days_prefixed_above(time_s, text):
    assert dict(_options(slurm.render_script(_spec(time_s=time_s), PATHS)))["time"] == text


def test_gpus_memory_and_queue_fallback():
    opts = dict(_options(slurm.render_script(_spec(gpus=2, mem_mb=1536, queue="long"), PATHS)))
    assert opts["gres"] == "gpu:2"
    assert opts["mem"] == "1536M"
    assert opts["partition"] == "long"  # partition_name falls back to queue
    assert "gres" not in dict(_options(slurm.render_script(_spec(gpus=0), PATHS)))


def test_extra_directives_come_last_and_verbatim():
    script = slurm.render_script(_spec(extra_directives=("--constraint=a100", "-C 'x y'")), PATHS)
    args, _ = sbatch_directives(script)
    assert args[-3:] == ["--constraint=a100", "-C", "x y"]
    assert "#SBATCH -C 'x y'\n" in script


@pytest.mark.parametrize("size,parallel,expected", [(1, None, "0-0"), (10, None, "0-9"), (10, 3, "0-9%3")])
def test_array_range_and_per_task_logs(size, parallel, expected):
    spec = JobSpec(name="arr", array=ArraySpec(size, parallel))
    opts = dict(_options(slurm.render_script(spec, PATHS)))
    assert opts["array"] == expected
    for task in range(size):
        assert expand_filename(opts["output"], task=task) == PATHS.stdout(task)
        assert expand_filename(opts["error"], task=task) == PATHS.stderr(task)


@TOKENIZER_VARIANTS
def test_hostile_job_dir_with_percent_and_spaces_gives_exact_log_paths(joins):
    paths = JobPaths(job_dir="/data/it's 100% \"done\" #1/$(x)/ü", key_file="/k")
    single = dict(_options(slurm.render_script(_spec(), paths), joins))
    assert expand_filename(single["output"], task=None) == paths.stdout()
    spec = JobSpec(name="a", array=ArraySpec(3))
    arr = dict(_options(slurm.render_script(spec, paths), joins))
    assert [expand_filename(arr["error"], task=t) for t in range(3)] == [paths.stderr(t) for t in range(3)]


def test_job_dir_with_backslash_raises_resource_error():
    with pytest.raises(ResourceError, match="backslash"):
        slurm.render_script(_spec(), JobPaths(job_dir="/data/a\\b", key_file="/k"))


def test_setup_lines_cannot_inject_directives():
    spec = JobSpec(name="j", setup=("#SBATCH --partition=evil",), env=(("A", "#SBATCH -p x"),))
    names = [name for name, _ in _options(slurm.render_script(spec, PATHS))]
    assert "partition" not in names


# JobSpec names exclude C0 controls and DEL; resource names exclude line breaks and NUL.
printable_names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters=[*map(chr, range(32)), "\x7f"]),
    min_size=1,
    max_size=60,
)
single_line_names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00"), min_size=1, max_size=30
).filter(lambda s: s.strip())


@settings(max_examples=150, deadline=None)
@given(
    name=printable_names,
    partition=single_line_names,
    account=single_line_names,
    qos=single_line_names,
    job_dir=st.text(st.characters(blacklist_characters="\\\n\x00", blacklist_categories=("Cs",)), max_size=30),
)
def test_rendered_values_round_trip(name, partition, account, qos, job_dir):
    spec = JobSpec(
        name=name,
        resources=Resources(partition=partition, account=account, qos=qos),
        array=ArraySpec(2),
    )
    paths = JobPaths(job_dir="/" + job_dir.replace("\r", ""), key_file="/k")
    opts = dict(_options(slurm.render_script(spec, paths)))
    assert opts["job-name"] == name
    assert (opts["partition"], opts["account"], opts["qos"]) == (
        spec.resources.partition, spec.resources.account, spec.resources.qos)
    assert expand_filename(opts["output"], task=1) == paths.stdout(1)
    assert expand_filename(opts["error"], task=0) == paths.stderr(0)


# --- golden file and shell syntax -----------------------------------------------------------------

GOLDEN_SPEC = JobSpec(
    name="train \"big\" model's #1 $(whoami) 100% λ",
    resources=Resources(
        cores=8,
        nodes=2,
        mem_mb=16384,
        time_s=2 * 86400 + 3 * 3600 + 4 * 60 + 5,
        gpus=4,
        partition="gpu a100",
        account="proj;rm -rf /",
        qos="hetjob`id`",
        extra_directives=("--constraint=a100", "--exclusive"),
    ),
    array=ArraySpec(size=10, max_parallel=3),
    env=(("OMP_NUM_THREADS", "8"), ("WEIRD", "a'b\"c $HOME")),
    setup=("module load python/3.11",),
    python="/opt/py 3/bin/python",
)
GOLDEN_PATHS = JobPaths(job_dir="/scratch/alice/clustrix/100% sure/job 7", key_file="/home/alice/.clustrix/k ey")


def test_golden_script_matches_exactly():
    expected = (DATA / "golden_all_fields.sh").read_text(encoding="utf-8")
    assert slurm.render_script(GOLDEN_SPEC, GOLDEN_PATHS) == expected


def test_golden_script_directives_read_back():
    opts = dict(_options(slurm.render_script(GOLDEN_SPEC, GOLDEN_PATHS)))
    assert opts["job-name"] == GOLDEN_SPEC.name
    assert opts["account"] == "proj;rm -rf /"
    assert opts["qos"] == "hetjob`id`"
    assert opts["partition"] == "gpu a100"
    assert opts["time"] == "2-03:04:05"
    assert expand_filename(opts["output"], task=9) == GOLDEN_PATHS.stdout(9)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is needed for the syntax check")
@pytest.mark.parametrize("spec", [GOLDEN_SPEC, JobSpec(name="plain")], ids=["hostile", "plain"])
def test_rendered_script_is_valid_bash(tmp_path, spec):
    script = tmp_path / "job.sh"
    script.write_text(slurm.render_script(spec, GOLDEN_PATHS), encoding="utf-8")
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_directives_precede_every_command():
    script = slurm.render_script(GOLDEN_SPEC, GOLDEN_PATHS)
    head, _, _ = script.partition("\n\n")
    assert all(line.startswith(("#!", "#SBATCH ")) for line in head.split("\n"))
    assert re.search(r"^#SBATCH", script.partition("\n\n")[2], re.MULTILINE) is None
    assert posixpath.isabs(GOLDEN_PATHS.job_dir)
