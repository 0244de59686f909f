"""clustrix_sim.strategies: the generated text really carries its truth, and the fuzzing notes'
cases (scheduler-formats.md §8) are reachable.

Each property re-derives the truth from the text with a small independent parse (split on the
delimiter, the documented fixed-width rule, a regex) and checks the truth against the simulator
records it came from.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from clustrix_sim import strategies as cs
from clustrix_sim.engine.model import JobRecord
from clustrix_sim.strategies import (
    ALL_STATES,
    job_names,
    job_reasons,
    job_records,
    sacct_outputs,
    sbatch_submissions,
    slurm_job_ids,
    slurm_time_strings,
    squeue_outputs,
)

FUZZ = settings(max_examples=150, deadline=None)
SEARCH = settings(max_examples=3000, deadline=None, database=None, phases=[Phase.generate])
SACCT_FIELD_SETS = [
    ("JobID", "State", "ExitCode", "Reason"),
    ("JobID", "JobName", "State", "ExitCode"),
    ("jobid", "state%20", "exitcode", "Elapsed", "NodeList"),
]


def display_id(rec: JobRecord) -> str:
    return f"{rec.array_job_id}_{rec.array_task_id}" if rec.array_job_id is not None \
        else str(rec.job_id)


def sacct_state(rec: JobRecord) -> str:
    """The job line's State by the reference (§1.4): ``CANCELLED by <uid>`` when known."""
    if rec.state == "CANCELLED" and rec.cancelled_by_uid is not None:
        return f"CANCELLED by {rec.cancelled_by_uid}"
    return rec.state


def check_covers(rows, records, folded: bool) -> None:  # noqa: ANN001
    """Every record is reported exactly once; folded rows stand for >= 2 tasks of one array
    that never started, all in one state (pending, or cancelled before they started)."""
    covered = [key for row in rows for key in row.covers]
    assert sorted(covered) == sorted(display_id(r) for r in records)
    for row in rows:
        if "_[" in row.job_id:
            assert folded and len(row.covers) >= 2
            members = [r for r in records if display_id(r) in row.covers]
            assert len({r.state for r in members}) == 1 and not any(r.node_list for r in members)


# --- sacct ------------------------------------------------------------------------------------------


@FUZZ
@given(st.data())
def test_sacct_parsable_lines_split_back_into_the_truth(data: st.DataObject) -> None:
    fields = data.draw(st.sampled_from(SACCT_FIELD_SETS))
    parsable2 = data.draw(st.booleans())
    header, allocations = data.draw(st.booleans()), data.draw(st.booleans())
    out = data.draw(sacct_outputs(fields=fields, parsable2=parsable2, parsable=not parsable2,
                                  header=header, allocations=allocations))
    text, truth = out
    lines = text.split("\n")
    assert lines.pop() == ""  # every line, the last one too, ends with a newline
    if header:
        names = "|".join(out.fields)
        assert lines.pop(0) == (names if parsable2 else names + "|")
    assert len(lines) == len(out.rows) == len(truth)
    for line, row in zip(lines, out.rows, strict=True):
        if not parsable2:
            assert line.endswith("|")
            line = line[:-1]
        pieces = line.split("|")
        if out.ambiguous:
            continue
        assert pieces == list(row.cells)
        assert pieces[0] == row.job_id
    if out.ambiguous:  # the flag is earned: some line no longer splits into its fields
        assert any(len(ln.split("|")) > len(out.fields) + (not parsable2) for ln in lines)


