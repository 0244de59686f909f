"""Finding a SLURM submission by its tag: argv, and the parser over captured squeue output."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clustrix.errors import ResourceError
from clustrix.schedulers.slurm import lookup_argv, parse_lookup, tagged_submit_argv

DATA = Path(__file__).parents[2] / "data" / "slurm" / "squeue_lookup.txt"
TAG = "20240101-0123456789abcdef0123456789abcdef"


def test_tagged_submit_argv_puts_the_comment_before_the_script():
    assert tagged_submit_argv("/j/job.sh", TAG) == ["sbatch", "--parsable", f"--comment={TAG}", "/j/job.sh"]


def test_lookup_is_one_squeue_over_my_jobs_in_every_state():
    assert lookup_argv(TAG) == ["squeue", "--noheader", "--me", "--states=all", "--format=%i|%k"]


@pytest.mark.parametrize("bad", ["", "-rf", "a b", "x;rm", "--comment=x", "a" * 101, "é"])
def test_unsafe_tags_are_refused(bad):
    with pytest.raises(ResourceError):
        tagged_submit_argv("/j/job.sh", bad)


@pytest.mark.parametrize(("tag", "expected"), [
    (TAG, "102"),  # a pending array range and a running task: the array's base id
    ("20240101-ffffffffffffffffffffffffffffffff", "104"),
    ("a comment | with pipes|and more", "103"),  # everything after the first '|'
    ("20240101-not-there", None),
    ("(null)", "101"),
])
def test_parse_lookup_over_captured_output(tag, expected):
    assert parse_lookup(DATA.read_text(), tag) == expected


def test_empty_output_finds_nothing():
    assert parse_lookup("", TAG) is None


ids = st.integers(1, 10**9)
tags = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,40}", fullmatch=True)
noise = st.lists(st.tuples(ids, st.text(st.characters(blacklist_characters="\n\r"), max_size=30)), max_size=8)


@given(job=ids, tag=tags, others=noise, task=st.none() | st.integers(0, 1000))
def test_the_tagged_job_is_found_among_any_others(job, tag, others, task):
    lines = [f"{i}|{c}" for i, c in others if c.strip() != tag]
    lines.insert(len(lines) // 2, f"{job}|{tag}" if task is None else f"{job}_{task}|{tag}")
    assert parse_lookup("\n".join(lines) + "\n", tag) == str(job)


@given(tag=tags, others=noise)
def test_an_absent_tag_is_never_found(tag, others):
    text = "\n".join(f"{i}|{c}" for i, c in others if c.strip() != tag)
    assert parse_lookup(text, tag) is None
