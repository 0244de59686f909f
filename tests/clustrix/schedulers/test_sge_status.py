"""SGE submit parsing, ``qstat -xml`` status, ids and argv: captured outputs and properties."""

from __future__ import annotations

import logging
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clustrix.errors import SchedulerOutputError
from clustrix.schedulers import sge
from clustrix.spec import ArraySpec
from clustrix.states import JobState, JobStatus

DATA = Path(__file__).resolve().parents[2] / "data" / "sge"
S = JobState


def read(name: str) -> str:
    return (DATA / name).read_text()


def test_module_contract():
    assert sge.NAME == "sge"
    assert sge.submit_argv("/j d/job.sh") == ["qsub", "-terse", "/j d/job.sh"]
    assert sge.status_argv(["1", "3.2"]) == ["qstat", "-xml"]
    assert sge.cancel_argv(["1", "3.2"]) == ["qdel", "1", "3.2"]
    assert sge.accounting_argv("3.2") == ["qacct", "-j", "3"]
    assert sge.task_ids("124", ArraySpec(3)) == ["124.1", "124.2", "124.3"]
    assert sge.task_ids("124.1-3:1", ArraySpec(2)) == ["124.1", "124.2"]
    with pytest.raises(ValueError):
        sge.task_ids("abc", ArraySpec(2))
    with pytest.raises(ValueError):
        sge.cancel_argv([])


@pytest.mark.parametrize(("stdout", "job_id"), [
    ("123\n", "123"),
    ("124.1-10:1\n", "124"),
    ('Your job 123 ("dask-worker") has been submitted\n', "123"),
    ('Your job-array 124.1-10:1 ("array.sh") has been submitted\n', "124"),
    ('Your job 125 ("a (weird) \\"name\\"") has been submitted\n', "125"),
    ("\n  126  \n", "126"),
])
def test_parse_submit(stdout, job_id):
    assert sge.parse_submit(stdout) == job_id


@pytest.mark.parametrize("stdout", [
    "", "Unable to run job: job rejected: the requested parallel environment \"smp\" does not "
    "exist.\nExiting.\n", "Submitted batch job 5\n", "123.srv\n", "12a\n",
])
def test_parse_submit_rejects_anything_else(stdout):
    with pytest.raises(SchedulerOutputError):
        sge.parse_submit(stdout)


def test_reference_qstat_xml():
    result = sge.parse_status(read("qstat_xml_reference.xml"))
    assert result["1"] == JobStatus(S.RUNNING, "r", "running")
    assert [result[t].state for t in sge.task_ids("3", ArraySpec(10))] == [S.PENDING] * 10
    assert set(result) == {"1", *sge.task_ids("3", ArraySpec(10))}


def test_states_and_task_ranges(caplog):
    with caplog.at_level(logging.WARNING, logger="clustrix.schedulers.sge.commands"):
        result = sge.parse_status(read("qstat_xml_states.xml"))
    assert {k: (v.state, v.raw) for k, v in result.items()} == {
        "40.1": (S.RUNNING, "r"), "40.2": (S.RUNNING, "r"),
        "40.3": (S.PENDING, "qw"), "40.4": (S.PENDING, "qw"), "40.5": (S.PENDING, "qw"),
        "40.6": (S.PENDING, "qw"), "40.8": (S.PENDING, "qw"), "40.7": (S.PENDING, "hqw"),
        "41": (S.CANCELLED, "dr"), "42": (S.RUNNING, "S"), "43": (S.RUNNING, "t"),
        "44": (S.FAILED, "Eqw"), "45": (S.PENDING, "hqw"), "46": (S.PENDING, "hRwq"),
        "47": (S.UNKNOWN, "Xz"),
    }
    assert "'Xz'" in caplog.text
    assert "qmod -cj" in result["44"].reason


@pytest.mark.parametrize(("code", "state"), [
    ("qw", S.PENDING), ("hqw", S.PENDING), ("hRwq", S.PENDING), ("r", S.RUNNING),
    ("t", S.RUNNING), ("Rr", S.RUNNING), ("Rt", S.RUNNING), ("s", S.RUNNING), ("ts", S.RUNNING),
    ("S", S.RUNNING), ("tS", S.RUNNING), ("T", S.RUNNING), ("tT", S.RUNNING),
    ("Eqw", S.FAILED), ("Ehqw", S.FAILED), ("EhRqw", S.FAILED), ("dr", S.CANCELLED),
    ("dt", S.CANCELLED), ("dRr", S.CANCELLED), ("ds", S.CANCELLED), ("dS", S.CANCELLED),
])
def test_every_state_code_seen_in_practice(code, state):
    assert sge.parse_status(job_xml([("9", code, None)]))["9"].state is state


