"""The PBS Pro batch script: directives read back verbatim by an independent qsub tokenizer,
golden output, ``bash -n``, and the rendered script really run by bash with a stub interpreter.

The tokenizer is written from OpenPBS ``src/cmds/qsub.c`` (``get_script``, ``make_argv``) without
importing the module under test: a directive line is every line starting ``#PBS`` before the
first executable line; a line ending in ``\\`` continues on the next; words split on whitespace,
``'...'``/``"..."`` quote literally and ``\\x`` escapes one character.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clustrix.errors import ResourceError
from clustrix.schedulers import pbs
from clustrix.schedulers.script import RUNNER_LAUNCH
from clustrix.spec import ArraySpec, JobPaths, JobSpec, Resources

DATA = Path(__file__).resolve().parents[2] / "data" / "pbs"
BASH = shutil.which("bash")


class QsubFatal(Exception):
    """qsub would exit with 'unmatched quote'."""


C_SPACE = " \t\n\v\f\r"  # isspace() in the C locale


def make_argv(line: str, *, keep_quotes: bool = False) -> list[str]:
    """qsub.c ``make_argv`` (without the leading "qsub"); ``keep_quotes`` is Torque's variant,
    which copies the quote characters into the word."""
    args: list[str] = []
    buf: list[str] = []
    i, n = 0, len(line)
    while i < n and line[i] in C_SPACE:
        i += 1
    started = i < n
    while i < n:
        c = line[i]
        if c in "\"'":
            end = line.find(c, i + 1)
            if end < 0:
                raise QsubFatal(f"unmatched {c} in {line!r}")
            buf.append(line[i:end + 1] if keep_quotes else line[i + 1:end])
            i = end + 1
        elif c == "\\":
            if i + 1 >= n:
                raise QsubFatal(f"trailing backslash in {line!r}")
            buf.append(line[i + 1])
            i += 2
        elif c in C_SPACE:
            args.append("".join(buf))
            buf = []
            while i < n and line[i] in C_SPACE:
                i += 1
            started = i < n
        else:
            buf.append(c)
            i += 1
    if started:
        args.append("".join(buf))
    return args


def qsub_directives(script: str, *, keep_quotes: bool = False) -> list[list[str]]:
    """The argument words of every ``#PBS`` line qsub reads from ``script``."""
    lines = script.split("\n")
    out: list[list[str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if line.startswith("#PBS"):
            text = line[4:]
            while text.endswith("\\") and i + 1 < len(lines):  # get_script continuation
                i += 1
                text = text[:-1] + lines[i]
            out.append(make_argv(text, keep_quotes=keep_quotes))
        elif stripped.strip(C_SPACE) and not stripped.startswith("#"):
            break  # first executable line: qsub stops reading directives
        i += 1
    return out


def options(script: str, *, keep_quotes: bool = False) -> dict[str, list[str]]:
    """``{"-q": [value, ...], ...}`` from the script's directives."""
    found: dict[str, list[str]] = {}
    for words in qsub_directives(script, keep_quotes=keep_quotes):
        assert len(words) == 2, words
        found.setdefault(words[0], []).append(words[1])
    return found


HOSTILE = "it's a \"quoted\" $HOME; `rm -rf` \\ value"


def full_spec(**overrides) -> JobSpec:
    resources = Resources(cores=4, nodes=2, mem_mb=8192, time_s=90061, gpus=2,
                          queue="gpu queue", account=HOSTILE, qos="high",
                          extra_directives=("-l scratch=10gb", "#PBS -m n"))
    fields = dict(name="my job: $x; 'y'", resources=resources, array=ArraySpec(5, 2),
                  env=(("GREETING", HOSTILE),), setup=("echo setup-ran",),
                  python="/opt/py 3/bin/python")
    fields.update(overrides)
    return JobSpec(**fields)


PATHS = JobPaths("/home/u s/clustrix jobs/j$1 'x'", "/home/u s/.clustrix/key file")


def test_golden_script_sets_every_field():
    script = pbs.render_script(full_spec(), PATHS)
    assert script == (DATA / "golden_all_fields.sh").read_text()


@pytest.mark.parametrize("keep_quotes", [False, True], ids=["pbspro", "torque-tokenizer"])
def test_directives_read_back_verbatim_by_qsub_rules(keep_quotes):
    opts = options(pbs.render_script(full_spec(), PATHS), keep_quotes=keep_quotes)
    assert opts["-q"] == ["gpu queue"]
    assert opts["-A"] == [HOSTILE]
    assert opts["-o"] == ["/home/u s/clustrix jobs/j$1 'x'/stdout.^array_index^.log"]
    assert opts["-e"] == ["/home/u s/clustrix jobs/j$1 'x'/stderr.^array_index^.log"]
    assert opts["-l"] == ["select=2:ncpus=4:mem=8192mb:ngpus=2", "place=scatter",
                          "walltime=25:01:01", "scratch=10gb"]
    assert opts["-J"] == ["0-4%2"]
    assert opts["-r"] == ["y"]
    assert opts["-S"] == ["/bin/bash"]
    assert opts["-m"] == ["n"]
    assert opts["-N"] == ["my_job___x___y_"]


def test_qos_is_a_comment_not_a_directive():
    script = pbs.render_script(full_spec(), PATHS)
    assert "# clustrix: qos 'high' not sent: PBS has no QOS" in script.splitlines()
    assert all(words[0] != "-W" for words in qsub_directives(script))


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00"),
               min_size=1, max_size=60))