@FUZZ
@given(st.data())
def test_sacct_truth_matches_the_records(data: st.DataObject) -> None:
    records = data.draw(job_records())
    out = data.draw(sacct_outputs(allocations=False, records=st.just(records)))
    job_rows = [row for row in out.rows if row.step is None]
    for row in job_rows:
        rec = row.record
        assert row.state == sacct_state(rec)
        killed = rec.state in ("CANCELLED", "TIMEOUT")  # the signal is on the .batch step only
        assert (row.exit_code, row.exit_signal) == ((0, 0) if killed else (rec.exit_code, rec.exit_signal))
        assert row.reason == (rec.acct_reason or "None")
        if len(row.covers) == 1:
            assert row.job_id == display_id(rec)
        else:
            assert row.job_id.startswith(f"{rec.array_job_id}_[")
    check_covers(job_rows, records, folded=True)  # sacct keeps purged jobs too
    for i, row in enumerate(out.rows):  # steps follow their started job: .batch then .extern
        if row.step is not None:
            parent = out.rows[i - (1 if row.step == "batch" else 2)]
            assert parent.step is None and row.job_id == f"{parent.job_id}.{row.step}"
            assert row.record.start_time is not None and row.covers == parent.covers


@FUZZ
@given(st.data())
def test_sacct_fixed_width_follows_the_documented_rule(data: st.DataObject) -> None:
    fields = data.draw(st.sampled_from(SACCT_FIELD_SETS))
    out = data.draw(sacct_outputs(fields=fields, parsable2=False, header=True))
    widths = {"JobID": -12, "JobName": 10, "State": 10, "ExitCode": 8, "Reason": 20,
              "Elapsed": 10, "NodeList": 15}
    spec = [int(f.split("%")[1]) if "%" in f else widths[name]
            for f, name in zip(fields, out.fields, strict=True)]

    def cell(value: str, width: int) -> str:  # §1.4: cut with '+' last, pad, then one space
        size = abs(width)
        if len(value) > size:
            value = value[: size - 1] + "+"
        return (value.rjust(size) if width > 0 else value.ljust(size)) + " "

    lines = out.text.split("\n")
    assert lines.pop() == ""
    assert lines[1] == "".join("-" * abs(w) + " " for w in spec)
    for line, row in zip(lines[2:], out.rows, strict=True):
        assert line == "".join(cell(v, w) for v, w in zip(row.cells, spec, strict=True))
    assert out.truncated == any(len(v) > abs(w) for row in out.rows
                                for v, w in zip(row.cells, spec, strict=True))


# --- squeue -----------------------------------------------------------------------------------------


@FUZZ
@given(st.data())
def test_squeue_lines_split_back_into_the_truth(data: st.DataObject) -> None:
    fmt, sep = data.draw(st.sampled_from([("%i|%T|%r", "|"), ("%i %t %j", " "),
                                          ("%A;%K;%u;%M;%l;%R", ";")]))
    expanded = data.draw(st.booleans())
    out = data.draw(squeue_outputs(format=fmt, header=data.draw(st.booleans()),
                                   array_expanded=expanded))
    lines = out.text.split("\n")
    assert lines.pop() == ""
    if out.header:
        lines.pop(0)
    assert len(lines) == len(out.rows)
    assert out.separators == (sep,)
    for line, row in zip(lines, out.rows, strict=True):
        if not out.ambiguous:
            assert line.split(sep) == list(row.cells)
    if out.ambiguous:
        assert any(len(ln.split(sep)) != fmt.count("%") for ln in lines)
    assert all(row.record.visible_in_queue for row in out.rows)
    if expanded:
        assert all("_[" not in row.job_id and row.covers == (row.job_id,) for row in out.rows)


@FUZZ
@given(squeue_outputs(format="%i|%T|%r", array_expanded=False,
                      records=job_records(states=("PENDING", "RUNNING", "COMPLETED"))))
def test_squeue_folds_pending_array_tasks(out: cs.SqueueOutput) -> None:
    for row in out.rows:
        rec = row.record
        assert row.state == rec.state and row.reason == (rec.reason or "None")
        if "_[" in row.job_id:
            assert re.fullmatch(rf"{rec.array_job_id}_\[[0-9,\-]+(%[0-9]+)?\]", row.job_id)
            assert len(row.covers) >= 2
    shown = [key for row in out.rows for key in row.covers]
    assert len(shown) == len(set(shown))


