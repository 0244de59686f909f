"""PBS Pro submit/cancel/status argv, job-id parsing, array task ids and error classification."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clustrix.errors import SchedulerOutputError
from clustrix.schedulers import pbs
from clustrix.spec import ArraySpec


def test_module_contract():
    assert pbs.NAME == "pbs"
    assert pbs.submit_argv("/j d/job.sh") == ["qsub", "/j d/job.sh"]
    assert pbs.status_argv(["1.s", "2[].s"]) == ["qstat", "-x", "-f", "-F", "json", "-t", "1.s",
                                                  "2[].s"]
    assert pbs.fallback_status_argv(["1.s"]) == ["qstat", "-x", "-f", "-t", "1.s"]
    assert pbs.cancel_argv(["1.s", "2[3].s"]) == ["qdel", "1.s", "2[3].s"]


@pytest.mark.parametrize(("stdout", "job_id"), [
    ("123.pbs-master\n", "123.pbs-master"),
    ("125[].pbs-master\n", "125[].pbs-master"),
    ("2154.edtb-01.mcp.alcf.anl.gov\n", "2154.edtb-01.mcp.alcf.anl.gov"),
    ("77\n", "77"),
    ("qsub: warning: job will not run before maintenance\n\n 88.srv \n\n", "88.srv"),
])
def test_parse_submit_takes_the_last_non_blank_line(stdout, job_id):
    assert pbs.parse_submit(stdout) == job_id


@pytest.mark.parametrize("stdout", [
    "", "\n\n", "qsub: Unknown queue\n", "Submitted batch job 5\n", "123.srv extra\n",
    "123.srv\nqsub: trailing message\n", "abc.srv\n",
])
def test_parse_submit_rejects_anything_else(stdout):
    with pytest.raises(SchedulerOutputError, match="qsub did not print a job id"):
        pbs.parse_submit(stdout)


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_parse_submit_any_text_returns_an_id_or_raises(text):
    try:
        job_id = pbs.parse_submit(text)
    except SchedulerOutputError:
        return
    assert job_id and job_id == job_id.strip() and job_id[0].isdigit()


def test_task_ids_follow_pbs_subjob_naming():
    assert pbs.task_ids("125[].pbs-master", ArraySpec(3)) == [
        "125[0].pbs-master", "125[1].pbs-master", "125[2].pbs-master"]
    assert pbs.task_ids("126[]", ArraySpec(2)) == ["126[0]", "126[1]"]
    assert pbs.task_ids("127.srv", ArraySpec(2)) == ["127[0].srv", "127[1].srv"]
    # a one-task array was submitted as a plain job: its only task is the job itself
    assert pbs.task_ids("128.srv", ArraySpec(1)) == ["128.srv"]
    with pytest.raises(ValueError, match="not a PBS job id"):
        pbs.task_ids("srv.123", ArraySpec(2))


@pytest.mark.parametrize("ids", [[], ["-x"], ["1 2"], [""]])
def test_argv_builders_refuse_missing_or_option_like_ids(ids):
    for build in (pbs.status_argv, pbs.cancel_argv, pbs.fallback_status_argv):
        with pytest.raises(ValueError):
            build(ids)


@pytest.mark.parametrize(("stderr", "unknown"), [
    ("qstat: Unknown Job Id 999.pbs-master\n", True),
    ("qdel: Unknown Job Id 999.pbs-master\n", True),
    ("qstat: Unknown Job Id Error 123.torque-server\n", True),
    ("qstat: 123.pbs-master Job has finished, use -x or -H to obtain historical job information\n",
     True),
    ("qstat: cannot connect to server pbs-master (errno=15010)\n", False),
    ("", False),
])
def test_unknown_job_errors(stderr, unknown):
    assert pbs.is_unknown_job_error(stderr) is unknown


@pytest.mark.parametrize(("stderr", "fallback"), [
    ("qstat: invalid option -- 'F'\nusage:\n", True),
    ("qstat: illegal -F value\n", False),
    ("qstat: Unknown Job Id 1.s\n", False),
])
def test_json_unavailable_detection(stderr, fallback):
    assert pbs.is_accounting_unavailable(stderr) is fallback
