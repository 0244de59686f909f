"""SLURM status parsing: captured outputs, the full state table, and generated sacct rows."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from clustrix.errors import SchedulerOutputError
from clustrix.schedulers import slurm
from clustrix.schedulers.slurm import states as slurm_states
from clustrix.schedulers.slurm.states import STATES
from clustrix.states import JobState, JobStatus

DATA = Path(__file__).resolve().parents[2] / "data" / "slurm"
P, R = JobState.PENDING, JobState.RUNNING


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


# Every state of the reference's table (§1.3), long and compact, with the clustrix state we
# decided on. Written out by hand so the module's table is checked against an independent list.
REFERENCE_STATES: dict[str, JobState] = {
    "PENDING": P, "PD": P,
    "RUNNING": R, "R": R,
    "SUSPENDED": R, "S": R,
    "COMPLETED": JobState.COMPLETED, "CD": JobState.COMPLETED,
    "CANCELLED": JobState.CANCELLED, "CA": JobState.CANCELLED,
    "FAILED": JobState.FAILED, "F": JobState.FAILED,
    "TIMEOUT": JobState.TIMEOUT, "TO": JobState.TIMEOUT,
    "NODE_FAIL": JobState.NODE_FAIL, "NF": JobState.NODE_FAIL,
    "PREEMPTED": JobState.PREEMPTED, "PR": JobState.PREEMPTED,
    "BOOT_FAIL": JobState.NODE_FAIL, "BF": JobState.NODE_FAIL,
    "DEADLINE": JobState.TIMEOUT, "DL": JobState.TIMEOUT,
    "OUT_OF_MEMORY": JobState.OUT_OF_MEMORY, "OOM": JobState.OUT_OF_MEMORY,
    "COMPLETING": R, "CG": R,
    "CONFIGURING": P, "CF": P,
    "STAGE_OUT": R, "SO": R,
    "RESIZING": R, "RS": R,
    "REQUEUED": P, "RQ": P,
    "REQUEUE_FED": P, "RF": P,
    "REQUEUE_HOLD": P, "RH": P,
    "SPECIAL_EXIT": JobState.FAILED, "SE": JobState.FAILED,
    "STOPPED": R, "ST": R,
    "REVOKED": JobState.CANCELLED, "RV": JobState.CANCELLED,
    "RESV_DEL_HOLD": P, "RD": P,
    "SIGNALING": R, "SI": R,
    "EXPEDITING": P,
}


def status(state: JobState, raw: str, reason: str = "", exit_code: int | None = None) -> JobStatus:
    return JobStatus(state, raw=raw, reason=reason, exit_code=exit_code)


# --- the state table ------------------------------------------------------------------------------


def test_module_table_covers_exactly_the_reference_states():
    assert set(STATES) == set(REFERENCE_STATES)
    assert all(why.strip() for _, why in STATES.values())  # every decision is documented


@pytest.mark.parametrize("word,expected", sorted(REFERENCE_STATES.items()))
def test_every_reference_state_maps_as_decided(word, expected):
    exit_text = "0:0"
    result = slurm.parse_status(f"7|{word}|{exit_text}|None\n")
    assert result == {"7": status(expected, word, exit_code=None if expected in (P, R) else 0)}
    squeue = slurm.parse_fallback_status(f"7|{word}|None\n")
    assert squeue["7"].state is expected


@pytest.mark.parametrize("word", ["?", "CANCELLED+", "LAUNCH_FAILED_X1", "future_state_x1"])
def test_unknown_state_is_unknown_with_a_warning(word, caplog, monkeypatch):
    monkeypatch.setattr(slurm_states, "_warned", set())  # independent of earlier tests' warnings
    with caplog.at_level(logging.WARNING, logger="clustrix.schedulers.slurm.commands"):
        result = slurm.parse_status(f"9|{word}|0:0|None\n")
    assert result["9"].state is JobState.UNKNOWN
    assert result["9"].raw == word
    assert any(word.upper() in rec.getMessage().upper() for rec in caplog.records)


def test_unknown_state_warns_once_per_word(caplog, monkeypatch):
    monkeypatch.setattr(slurm_states, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="clustrix.schedulers.slurm.commands"):
        slurm.parse_status("9|NEVER_SEEN_STATE_Q|0:0|None\n")
        slurm.parse_status("9|NEVER_SEEN_STATE_Q|0:0|None\n")
    assert sum("NEVER_SEEN_STATE_Q" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize(
    "text,code",
    [("0:0", 0), ("1:0", 1), ("0:15", 143), ("0:9", 137), ("2:9", 137), ("255:0", 255), ("", None)],
)
def test_exit_code_is_code_or_128_plus_signal(text, code):
    assert slurm.parse_status(f"5|FAILED|{text}|None\n")["5"].exit_code == code


# --- captured outputs -----------------------------------------------------------------------------

MIXED = {
    "102": status(JobState.COMPLETED, "COMPLETED", exit_code=0),
    "103": status(P, "PENDING", "Resources"),
    "104_0": status(JobState.COMPLETED, "COMPLETED", exit_code=0),
    "104_1": status(R, "RUNNING"),
    **{f"104_{i}": status(P, "PENDING", "JobArrayTaskLimit") for i in (2, 3, 4)},
    "105": status(JobState.CANCELLED, "CANCELLED by 1000", exit_code=143),
    "106": status(JobState.TIMEOUT, "TIMEOUT", "TimeLimit", 143),
    "107": status(JobState.OUT_OF_MEMORY, "OUT_OF_MEMORY", "OutOfMemory", 253),
    "108": status(JobState.FAILED, "FAILED", "NonZeroExitCode", 1),
    "109": status(JobState.NODE_FAIL, "NODE_FAIL", "NodeDown", 0),
    **{f"110_{i}": status(P, "PENDING", "Priority") for i in (0, 6, 16, 18, 20)},
    "111+0": status(R, "RUNNING"),
    "112": status(JobState.CANCELLED, "CANCELLED", exit_code=0),
    "113": status(P, "REQUEUED", "BeginTime"),
    "114": status(R, "COMPLETING"),
    "115": status(JobState.TIMEOUT, "DEADLINE", exit_code=0),
    "116": status(JobState.NODE_FAIL, "BOOT_FAIL", exit_code=0),
}

STEPS = {
    "102": status(R, "RUNNING"),
    "117": status(JobState.TIMEOUT, "TIMEOUT", "TimeLimit", 143),  # the job row wins over .batch
    "200": status(JobState.CANCELLED, "CANCELLED", exit_code=137),  # no job row: .batch stands in
    "201": status(JobState.COMPLETED, "COMPLETED", exit_code=0),  # no .batch: the first step
    "104_3": status(JobState.COMPLETED, "COMPLETED", exit_code=0),
}


@pytest.mark.parametrize(
    "name,expected",
    [
        ("sacct_pinned_mixed.txt", MIXED),
        ("sacct_pinned_with_steps.txt", STEPS),
        ("sacct_pinned_header_only.txt", {}),
        ("sacct_empty.txt", {}),
        ("sacct_blank_lines.txt", {}),
        ("sacct_crlf.txt", {"102": status(JobState.COMPLETED, "COMPLETED", exit_code=0),
                            "103": status(P, "PENDING", "Priority")}),
    ],
)
def test_sacct_captured_outputs(name, expected):
    assert slurm.parse_status(read(name)) == expected


@pytest.mark.parametrize(
    "name,message",
    [
        ("sacct_default_table_pre2108.txt", "fields"),  # padded table, '+'-truncated OUT_OF_ME+
        ("sacct_default_table_2108.txt", "fields"),
        ("sacct_parsl_state20.txt", "fields"),
        ("sacct_submitit_nodelist.txt", "expected 4"),  # someone else's pinned format
        # -p puts a '|' after every field; only the pinned -P form is read, because tolerating the
        # trailing '|' misreads a last value that itself ends in '|' (see test_slurm_vs_sim.py).
        ("sacct_parsable1.txt", "expected 4"),
    ],
)
def test_sacct_outputs_in_other_formats_are_rejected_clearly(name, message):
    with pytest.raises(SchedulerOutputError) as info:
        slurm.parse_status(read(name))
    assert message in str(info.value)


def test_rejection_points_at_the_pinned_format():
    with pytest.raises(SchedulerOutputError) as info:
        slurm.parse_status(read("sacct_default_table_2108.txt"))
    assert "JobID|State|ExitCode|Reason" in str(info.value)


@pytest.mark.parametrize(
    "job_id,keys",
    [
        ("123_[4-9%2]", [f"123_{i}" for i in range(4, 10)]),
        ("123_[1,3,5]", ["123_1", "123_3", "123_5"]),
        ("123_[0-15:4]", ["123_0", "123_4", "123_8", "123_12"]),
        ("123_[0-2,7,10-14:2%5]", ["123_0", "123_1", "123_2", "123_7", "123_10", "123_12", "123_14"]),
        ("123_[8]", ["123_8"]),
    ],
)
def test_pending_array_rows_expand_to_task_keys(job_id, keys):
    result = slurm.parse_status(f"{job_id}|PENDING|0:0|Priority\n")
    assert list(result) == keys
    assert all(s == status(P, "PENDING", "Priority") for s in result.values())


@pytest.mark.parametrize("job_id", ["123_[]", "123_[a-b]", "123_[1-3%x]", "123_[0-4:0]", "123_[1-]"])
def test_malformed_array_ranges_are_skipped_alone(job_id):
    # Nobody's row (its tasks cannot be named): skipped; the other rows are read.
    assert slurm.parse_status(f"{job_id}|PENDING|0:0|None\n9|RUNNING|0:0|None\n") == {"9": status(R, "RUNNING")}


def test_a_later_row_for_the_same_task_wins():
    result = slurm.parse_status("8_[0-2]|PENDING|0:0|Priority\n8_1|RUNNING|0:0|None\n")
    assert result["8_1"] == status(R, "RUNNING")
    assert result["8_0"] == result["8_2"] == status(P, "PENDING", "Priority")


def test_huge_ranges_are_refused_instead_of_exhausting_memory():
    assert slurm.parse_status("1_[0-99999999]|PENDING|0:0|None\n2|PENDING|0:0|None\n") == {
        "2": status(P, "PENDING")}


def test_squeue_fallback_captured_output():
    assert slurm.parse_fallback_status(read("squeue_pinned.txt")) == {
        "102": status(R, "RUNNING"),
        "103": status(P, "PENDING", "Resources"),
        "104_2": status(P, "PENDING", "JobArrayTaskLimit"),
        "104_1": status(R, "COMPLETING"),
        "105": status(JobState.CANCELLED, "CANCELLED"),
        "106": status(JobState.TIMEOUT, "TIMEOUT", "TimeLimit"),
        "107": status(R, "SUSPENDED"),
        "108": status(JobState.OUT_OF_MEMORY, "OUT_OF_MEMORY", "OutOfMemory"),
    }
    assert slurm.parse_fallback_status(read("squeue_pinned_header_only.txt")) == {}
    assert slurm.parse_fallback_status("") == {}


def test_squeue_default_table_is_rejected():
    with pytest.raises(SchedulerOutputError, match="expected 3"):
        slurm.parse_fallback_status(read("squeue_default_table.txt"))


# --- properties -----------------------------------------------------------------------------------

ROWISH = st.lists(
    st.lists(st.text("0123456789_[]%-,:.+|ABCDEFGPRUNx y", max_size=12), min_size=1, max_size=5).map("|".join),
    max_size=6,
).map("\n".join)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), ROWISH))
def test_any_text_parses_or_raises_scheduler_output_error(text):
    for parse in (slurm.parse_status, slurm.parse_fallback_status):
        try:
            result = parse(text)
        except SchedulerOutputError:
            continue
        assert all(isinstance(k, str) and isinstance(v, JobStatus) for k, v in result.items())


def _expected_exit(state: JobState, code: int, signal: int) -> int | None:
    if state in (P, R):
        return None
    return 128 + signal if signal else code


ranges = st.lists(
    st.tuples(st.integers(0, 50), st.integers(0, 8), st.integers(1, 4)), min_size=1, max_size=4
)


@st.composite
def sacct_rows(draw):
    """(row text, {key: expected JobStatus}) for one allocation row with a fresh base id."""
    base = str(draw(st.integers(1, 10**9)))
    form = draw(st.sampled_from(["plain", "task", "range", "het"]))
    if form == "plain":
        job_id, keys = base, [base]
    elif form == "task":
        t = draw(st.integers(0, 10**6))
        job_id, keys = f"{base}_{t}", [f"{base}_{t}"]
    elif form == "het":
        job_id = f"{base}+{draw(st.integers(0, 9))}"
        keys = [job_id]
    else:
        items, keys = [], []
        for low, span, step in draw(ranges):
            text = str(low) if span == 0 else f"{low}-{low + span}" + (f":{step}" if step > 1 else "")
            items.append(text)
            keys += [f"{base}_{i}" for i in range(low, low + span + 1, step if span else 1)]
        throttle = draw(st.one_of(st.just(""), st.integers(1, 99).map(lambda n: f"%{n}")))
        job_id = f"{base}_[{','.join(items)}{throttle}]"
        keys = list(dict.fromkeys(keys))
    word = draw(st.sampled_from(sorted(REFERENCE_STATES)))
    raw = word + (f" by {draw(st.integers(0, 65535))}" if word == "CANCELLED" and draw(st.booleans()) else "")
    code, signal = draw(st.integers(0, 255)), draw(st.sampled_from([0, 0, 1, 9, 15, 125]))
    reason = draw(st.sampled_from(["None", "Priority", "Resources", "TimeLimit", "JobArrayTaskLimit"]))
    state = REFERENCE_STATES[word]
    expected = JobStatus(state, raw=raw, reason="" if reason == "None" else reason,
                         exit_code=_expected_exit(state, code, signal))
    return f"{job_id}|{raw}|{code}:{signal}|{reason}", {k: expected for k in keys}, base


@settings(max_examples=300, deadline=None)
@given(st.lists(sacct_rows(), max_size=8, unique_by=lambda row: row[2]), st.booleans())
def test_generated_sacct_rows_round_trip(rows, trailing_newline):
    text = "\n".join(row for row, _, _ in rows) + ("\n" if trailing_newline and rows else "")
    expected: dict[str, JobStatus] = {}
    for _, statuses, _ in rows:
        expected.update(statuses)
    assert slurm.parse_status(text) == expected


# --- real-world shapes, and one bad row affecting only its own job ---------------------------------


def test_real_world_shapes_are_read():
    """A '|' inside a reason (the last column keeps the rest of the line) and a negative exit
    code on a step row (``-2:0``, a step killed before it ran) are sacct output, not errors."""
    assert slurm.parse_status(read("sacct_real_world_shapes.txt")) == {
        "101": status(R, "RUNNING"),
        "102": status(P, "PENDING", "AssocGrpCpuLimit | reported by plugin|x"),
        "103": status(JobState.FAILED, "FAILED", "NonZeroExitCode", 1),
        "104": status(JobState.CANCELLED, "CANCELLED by 0", exit_code=0),
    }
    # The step row stands in when its job row is missing, negative code and all.
    assert slurm.parse_status("7.batch|FAILED|-2:0|\n") == {"7": status(JobState.FAILED, "FAILED", exit_code=-2)}


def test_one_bad_row_is_its_own_jobs_problem_only():
    got = slurm.parse_status(read("sacct_one_bad_row_each.txt"))
    assert got["201"] == status(R, "RUNNING")
    assert got["205"] == status(JobState.FAILED, "FAILED", "NonZeroExitCode", 2)
    for job, words in [("202", "CODE:SIGNAL"), ("203", "empty SLURM state"), ("204", "expected 4"),
                       ("206", "CODE:SIGNAL")]:
        assert got[job].state is JobState.UNKNOWN and not got[job].is_terminal
        assert words in got[job].problem and job in got[job].problem, got[job]  # names the row
    assert "1234567" not in got  # a truncated id is nobody's row: skipped
    assert all(not got[j].problem for j in ("201", "205"))


def test_a_readable_row_is_not_replaced_by_an_unreadable_one():
    assert slurm.parse_status("5|RUNNING|0:0|None\n5|RUNNING|bad|None\n") == {"5": status(R, "RUNNING")}


def test_squeue_rows_are_read_one_by_one_too():
    got = slurm.parse_fallback_status("1|RUNNING|None\n2||None\n3|PENDING|Reason with | pipe\n")
    assert got["1"] == status(R, "RUNNING")
    assert got["2"].problem and got["2"].state is JobState.UNKNOWN
    assert got["3"] == status(P, "PENDING", "Reason with | pipe")


ROW_IDS = st.integers(1, 10**6).map(str)
GOOD_ROWS = st.tuples(st.sampled_from(["RUNNING", "PENDING", "COMPLETED", "FAILED", "TIMEOUT"]),
                      st.sampled_from(["0:0", "1:0", "0:15", "-2:0"]),
                      st.text(st.characters(blacklist_characters="\n\r"), max_size=20))
BAD_ROWS = st.sampled_from(["|zero|None", "|RUNNING", "||0:0|x", "|RUNNING|1|x", "|COMPLETED|:|"])


@given(st.dictionaries(ROW_IDS, st.one_of(GOOD_ROWS, BAD_ROWS), min_size=1, max_size=12))
def test_property_each_row_decides_only_its_own_job(rows):
    text = "".join(f"{job}|{'|'.join(r)}\n" if isinstance(r, tuple) else f"{job}{r}\n" for job, r in rows.items())
    assume(not all(ln.rstrip().endswith("|") and ln.count("|") >= 4 for ln in text.splitlines()))  # -p
    assume(any(isinstance(r, tuple) for r in rows.values()))  # some row in the pinned format
    got = slurm.parse_status(text)
    assert set(got) == set(rows)
    for job, row in rows.items():
        if isinstance(row, tuple):
            state, code, reason = row
            assert not got[job].problem and got[job].raw == state
            assert got[job].reason == ("" if reason.strip() == "None" else reason.strip())
        else:
            assert got[job].problem and got[job].state is JobState.UNKNOWN
