"""Filename pattern expansion (sbatch.1 FILENAME PATTERN, Slurm's expand_stdio_fields)."""

from __future__ import annotations

import pytest

from clustrix_sim.slurm.patterns import PatternContext, expand_pattern

CTX = PatternContext(job_id=128, work_dir="/data", job_name="train", user="alice", node="c1")
ARRAY = PatternContext(
    job_id=131, work_dir="/data/", job_name="sub", user="bob", node="c2",
    array_job_id=128, array_task_id=3,
)


@pytest.mark.parametrize(
    ("pattern", "ctx", "path"),
    [
        ("slurm-%j.out", CTX, "/data/slurm-128.out"),
        ("job%4j.out", CTX, "/data/job0128.out"),
        ("job%2j-%2t.out", CTX, "/data/job128-00.out"),
        ("job%J.out", CTX, "/data/job128.out"),
        ("%x_%u_%N.log", CTX, "/data/train_alice_c1.log"),
        ("/abs/%j_%n_%s.log", CTX, "/abs/128_0_batch.log"),
        ("100%%.out", CTX, "/data/100%.out"),
        ("%z.out", CTX, "/data/%z.out"),
        ("%5z.out", CTX, "/data/5z.out"),
        ("%01j.out", CTX, "/data/1j.out"),
        ("%12j.out", CTX, "/data/0000000128.out"),
        ("end%", CTX, "/data/end"),
        ("slurm-%A_%a.out", ARRAY, "/data/slurm-128_3.out"),
        ("%A_%a_0_log.err", ARRAY, "/data/128_3_0_log.err"),
        ("%j-%3a-%b", ARRAY, "/data/131-003-3"),
        ("slurm-%A_%a.out", CTX, "/data/slurm-128_4294967294.out"),
        ("a\\%j.out", CTX, "/data/a%j.out"),
        ("/dev/null", CTX, "/dev/null"),
    ],
)
def test_expand_pattern(pattern: str, ctx: PatternContext, path: str) -> None:
    assert expand_pattern(pattern, ctx) == path


def test_empty_pattern_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty filename pattern"):
        expand_pattern("", CTX)
