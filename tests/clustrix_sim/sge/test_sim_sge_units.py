"""The Grid Engine front end's pure pieces against what real 8.1.9 printed
(``tests/data/sge_real/``): task ranges, priorities, qsub's option and directive parsing."""

from __future__ import annotations

import pytest

from clustrix_sim.engine.model import JobRecord, JobRequest
from clustrix_sim.sge.common import priorities, range_text, state_code
from clustrix_sim.sge.qdel import parse_target
from clustrix_sim.sge.qsub import memory_mb, seconds
from clustrix_sim.sge.qsub_options import QsubError, directive_options, parse_argv


@pytest.mark.parametrize("ids,text", [
    ([1, 3, 5], "1-5:2"), ([2, 3], "2,3"), ([1, 2, 3, 4, 5], "1-5:1"), ([7], "7"),
    ([1, 2, 3, 10], "1-3:1,10"),
])
def test_task_ranges_print_like_qstat(ids, text):
    assert range_text(ids) == text


def record(job_id, slots=1, held=False, state="PENDING", reason="None"):
    req = JobRequest(script="", name="j", user="u", uid=1, work_dir="/", cpus_per_task=slots)
    return JobRecord(job_id=job_id, request=req, state=state, held=held, reason=reason)


def test_priorities_match_the_captured_table():
    # real: running 1-slot job 0.25000, pending 8-slot job 0.75000, held jobs 0.00000
    recs = [record(1, state="RUNNING"), record(2, held=True), record(3, slots=8), record(4, reason="Dependency")]
    assert priorities(recs) == {1: 0.25, 2: 0.0, 3: 0.75, 4: 0.0}
    assert [state_code(r) for r in recs] == ["r", "hqw", "qw", "hqw"]


def test_equal_jobs_share_half():
    assert priorities([record(1), record(2)]) == {1: 0.5, 2: 0.5}


def test_argv_stops_at_the_script_and_keeps_its_arguments():
    opts, rest = parse_argv(["-N", "x", "-pe", "smp", "4", "-cwd", "job.sh", "-N", "arg"])
    assert opts == [("-N", ["x"]), ("-pe", ["smp", "4"]), ("-cwd", [])] and rest == ["job.sh", "-N", "arg"]


@pytest.mark.parametrize("argv,text", [
    (["-bogus"], 'ERROR! invalid option argument "-bogus"'), (["-N"], "ERROR! -N option must have argument"),
    (["-pe", "smp"], "ERROR! -pe option must have argument"),
])
def test_bad_options_name_the_option(argv, text):
    with pytest.raises(QsubError) as info:
        parse_argv(argv)
    assert info.value.text == text and info.value.rc == 7


def test_every_directive_line_counts_and_quotes_group_words():
    script = '#!/bin/sh\n#$ -N "two words"\necho hi\n#$ -l h_rt=60 # a comment\n# $ -q not.this\n'
    assert directive_options(script, "#$") == [("-N", ["two words"]), ("-l", ["h_rt=60"])]
    assert directive_options(script, "") == []


@pytest.mark.parametrize("text,value", [("3600", 3600), ("1:00:00", 3600), ("0:0:2", 2), ("INFINITY", 0)])
def test_time_values(text, value):
    assert seconds(text) == value


@pytest.mark.parametrize("text,mb", [("1G", 1024), ("512M", 512), ("1536k", 2), ("2", 1)])
def test_memory_values(text, mb):
    assert memory_mb(text) == mb


@pytest.mark.parametrize("text,target", [("12", (12, None)), ("12.3", (12, [3])), ("12.1-5:2", (12, [1, 3, 5])),
                                          ("x", None), ("12.a", None)])
def test_qdel_targets(text, target):
    assert parse_target(text) == target