@FUZZ
@given(squeue_outputs(format="%.18i|%.8j|%T"))
def test_squeue_widths_cut_and_pad_as_documented(out: cs.SqueueOutput) -> None:
    for line, row in zip(out.text.split("\n"), out.rows, strict=False):
        if out.ambiguous:
            break
        job, name, state = line.split("|")
        assert job == row.cells[0].rjust(18)[:18] and name == row.cells[1].rjust(8)[:8]
        assert state == row.state
    assert out.truncated == any(len(row.cells[0]) > 18 or len(row.cells[1]) > 8
                                for row in out.rows)


# --- sbatch, ids, times -----------------------------------------------------------------------------


@FUZZ
@given(sbatch_submissions())
def test_sbatch_output_carries_the_job_id(sub: cs.SbatchSubmission) -> None:
    text, job_id = sub
    pattern = r"(\d+)(?:;(\S+))?\n" if sub.parsable else \
        r"Submitted batch job (\d+)(?: on cluster (\S+))?\n"
    m = re.fullmatch(pattern, text)
    assert m and m.group(1) == job_id and m.group(2) == sub.cluster
    assert all(line.startswith("sbatch: ") for line in sub.stderr.splitlines())
    assert sub.merged.endswith(text)


def expand_id(text: str) -> tuple[str, ...]:
    m = re.fullmatch(r"(\d+)(?:_(\d+)|_\[([^\]]+)\]|\+(\d+))?(?:\.\w+)?", text)
    assert m, text
    base, task, body, het = m.groups()
    if task is not None:
        return (f"{base}_{task}",)
    if het is not None:
        return (f"{base}+{het}",)
    if body is None:
        return (base,)
    tasks: set[int] = set()
    for item in body.split("%")[0].split(","):
        lo, _, rest = item.partition("-")
        hi, _, step = rest.partition(":")
        tasks.update(range(int(lo), int(hi or lo) + 1, int(step or 1)))
    return tuple(f"{base}_{t}" for t in sorted(tasks))


@FUZZ
@given(slurm_job_ids())
def test_job_ids_expand_to_their_truth(job: cs.SlurmJobId) -> None:
    text, truth = job
    assert expand_id(text) == truth
    assert text.endswith(f".{job.step}") == (job.step is not None)


@FUZZ
@given(st.sampled_from(["squeue", "sacct", "sinfo"]).flatmap(
    lambda style: slurm_time_strings(style=style)))
def test_time_strings_parse_back_to_their_seconds(value: cs.SlurmTime) -> None:
    text, seconds = value
    m = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d\d)", text)
    if seconds is None:
        assert m is None and text[0].isalpha()
        return
    assert m, text
    days, hours, minutes, secs = (int(g) if g else 0 for g in m.groups())
    assert days * 86400 + hours * 3600 + minutes * 60 + secs == seconds
    if value.style == "sacct":  # HH:MM:SS always
        assert re.fullmatch(r"(\d+-)?\d\d:\d\d:\d\d", text)
    elif seconds < 3600:  # squeue / sinfo: M:SS
        assert re.fullmatch(r"\d{1,2}:\d\d", text)


# --- records ----------------------------------------------------------------------------------------


@FUZZ
@given(job_records(max_jobs=8))
def test_records_are_a_consistent_snapshot(records: tuple[JobRecord, ...]) -> None:
    assert len({r.job_id for r in records}) == len(records)
    assert len({display_id(r) for r in records}) == len(records)
    for rec in records:
        assert rec.state in ALL_STATES
        assert (rec.cancelled_by_uid is None) or rec.state == "CANCELLED"
        assert bool(rec.node_list) == (rec.start_time is not None)
        assert rec.end_time is None or rec.end_time >= (rec.start_time or rec.submit_time)
        if rec.array_job_id is not None:
            siblings = [r for r in records if r.array_job_id == rec.array_job_id]
            assert all(s.request is rec.request for s in siblings)
            assert rec.array_task_id in rec.request.array_indices
            assert min(s.array_task_id for s in siblings) == \
                next(s.array_task_id for s in siblings if s.job_id == rec.array_job_id)


