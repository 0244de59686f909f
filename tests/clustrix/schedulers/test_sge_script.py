"""The SGE batch script: ``#$`` directives read back by an independent model of SGE's
``parse_script_file`` (every ``#$`` line, split by ``string_list`` on blanks with ``"`` grouping,
then ``sge_strip_quotes``), golden output, refusals, and a real bash run with 1-based tasks."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clustrix.errors import ResourceError
from clustrix.schedulers import sge
from clustrix.schedulers.script import RUNNER_LAUNCH
from clustrix.spec import ArraySpec, JobPaths, JobSpec, Resources

DATA = Path(__file__).resolve().parents[2] / "data" / "sge"
BASH = shutil.which("bash")
DELIMS = " \t\n"
C_SPACE = " \t\n\v\f\r"


def string_list(text: str) -> list[str]:
    """SGE ``string_list(str, " \\t\\n")`` then ``sge_strip_quotes``."""
    words: list[str] = []
    current: list[str] = []
    in_quote = False
    for c in text:
        if c == '"':
            in_quote = not in_quote
            current.append(c)
        elif c in DELIMS and not in_quote:
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(c)
    if current:
        words.append("".join(current))
    return [w.replace('"', "") for w in words]


def sge_directives(script: str) -> list[list[str]]:
    out = []
    for line in script.split("\n"):
        if line.startswith("#$"):
            params = line[2:].strip(C_SPACE)  # isspace() skip and trailing trim
            if params:
                out.append(string_list(params))
    return out


def options(script: str) -> dict[str, list[list[str]]]:
    found: dict[str, list[list[str]]] = {}
    for words in sge_directives(script):
        found.setdefault(words[0], []).append(words[1:])
    return found


SAFE_HOSTILE = "it's a $HOME; `rm -rf` \\ value"
PATHS = JobPaths("/home/u s/clustrix jobs/j$1 'x'", "/home/u s/.clustrix/key file")


def full_spec(**overrides) -> JobSpec:
    resources = Resources(cores=4, mem_mb=8190, time_s=90061, gpus=2, queue="gpu queue",
                          account=SAFE_HOSTILE, qos="high",
                          extra_directives=("-l scratch=10G", "#$ -m n"))
    fields = dict(name="my job: $x; 'y'", resources=resources, array=ArraySpec(5, 2),
                  env=(("GREETING", SAFE_HOSTILE),), setup=("echo setup-ran",),
                  python="/opt/py 3/bin/python")
    fields.update(overrides)
    return JobSpec(**fields)


def test_golden_script_sets_every_field():
    assert sge.render_script(full_spec(), PATHS) == (DATA / "golden_all_fields.sh").read_text()


def test_directives_read_back_verbatim():
    opts = options(sge.render_script(full_spec(), PATHS))
    assert opts["-N"] == [["my_job___x___y_"]]
    assert opts["-S"] == [["/bin/bash"]]
    assert opts["-pe"] == [["smp", "4"]]
    # h_vmem is per slot: ceil(8190 MB / 4 slots) = 2048 MB, so 4 slots x 2048 >= 8190
    assert opts["-l"] == [["h_vmem=2048M"], ["h_rt=25:01:01"], ["gpu=2"], ["scratch=10G"]]
    assert opts["-q"] == [["gpu queue"]]
    assert opts["-P"] == [[SAFE_HOSTILE]]
    assert opts["-t"] == [["1-5"]]
    assert opts["-tc"] == [["2"]]
    assert opts["-o"] == [[PATHS.job_dir + "/stdout.$TASK_ID.log"]]
    assert opts["-e"] == [[PATHS.job_dir + "/stderr.$TASK_ID.log"]]
    assert opts["-m"] == [["n"]]


@pytest.mark.parametrize("task", [0, 1, 4])
def test_task_id_expansion_of_the_log_paths_gives_log_paths(task):
    opts = options(sge.render_script(full_spec(), PATHS))
    sge_task = str(task + 1)  # what SGE substitutes for $TASK_ID
    out = opts["-o"][0][0].replace("$TASK_ID", sge_task)
    err = opts["-e"][0][0].replace("$TASK_ID", sge_task)
    assert (out, err) == sge.log_paths(PATHS, task)
    assert sge.log_paths(PATHS) == (PATHS.stdout(), PATHS.stderr())


def test_one_core_single_job_has_no_pe_and_plain_logs():
    spec = full_spec(array=None, resources=Resources(mem_mb=1000))
    opts = options(sge.render_script(spec, PATHS))
    assert "-pe" not in opts and "-t" not in opts and "-tc" not in opts
    assert opts["-l"] == [["h_vmem=1000M"]]
    assert opts["-o"] == [[PATHS.stdout()]]


def test_one_task_array_is_still_an_sge_array():
    opts = options(sge.render_script(full_spec(array=ArraySpec(1, 1)), PATHS))
    assert opts["-t"] == [["1-1"]] and "-tc" not in opts


def test_user_parallel_environment_replaces_the_default_and_allows_nodes():
    spec = full_spec(resources=Resources(cores=4, nodes=4, extra_directives=("-pe mpi 16",)))
    opts = options(sge.render_script(spec, PATHS))
    assert opts["-pe"] == [["mpi", "16"]]
    with pytest.raises(ResourceError, match="parallel environment"):
        sge.render_script(full_spec(resources=Resources(nodes=2)), PATHS)


@pytest.mark.parametrize(("job_dir", "match"), [
    ("/data/a:b", "host:path"),
    ("/home/$USER/jobs", r"\$USER"),
    ("/x/$TASK_ID", r"\$TASK_ID"),
])
def test_job_dirs_sge_would_rewrite_are_refused(job_dir, match):
    with pytest.raises(ResourceError, match=match):
        sge.render_script(full_spec(), JobPaths(job_dir, "/k"))


@pytest.mark.parametrize("queue", ['a"b', "a#b"])
def test_double_quote_or_hash_in_a_value_is_refused_naming_the_rule(queue):
    with pytest.raises(ResourceError, match="double quote"):
        sge.render_script(full_spec(resources=Resources(queue=queue)), PATHS)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                      blacklist_characters='\n\r\x00"#'), min_size=1, max_size=60))
@settings(max_examples=300, deadline=None)
def test_any_value_without_double_quotes_round_trips(value):
    word = sge.quote_value(value)
    assert string_list(word) == [value]
    assert sge_directives(f"#$ -P {word}\n") == [["-P", value]]


@pytest.mark.skipif(BASH is None, reason="bash is required to run generated scripts")
@pytest.mark.parametrize(("array", "env", "task", "sentinel"), [
    (ArraySpec(5, 2), {"SGE_TASK_ID": "4"}, "3", "exit_code.3"),  # SGE task 4 = clustrix task 3
    (ArraySpec(1), {"SGE_TASK_ID": "1"}, "0", "exit_code.0"),
    (None, {"SGE_TASK_ID": "undefined"}, "", "exit_code"),
])
def test_script_runs_the_runner_for_the_right_task(tmp_path, array, env, task, sentinel):
    job_dir = tmp_path / "job dir 'q' $x"
    job_dir.mkdir()
    stub = tmp_path / "py stub"
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$STUB_OUT"\n'
                    'printf "%s" "$GREETING" > "$STUB_OUT.env"\nexit 5\n')
    stub.chmod(0o755)
    paths = JobPaths(str(job_dir), str(tmp_path / "key"))
    script = job_dir / "job.sh"
    script.write_text(sge.render_script(full_spec(array=array, python=str(stub)), paths))
    subprocess.run([BASH, "-n", str(script)], check=True, timeout=30)
    run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "STUB_OUT": str(tmp_path / "out"), **env}
    proc = subprocess.run([BASH, str(script)], env=run_env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 5, proc.stderr
    assert (tmp_path / "out").read_text().splitlines() == [
        "-c", RUNNER_LAUNCH, str(job_dir), "--task", task, "--key-file", str(tmp_path / "key")]
    assert (tmp_path / "out.env").read_text() == SAFE_HOSTILE
    assert (job_dir / sentinel).read_text() == "5\n"
