"""The Grid Engine strategies' text really carries their truth: re-derived here with small
independent parses (parsl's whitespace split of the table, an XML parser, the qacct blocks)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from hypothesis import given, settings

from clustrix_sim.strategies import qacct_outputs
from clustrix_sim.strategies import sge_qstat_outputs as qstat_outputs
from clustrix_sim.strategies import sge_qsub_submissions as qsub_submissions

FUZZ = settings(max_examples=100, deadline=None)


@FUZZ
@given(qstat_outputs(xml=False))
def test_table_rows_split_like_parsl_reads_them(out):
    lines = out.text.splitlines()
    if not out.truth:
        assert out.text == ""  # qstat prints nothing at all without jobs
        return
    assert lines[0].startswith("job-ID  prior") and set(lines[1]) == {"-"}
    for line in lines[2:]:
        parts = line.split()
        number, state = parts[0], parts[4]
        keys = [k for k in out.truth if k == number or k.startswith(number + ".")]
        assert keys and any(out.truth[k] == state for k in keys), line
        if len(parts) == 10 and parts[9].isdigit():  # a running task: its own row
            assert out.truth[f"{number}.{parts[9]}"] == state, line


@FUZZ
@given(qstat_outputs(xml=True))
def test_xml_lists_every_row_with_a_number_and_a_state(out):
    root = ET.fromstring(out.text)
    jobs = root.findall("./queue_info/job_list") + root.findall("./job_info/job_list")
    numbers = {j.findtext("JB_job_number") for j in jobs}
    assert numbers == {k.split(".")[0] for k in out.truth}
    assert {j.findtext("state") for j in jobs} == set(out.truth.values())


@FUZZ
@given(qacct_outputs())
def test_qacct_has_one_block_per_run(out):
    assert out.text.count("=" * 62 + "\n") == len(out.truth)
    failed = [int(m) for m in re.findall(r"^failed +(\d+)", out.text, re.M)]
    assert sorted(failed) == sorted(t.failed for t in out.truth.values())


@FUZZ
@given(qsub_submissions())
def test_qsub_text_names_the_job(sub):
    assert re.search(rf"(^|job(-array)? ){sub.truth}(\.|\s|$)", sub.text)
