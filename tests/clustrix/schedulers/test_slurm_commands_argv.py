"""SLURM argv builders, sbatch output parsing, error recognisers and id handling."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clustrix import schedulers
from clustrix.errors import ResourceError, SchedulerOutputError
from clustrix.schedulers import slurm
from clustrix.spec import ArraySpec

DATA = Path(__file__).resolve().parents[2] / "data" / "slurm"


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_module_implements_the_scheduler_contract():
    module = schedulers.get("slurm")
    assert module is slurm
    assert slurm.NAME == "slurm"
    for name in ("render_script", "submit_argv", "parse_submit", "status_argv", "parse_status",
                 "cancel_argv", "task_ids", "fallback_status_argv", "parse_fallback_status",
                 "is_accounting_unavailable", "is_unknown_job_error"):
        assert callable(getattr(slurm, name)), name


# --- submit ---------------------------------------------------------------------------------------


def test_submit_argv_uses_parsable():
    assert slurm.submit_argv("/scratch/u/job 1/job.sh") == ["sbatch", "--parsable", "/scratch/u/job 1/job.sh"]


@pytest.mark.parametrize("bad", ["", "-x.sh", "--wrap=id"])
def test_submit_argv_refuses_paths_that_read_as_options(bad):
    with pytest.raises(ResourceError):
        slurm.submit_argv(bad)


@pytest.mark.parametrize(
    "name,job_id",
    [
        ("sbatch_parsable.txt", "123"),
        ("sbatch_parsable_cluster.txt", "123"),
        ("sbatch_default.txt", "123"),
        ("sbatch_default_cluster.txt", "123"),
        ("sbatch_plugin_chatter.txt", "123"),
    ],
)
def test_parse_submit_captured_outputs(name, job_id):
    assert slurm.parse_submit(read(name)) == job_id


@pytest.mark.parametrize(
    "text", ["  4242  \r\n", "\n\n4242\n\n", "sbatch: a\nsbatch: b\nSubmitted batch job 4242\n"]
)
def test_parse_submit_tolerates_whitespace_and_chatter(text):
    assert slurm.parse_submit(text) == "4242"


@pytest.mark.parametrize(
    "text",
    [
        read("sbatch_quiet.txt"),
        read("sbatch_error_merged.txt"),
        "garbage",
        "Submitted batch job\n",
        "123\ngarbage after the id\n",
        "12a\n",
        "١٢٣\n",  # non-ASCII digits are not a SLURM id
        "Submitted batch job 123_4\n",
        "-5\n",
    ],
)
def test_parse_submit_rejects_everything_else(text):
    with pytest.raises(SchedulerOutputError):
        slurm.parse_submit(text)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_submit_returns_digits_or_raises(text):
    try:
        job_id = slurm.parse_submit(text)
    except SchedulerOutputError:
        return
    assert job_id.isascii() and job_id.isdigit()


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 2**32), st.sampled_from(["{}\n", "{};cl\n", "Submitted batch job {}\n"]))
def test_parse_submit_round_trips_ids(number, form):
    assert slurm.parse_submit(form.format(number)) == str(number)


# --- status and cancel argv ------------------------------------------------------------------------


def test_status_argv_is_one_pinned_sacct_command():
    assert slurm.status_argv(["12", "13_4", "14+0"]) == [
        "sacct", "--noheader", "--parsable2", "--allocations",
        "--format=JobID,State,ExitCode,Reason", "--jobs=12,13_4,14+0",
    ]
    assert slurm.SACCT_FIELDS == ("JobID", "State", "ExitCode", "Reason")


def test_fallback_argv_is_one_pinned_squeue_command():
    assert slurm.fallback_status_argv(["12", "13_4"]) == [
        "squeue", "--noheader", "--array", "--states=all", "--jobs=12,13_4", "--format=%i|%T|%r",
    ]


def test_cancel_argv():
    assert slurm.cancel_argv(["12", "13_4"]) == ["scancel", "12", "13_4"]
    assert slurm.cancel_argv("12") == ["scancel", "12"]


@pytest.mark.parametrize("builder", [slurm.status_argv, slurm.fallback_status_argv, slurm.cancel_argv])
@pytest.mark.parametrize(
    "ids", [[], ["--user=bob"], ["12", "-u"], ["12 13"], ["12;rm"], [12], ["١٢"], ["12\n"], ["12_"]]
)
def test_argv_builders_refuse_empty_or_non_id_values(builder, ids):
    with pytest.raises(ResourceError):
        builder(ids)


# --- arrays ---------------------------------------------------------------------------------------


def test_task_ids_are_zero_based_in_order():
    assert slurm.task_ids("123", ArraySpec(4)) == ["123_0", "123_1", "123_2", "123_3"]
    assert slurm.task_ids("9", ArraySpec(1, max_parallel=1)) == ["9_0"]


@pytest.mark.parametrize("bad", ["123_4", "", "abc", "12 3"])
def test_task_ids_need_a_base_job_id(bad):
    with pytest.raises(ResourceError):
        slurm.task_ids(bad, ArraySpec(2))


def test_task_ids_match_the_keys_parse_status_returns():
    ids = slurm.task_ids("500", ArraySpec(6))
    parsed = slurm.parse_status("500_0|COMPLETED|0:0|None\n500_1|RUNNING|0:0|None\n500_[2-5%2]|PENDING|0:0|None\n")
    assert list(parsed) == ids


# --- error recognisers (stderr text verbatim from the reference) ------------------------------------


@pytest.mark.parametrize(
    "stderr,expected",
    [
        ("sacct: error: Slurm accounting storage is disabled\n", True),
        ("Slurm accounting storage is disabled", True),
        ("sacct: error: Invalid field requested: \"Foo\"\n", False),
        ("", False),
    ],
)
def test_is_accounting_unavailable(stderr, expected):
    assert slurm.is_accounting_unavailable(stderr) is expected


@pytest.mark.parametrize(
    "stderr,expected",
    [
        ("slurm_load_jobs error: Invalid job id specified\n", True),
        ("squeue: error: Invalid user: bob\n", False),
        ("slurm_load_jobs error: Socket timed out on send/recv operation\n", False),
        ("", False),
    ],
)
def test_is_unknown_job_error(stderr, expected):
    assert slurm.is_unknown_job_error(stderr) is expected