@settings(max_examples=300, deadline=None)
def test_any_single_line_value_round_trips_through_qsub(value):
    if value.endswith("\\"):
        with pytest.raises(ResourceError, match="backslash"):
            pbs.quote_value(value)
        return
    word = pbs.quote_value(value)
    for keep_quotes in (False, True):
        assert make_argv(word, keep_quotes=keep_quotes) == [value]
        # as part of a directive line, which must not continue onto the next line
        script = f"#PBS -A {word}\n#PBS -q next\n"
        assert qsub_directives(script, keep_quotes=keep_quotes) == [["-A", value], ["-q", "next"]]


@pytest.mark.parametrize(("name", "expected"), [
    ("train", "train"),
    ("my job", "my_job"),
    ("3d-model", "j3d-model"),
    ("_x", "j_x"),
    ("a.b/c", "a_b_c"),
    ("ünï", "j_n_"),
    ("x" * 300, "x" * pbs.MAX_JOB_NAME_LEN),
])
def test_job_names_satisfy_check_job_name(name, expected):
    assert pbs.sanitize_job_name(name) == expected


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=300))
def test_sanitized_names_always_pass_openpbs_rules(name):
    clean = pbs.sanitize_job_name(name)
    assert 1 <= len(clean) <= 230
    assert clean[0].isascii() and clean[0].isalpha()
    assert all(c.isascii() and (c.isalnum() or c in "-_+") for c in clean)
    assert pbs.sanitize_job_name(name) == clean  # deterministic


def test_single_job_has_no_array_directives_and_plain_logs():
    spec = full_spec(array=None, resources=Resources())
    script = pbs.render_script(spec, PATHS)
    opts = options(script)
    assert "-J" not in opts and "-r" not in opts
    assert opts["-o"] == [PATHS.stdout()] and opts["-e"] == [PATHS.stderr()]
    assert opts["-l"] == ["select=1:ncpus=1"]
    assert "-q" not in opts and "-A" not in opts
    assert 'CLUSTRIX_TASK=""' in script


def test_one_task_array_is_a_plain_job_that_is_task_zero():
    script = pbs.render_script(full_spec(array=ArraySpec(1)), PATHS)
    opts = options(script)
    assert "-J" not in opts
    assert opts["-o"] == [PATHS.stdout(0)]
    assert "PBS_ARRAY_INDEX=0" in script.splitlines()
    # the assignment comes after every directive, so qsub still reads them all
    assert qsub_directives(script)[-1] == ["-m", "n"]


def test_max_parallel_not_below_size_is_not_a_limit():
    assert options(pbs.render_script(full_spec(array=ArraySpec(3, 3)), PATHS))["-J"] == ["0-2"]
    assert options(pbs.render_script(full_spec(array=ArraySpec(3)), PATHS))["-J"] == ["0-2"]


def test_job_dir_with_colon_is_refused_naming_the_rule():
    with pytest.raises(ResourceError, match="host:path"):
        pbs.render_script(full_spec(), JobPaths("/data/a:b", "/k"))


def test_log_paths_are_the_jobpaths_files():
    assert pbs.log_paths(PATHS) == (PATHS.stdout(), PATHS.stderr())
    assert pbs.log_paths(PATHS, 3) == (PATHS.stdout(3), PATHS.stderr(3))


@pytest.mark.skipif(BASH is None, reason="bash is required to check generated scripts")
@pytest.mark.parametrize("array", [None, ArraySpec(1), ArraySpec(4, 2)])
def test_bash_accepts_the_script(tmp_path, array):
    script = tmp_path / "job.sh"
    script.write_text(pbs.render_script(full_spec(array=array), PATHS))
    subprocess.run([BASH, "-n", str(script)], check=True, timeout=30)


def run_script(tmp_path: Path, spec_kwargs: dict, env: dict[str, str]) -> tuple[list[str], str, str]:
    """Render into a job dir with hostile characters and run it with bash and a stub python.

    Returns the stub's argv, the sentinel's name and content.
    """
    job_dir = tmp_path / "job dir 'q' $x"
    job_dir.mkdir()
    stub = tmp_path / "py stub"
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$STUB_OUT"\n'
                    'printf "%s" "$GREETING" > "$STUB_OUT.env"\nexit 7\n')
    stub.chmod(0o755)
    paths = JobPaths(str(job_dir), str(tmp_path / "key"))
    spec = full_spec(python=str(stub), **spec_kwargs)
    (job_dir / "job.sh").write_text(pbs.render_script(spec, paths))
    out = tmp_path / "stub.out"
    run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "STUB_OUT": str(out), **env}
    proc = subprocess.run([BASH, str(job_dir / "job.sh")], env=run_env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 7, proc.stderr
    assert (tmp_path / "stub.out.env").read_text() == HOSTILE
    sentinels = sorted(p.name for p in job_dir.iterdir() if p.name.startswith("exit_code"))
    assert len(sentinels) == 1, sentinels
    return out.read_text().splitlines(), sentinels[0], (job_dir / sentinels[0]).read_text()


@pytest.mark.skipif(BASH is None, reason="bash is required to run generated scripts")
@pytest.mark.parametrize(("spec_kwargs", "env", "task", "sentinel"), [
    ({"array": ArraySpec(5, 2)}, {"PBS_ARRAY_INDEX": "3"}, "3", "exit_code.3"),
    ({"array": ArraySpec(1)}, {}, "0", "exit_code.0"),
    ({"array": None}, {}, "", "exit_code"),
])
def test_script_runs_the_runner_for_the_right_task(tmp_path, spec_kwargs, env, task, sentinel):
    argv, name, content = run_script(tmp_path, spec_kwargs, env)
    job_dir = str(tmp_path / "job dir 'q' $x")
    assert argv == ["-c", RUNNER_LAUNCH, job_dir, "--task", task, "--key-file",
                    str(tmp_path / "key")]
    assert (name, content) == (sentinel, "7\n")
