"""Golden tests: squeue / sacct / scontrol / sinfo text rendered from constructed records must
match the reference outputs byte for byte (tests/data/sim_slurm/, from scheduler-formats.md)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from simslurm_records import T0, record, request

from clustrix_sim.engine.model import NodeRecord, PartitionRecord
from clustrix_sim.slurm import sacct_fields, squeue_fields
from clustrix_sim.slurm.sacct_fields import SacctRow, find_field, format_lines
from clustrix_sim.slurm.scontrol_show import format_job, format_partition, mem_str
from clustrix_sim.slurm.squeue import DEFAULT_FORMAT, LONG_FORMAT
from clustrix_sim.slurm.squeue_fields import Row, parse_format, parse_long_format, render

DATA = Path(__file__).resolve().parents[2] / "data" / "sim_slurm"


def golden(name: str) -> str:
    return (DATA / name).read_text()


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("SLURM_TIME_FORMAT", raising=False)
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


def _fields(fmt: str) -> list:
    warnings: list[str] = []
    out = parse_format(fmt, warnings.append)
    assert warnings == []
    return out


def test_squeue_default_layout() -> None:
    now = T0 + 100
    rows = [
        Row(record(102, start_time=now - 83), "102", now),
        Row(record(103, req=request(name="dask-worker"), state="PENDING", reason="Resources",
                   start_time=None, node_list=[]), "103", now),
        Row(record(104, req=request(name="submitit", array_max_parallel=2), state="PENDING",
                   reason="JobArrayTaskLimit", start_time=None, node_list=[], array_job_id=104,
                   array_task_id=0), "104_[0-9%2]", now),
        Row(record(105, req=request(name="submitit", nodes=2), start_time=now - 3723,
                   node_list=["c2", "c1"], array_job_id=104, array_task_id=1), "104_1", now),
    ]
    assert render(rows, _fields(DEFAULT_FORMAT), header=True) == golden("squeue_default.txt")
    body = render(rows, _fields(DEFAULT_FORMAT), header=False)
    assert body == "".join(golden("squeue_default.txt").splitlines(True)[1:])


def test_squeue_psij_long_format_glues_wide_ids() -> None:
    rows = [
        Row(record(102), "102", T0),
        Row(record(103, state="PENDING", reason="Resources", node_list=[]), "103", T0),
        Row(record(12345678, state="PENDING", reason="JobArrayTaskLimit", node_list=[]),
            "12345678_[1-1000%10]", T0),
    ]
    fields = parse_long_format("JobArrayID,StateCompact,Reason", lambda m: None)
    assert render(rows, fields, header=True) == golden("squeue_psij.txt")


def test_squeue_parsl_fallback_and_widths() -> None:
    rows = [Row(record(7), "7", T0), Row(record(8, state="PENDING", node_list=[]), "8", T0)]
    assert render(rows, _fields("%i %t"), header=False) == "7 R\n8 PD\n"
    assert render(rows, _fields("%.3i|%4t|"), header=True) == "JOB|ST  |\n  7|R   |\n  8|PD  |\n"


def test_squeue_truncation_rules() -> None:
    rec = record(9, req=request(name="a-very-long-name"), node_list=["node001", "node002"],
                 start_time=T0 - 90061)
    row = Row(rec, "9", T0)
    # names are cut to the width; right-justified times and node lists overflow instead.
    assert render([row], _fields("%.5j|%.3M|%.3N|%5N|"), header=False) == \
        "a-ver|1-01:01:01|node[001-002]|node[|\n"


def test_squeue_invalid_letter_warns_and_continues() -> None:
    warnings: list[str] = []
    fields = parse_format("%i %Y %t", warnings.append)
    assert warnings == ["Invalid job format specification: Y"]
    assert render([Row(record(3), "3", T0)], fields, header=False) == "3  R\n"


def test_squeue_long_layout_headers() -> None:
    rows = [Row(record(5, req=request(time_limit_s=3600)), "5", T0 + 61)]
    assert render(rows, _fields(LONG_FORMAT), header=True) == (
        "             JOBID PARTITION     NAME     USER    STATE       TIME TIME_LIMI  NODES "
        "NODELIST(REASON)\n"
        "                 5    normal     wrap    alice  RUNNING       1:00   1:00:00      1 c1\n"
    )


def test_squeue_format_letters() -> None:
    rec = record(11, req=request(comment="hi", qos="high", time_limit_s=600, work_dir="/w"),
                 exit_code=3, start_time=T0)
    row = Row(rec, "11", T0 + 60)
    fields = _fields("%A %F %K %u %U %P %T %l %L %C %Z %k %q %S %V %E %a")
    assert render([row], fields, header=False) == (
        "11 11 N/A alice 1000 normal RUNNING 10:00 9:00 1 /w hi high 2025-01-06T10:00:00 "
        "2025-01-06T10:00:00 (null) root\n"
    )
    extra = parse_long_format("exit_code:.6,StdOut:30|", lambda m: None)
    assert render([row], extra, header=False) == "   3:0/w/slurm-11.out               |\n"


def _sacct(rows: list[SacctRow], spec: str, **kw) -> str:
    fields = [find_field(item) for item in spec.split(",")]
    assert None not in fields
    return format_lines(rows, fields, **kw)


def test_sacct_default_layout() -> None:
    done = record(102, state="COMPLETED", end_time=T0 + 50)
    cancelled = record(105, req=request(name="train"), state="CANCELLED", cancelled_by_uid=1000,
                       exit_signal=15, alloc_cpus=2, end_time=T0 + 9)
    oom = record(1234567, state="OUT_OF_MEMORY", exit_signal=125, end_time=T0 + 9)
    rows = [
        SacctRow(done, "102", None, T0), SacctRow(done, "102", "batch", T0),
        SacctRow(done, "102", "extern", T0), SacctRow(cancelled, "105", None, T0),
        SacctRow(oom, "1234567", "batch", T0),
    ]
    text = _sacct(rows, sacct_fields.DEFAULT_FIELDS, header=True, parsable=None, delimiter=None)
    assert text == golden("sacct_default.txt")


def test_sacct_submitit_parsable2() -> None:
    running = record(102)
    task0 = record(104, state="COMPLETED", node_list=["c2"], array_job_id=104, array_task_id=0,
                   end_time=T0 + 5)
    pending = record(106, req=request(array_max_parallel=25), state="PENDING", node_list=[],
                     start_time=None, array_job_id=104, array_task_id=2)
    rows = [SacctRow(running, "102", s, T0) for s in (None, "batch", "extern")]
    rows += [SacctRow(task0, "104_0", s, T0) for s in (None, "batch", "extern")]
    rows.append(SacctRow(pending, "104_[2-4%25]", None, T0))
    text = _sacct(rows, "JobID,State,NodeList", header=True, parsable="P", delimiter=None)
    assert text == golden("sacct_submitit.txt")


def test_sacct_parsl_state_width() -> None:
    rows = [SacctRow(record(105, state="CANCELLED", cancelled_by_uid=1000), "105", None, T0),
            SacctRow(record(106), "106", None, T0)]
    assert _sacct(rows, "jobid,state%20", header=False, parsable=None,
                  delimiter=None) == golden("sacct_parsl.txt")


def test_sacct_parsable_variants_and_field_names() -> None:
    rows = [SacctRow(record(7, req=request(name="a|b")), "7", None, T0)]
    assert _sacct(rows, "JobID,JobName", header=True, parsable="p", delimiter=None) == \
        "JobID|JobName|\n7|a|b|\n"
    assert _sacct(rows, "JobID,JobName", header=False, parsable="P", delimiter=",") == "7,a|b\n"
    assert _sacct(rows, "jobid%-4,jobn%3", header=True, parsable=None, delimiter=None) == \
        "JobI Job \n---- --- \n7    a|b \n"
    rows = [SacctRow(record(8, req=request(name="abcd")), "8", None, T0)]
    assert _sacct(rows, "jobn%3", header=False, parsable=None, delimiter=None) == "ab+ \n"
    assert find_field("STATE")[0] == "State"
    assert find_field("time")[0] == "Timelimit"
    assert find_field("jobidr")[0] == "JobIDRaw"
    assert find_field("Foo") is None


def test_sacct_times_and_exit_codes() -> None:
    rec = record(9, req=request(time_limit_s=300, mem_mb=2048), state="FAILED", exit_code=1,
                 start_time=T0, end_time=T0 + 3723)
    rows = [SacctRow(rec, "9", None, T0 + 9999), SacctRow(rec, "9", "batch", T0 + 9999)]
    text = _sacct(rows, "Elapsed,Timelimit,Start,End,ExitCode,DerivedExitCode,ReqMem,State",
                  header=False, parsable="P", delimiter=None)
    assert text == (
        "01:02:03|00:05:00|2025-01-06T10:00:00|2025-01-06T11:02:03|1:0|1:0|2048M|FAILED\n"
        "01:02:03||2025-01-06T10:00:00|2025-01-06T11:02:03|1:0||2048M|FAILED\n"
    )
    timeout = record(10, state="TIMEOUT", exit_signal=15, end_time=T0 + 60)
    states = _sacct([SacctRow(timeout, "10", s, T0) for s in (None, "batch")], "State,ExitCode",
                    header=False, parsable="P", delimiter=None)
    assert states == "TIMEOUT|0:0\nCANCELLED|0:15\n"  # real 22.05: the signal is the step's
    pending = record(11, state="PENDING", node_list=[], start_time=None)
    assert _sacct([SacctRow(pending, "11", None, T0)], "Start,End,NodeList,Elapsed",
                  header=False, parsable="P", delimiter=None) == \
        "Unknown|Unknown|None assigned|00:00:00\n"


def test_scontrol_show_job_record() -> None:
    req = request(time_limit_s=5 * 86400, mem_per_cpu_mb=2048, submit_host="slurmctld",
                  flavor_options={"submit_sid": 4242})
    rec = record(102, req=req, start_time=T0 + 1)
    assert format_job(rec, T0 + 84) == golden("scontrol_show_job.txt")
    one = format_job(rec, T0 + 84, one_liner=True)
    assert one.count("\n") == 1 and one.startswith("JobId=102 JobName=wrap UserId=alice(1000) ")


def test_scontrol_show_job_pending_array_and_detail() -> None:
    rec = record(104, req=request(array_max_parallel=2), state="PENDING", reason="Priority",
                 node_list=[], start_time=None, array_job_id=104, array_task_id=2)
    text = format_job(rec, T0, array_range="2-4%2", detail=True)
    first, *rest = text.split("\n")
    assert first == "JobId=104 ArrayJobId=104 ArrayTaskId=2-4%2 ArrayTaskThrottle=2 JobName=wrap"
    assert "   JobState=PENDING Reason=Priority Dependency=(null)" in rest
    assert "   DerivedExitCode=0:0" in rest
    assert "   NodeList=" in rest  # real 22.05: empty until the job has nodes
    assert "   StartTime=Unknown EndTime=Unknown Deadline=N/A" in rest
    assert not any(line.startswith("   BatchHost=") for line in rest)


def test_scontrol_show_partition_and_mem() -> None:
    nodes = [NodeRecord(name=f"c{i}", cpus=2, mem_mb=4096) for i in (1, 2)]
    part = PartitionRecord(name="normal", nodes=["c1", "c2"], default=True, max_time_s=3600)
    text = format_partition(part, nodes)
    assert text.startswith("PartitionName=normal\n   AllowGroups=ALL")
    assert "   AllocNodes=ALL Default=YES QoS=N/A\n" in text
    assert "MaxTime=01:00:00" in text and "   Nodes=c[1-2]\n" in text
    assert "TotalCPUs=4 TotalNodes=2" in text
    assert (mem_str(2048), mem_str(1536), mem_str(1048576)) == ("2G", "1536M", "1T")


def test_sinfo_default_layout() -> None:
    from clustrix_sim.slurm.sinfo import Group
    from clustrix_sim.slurm.sinfo import render as sinfo_render

    nodes = tuple(NodeRecord(name=f"c{i}", cpus=2, mem_mb=4096) for i in (1, 2))
    part = PartitionRecord(name="normal", nodes=["c1", "c2"], default=True, max_time_s=5 * 86400)
    groups = [Group(part, nodes, "idle")]
    assert sinfo_render("%9P %.5a %.10l %.6D %.6t %N", groups, True) == golden("sinfo_default.txt")
    assert sinfo_render("%P %a %l %D %t %N", groups, False) == "normal* up 5-00:00:00 2 idle c[1-2]\n"


def test_squeue_fields_module_exports() -> None:
    # every -o letter has a header and renders without raising for pending and running records
    for rec in (record(1), record(2, state="PENDING", node_list=[], start_time=None)):
        row = Row(rec, str(rec.job_id), T0)
        for letter, (header, func, _) in squeue_fields.LETTERS.items():
            assert header, letter
            assert isinstance(func(row), str)
    assert os.path.isdir(DATA)