@pytest.mark.parametrize("text", [read("qstat_xml_empty.xml"), "", " \n"])
def test_no_jobs(text):
    assert sge.parse_status(text) == {}


@pytest.mark.parametrize("text", [
    "<job_info>",
    "plain qstat text\n",
    '<!DOCTYPE x [<!ENTITY a "aaaa">]><job_info>&a;</job_info>',
])
def test_malformed_xml_raises_scheduler_output_error(text):
    with pytest.raises(SchedulerOutputError):
        sge.parse_status(text)


GOOD_JOB = "<job_list><JB_job_number>7</JB_job_number><state>r</state></job_list>"


@pytest.mark.parametrize("bad", [
    "<job_list><state>r</state></job_list>",
    "<job_list><JB_job_number>x</JB_job_number><state>r</state></job_list>",
    "<job_list><JB_job_number>1</JB_job_number><state>qw</state><tasks>a-b</tasks></job_list>",
    "<job_list><JB_job_number>1</JB_job_number><state>qw</state><tasks>5-2:1</tasks></job_list>",
    "<job_list><JB_job_number>1</JB_job_number><state>qw</state><tasks>1-9999999:1</tasks></job_list>",
])
def test_a_job_element_without_a_readable_id_is_skipped_alone(bad):
    assert sge.parse_status(f"<job_info>{bad}{GOOD_JOB}</job_info>") == {"7": sge.parse_status(
        f"<job_info>{GOOD_JOB}</job_info>")["7"]}


def test_a_job_element_without_a_state_concerns_that_job_only():
    got = sge.parse_status("<job_info><job_list><JB_job_number>1</JB_job_number><state></state>"
                           f"</job_list>{GOOD_JOB}</job_info>")
    assert got["7"].state is JobState.RUNNING
    assert got["1"].state is JobState.UNKNOWN and "no state" in got["1"].problem


@pytest.mark.parametrize(("stderr", "unknown"), [
    ("error: job id 123 not found\n", True),
    ("Following jobs do not exist: \n123\n", True),
    ('denied: job "999" does not exist\n', True),
    ("error: commlib error: got select error (Connection refused)\n", False),
])
def test_unknown_job_errors(stderr, unknown):
    assert sge.is_unknown_job_error(stderr) is unknown


def job_xml(jobs) -> str:
    """qstat -xml in the qstat_xml.c layout for (number, state, tasks) triples."""
    rows = []
    for number, state, tasks in jobs:
        task_line = f"\n      <tasks>{escape(tasks)}</tasks>" if tasks is not None else ""
        rows.append(f"""    <job_list state="running">
      <JB_job_number>{number}</JB_job_number>
      <JAT_prio>0.50000</JAT_prio>
      <JB_name>n &amp; m</JB_name>
      <JB_owner>u</JB_owner>
      <state>{escape(state)}</state>
      <queue_name>all.q@h</queue_name>
      <slots>1</slots>{task_line}
    </job_list>
""")
    return ("<?xml version='1.0'?>\n<job_info  xmlns:xsd=\"http://x\">\n  <queue_info>\n"
            + "".join(rows) + "  </queue_info>\n  <job_info>\n  </job_info>\n</job_info>\n")


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_text_parses_or_raises_scheduler_output_error(text):
    for parse in (sge.parse_status, sge.parse_submit):
        try:
            parse(text)
        except SchedulerOutputError:
            pass


KNOWN = {"qw": S.PENDING, "hqw": S.PENDING, "r": S.RUNNING, "t": S.RUNNING, "Rr": S.RUNNING,
         "s": S.RUNNING, "Eqw": S.FAILED, "dr": S.CANCELLED}

task_ranges = st.lists(
    st.tuples(st.integers(1, 50), st.integers(0, 20), st.integers(1, 4)), min_size=1, max_size=3)


@given(st.dictionaries(st.integers(1, 10**7),
                       st.tuples(st.sampled_from(sorted(KNOWN)), st.none() | task_ranges),
                       min_size=1, max_size=6))
@settings(max_examples=200, deadline=None)
def test_generated_qstat_xml_maps_every_job_and_task(jobs):
    rows, expected = [], {}
    for number, (code, ranges) in jobs.items():
        if ranges is None:
            rows.append((str(number), code, None))
            expected[str(number)] = KNOWN[code]
            continue
        parts = []
        for first, extra, step in ranges:
            last = first + extra
            parts.append(f"{first}-{last}:{step}" if extra else str(first))
            for task in range(first, last + 1, step):
                expected[f"{number}.{task}"] = KNOWN[code]
        rows.append((str(number), code, ",".join(parts)))
    result = sge.parse_status(job_xml(rows))
    assert {k: v.state for k, v in result.items()} == expected