def test_bad_arguments_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="RUNING.*RUNNING"):
        job_records(states=("RUNING",))
    with pytest.raises(TypeError, match=r"states=\('RUNNING',\)"):
        job_records(states="RUNNING")
    with pytest.raises(ValueError, match="'Bogus'"):
        sacct_outputs(fields=("JobID", "Bogus"))
    with pytest.raises(ValueError, match="%Y"):
        squeue_outputs(format="%i|%Y")
    with pytest.raises(ValueError, match="'hours'.*squeue"):
        slurm_time_strings(style="hours")
    with pytest.raises(ValueError, match="'mixed'"):
        slurm_job_ids(kinds=("plain", "mixed"))


# --- the fuzzing notes' cases are reachable ---------------------------------------------------------


def any_row(pred):  # noqa: ANN001, ANN201
    return lambda out: any(pred(row) for row in out.rows)


REACHABLE = {
    "name with |": (job_records(), lambda rs: any("|" in r.request.name for r in rs)),
    "name with a space": (job_records(), lambda rs: any(" " in r.request.name for r in rs)),
    "non-ASCII name": (job_records(), lambda rs: any(not r.request.name.isascii() for r in rs)),
    "very long name": (job_records(), lambda rs: any(len(r.request.name) > 100 for r in rs)),
    "name | breaks parsable2": (sacct_outputs(fields=("JobID", "JobName")),
                                lambda out: out.ambiguous),
    "reason with | (hostile)": (sacct_outputs(records=job_records(reasons=job_reasons(
        hostile=True))), lambda out: out.ambiguous),
    "pending range with throttle": (sacct_outputs(),
                                    lambda out: re.search(r"_\[[0-9,-]*-[0-9,-]*%\d+\]", out.text)),
    "pending range with a comma": (squeue_outputs(array_expanded=False),
                                   lambda out: re.search(r"_\[[^\]]*,", out.text)),
    "CANCELLED by uid": (sacct_outputs(), any_row(lambda r: r.state.startswith("CANCELLED by "))),
    "exit by signal": (sacct_outputs(), any_row(lambda r: r.exit_signal and not r.exit_code)),
    "code and signal": (sacct_outputs(), any_row(lambda r: r.exit_signal and r.exit_code)),
    "reason with spaces and commas": (squeue_outputs(), any_row(lambda r: ", " in r.reason)),
    "+ truncation": (sacct_outputs(parsable2=False), lambda out: out.truncated),
    "steps": (sacct_outputs(allocations=False), any_row(lambda r: r.step == "extern")),
    "purged from squeue": (job_records(), lambda rs: any(not r.visible_in_queue for r in rs)),
    "header-only sacct": (sacct_outputs(header=True), lambda out: not out.rows),
    "D-HH:MM:SS": (slurm_time_strings(), lambda t: "-" in t.text),
    "H:MM:SS": (slurm_time_strings(), lambda t: re.fullmatch(r"\d:\d\d:\d\d", t.text)),
    "Partition_Limit": (slurm_time_strings(style="sacct"), lambda t: t.text == "Partition_Limit"),
    "NOT_SET": (slurm_time_strings(), lambda t: t.text == "NOT_SET"),
    "infinite": (slurm_time_strings(style="sinfo"), lambda t: t.text == "infinite"),
    "hetjob id": (slurm_job_ids(), lambda j: "+" in j.text),
    "stepped range": (slurm_job_ids(), lambda j: re.search(r"\[[^\]]*:\d", j.text)),
    "raw step id": (slurm_job_ids(), lambda j: j.text.endswith(".4294967294")),
    "chatty sbatch on a cluster": (sbatch_submissions(),
                                   lambda s: s.stderr and s.cluster and s.parsable),
    "hostile job name helper": (job_names(), lambda n: n != n.strip()),
}


@pytest.mark.parametrize("case", sorted(REACHABLE))
def test_fuzzing_note_case_is_reachable(case: str) -> None:
    strategy, predicate = REACHABLE[case]
    find(strategy, lambda value: bool(predicate(value)), settings=SEARCH)


@pytest.mark.parametrize("state", ALL_STATES)
def test_every_slurm_state_is_printed(state: str) -> None:
    find(sacct_outputs(), any_row(lambda r: r.state.split()[0] == state), settings=SEARCH)
