"""clustrix's Grid Engine parsers fuzzed against the simulator's Grid Engine output
(:mod:`clustrix_sim.strategies`: rendered by the front end that matches real 8.1.9, with the
truth taken from the records it was rendered from)."""

from __future__ import annotations

from hypothesis import given, settings

from clustrix.schedulers import sge
from clustrix.states import JobState as S
from clustrix_sim.strategies import qacct_outputs
from clustrix_sim.strategies import sge_qstat_outputs as qstat_outputs
from clustrix_sim.strategies import sge_qsub_submissions as qsub_submissions

FUZZ = settings(max_examples=150, deadline=None)
LIVE = {"qw": S.PENDING, "hqw": S.PENDING, "r": S.RUNNING, "hr": S.RUNNING, "dr": S.CANCELLED, "s": S.RUNNING}
ENDED = {"COMPLETED": S.COMPLETED, "FAILED": S.FAILED, "TIMEOUT": S.TIMEOUT, "CANCELLED": S.CANCELLED,
         "OUT_OF_MEMORY": S.OUT_OF_MEMORY}


@FUZZ
@given(qstat_outputs(xml=True))
def test_qstat_xml_gives_every_job_and_task_its_state(out):
    parsed = sge.parse_status(out.text)
    assert set(parsed) == set(out.truth)
    for key, code in out.truth.items():
        assert (parsed[key].raw, parsed[key].state) == (code, LIVE[code]), key


@FUZZ
@given(qacct_outputs())
def test_qacct_gives_every_run_its_outcome(out):
    parsed = sge.parse_accounting(out.text)
    assert set(parsed) == set(out.truth)
    for key, truth in out.truth.items():
        assert parsed[key].state == ENDED[truth.state], (key, truth)
        assert parsed[key].exit_code == truth.exit_status, key


@FUZZ
@given(qsub_submissions())
def test_qsub_output_gives_the_job_number(sub):
    assert sge.parse_submit(sub.text) == sub.truth
