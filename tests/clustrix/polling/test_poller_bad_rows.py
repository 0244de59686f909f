"""One unreadable status row fails only its own job, after a few rounds; the others go on.

The statuses come from the real SLURM parser over captured-shape ``sacct`` text (the poller's
pure seam: a source returning what ``parse_status`` read); time is a hand-moved clock.
"""

from __future__ import annotations

from poller_fakes import Clock, Outcomes

from clustrix.errors import JobError
from clustrix.polling.poller import Poller, PollerConfig
from clustrix.polling.resolution import Failed, GracePolicy, ResultReady
from clustrix.schedulers import slurm
from clustrix.states import JobState


class SacctText:
    """A status source answering with ``slurm.parse_status`` of whatever text is current."""

    has_accounting = False

    def __init__(self) -> None:
        self.text = ""
        self.queries = 0

    def query(self, ids):
        self.queries += 1
        return slurm.parse_status(self.text)

    def accounting(self, ids):
        raise AssertionError("SLURM keeps no per-job accounting")


class Files:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def get_files(self, paths):
        return {p: self.files.get(p) for p in paths}


def make():
    clock, source, files, out = Clock(), SacctText(), Files(), Outcomes()
    config = PollerConfig(interval_s=1.0, max_interval_s=8.0, grace=GracePolicy(result_grace_s=10, missing_grace_s=30),
                          max_hard_failures=2, max_unreadable_rows=3)
    poller = Poller(source, files, config, clock=clock, sleep=lambda s: None)
    poller._ensure_thread = lambda: None  # the test drives tick() itself
    return clock, source, files, out, poller


BAD_ROW = "2|COMPLETED|zero|None"


def test_a_bad_row_fails_its_job_alone_after_three_rounds():
    clock, source, files, out, poller = make()
    poller.watch([out.watch(k) for k in ("1", "2", "3")])
    source.text = f"1|RUNNING|0:0|None\n{BAD_ROW}\n3|COMPLETED|0:0|None\n"
    files.files["/j/3/result.pkl"] = b"r3"
    poller.tick()
    assert out.done == {"3": ResultReady(b"r3")}  # read normally beside the bad row
    for _ in range(2):
        clock.t += 1
        poller.tick()
    failed = out.done["2"]
    assert isinstance(failed, Failed) and isinstance(failed.error, JobError)
    text = str(failed.error)
    assert "could not be read 3 times in a row" in text and BAD_ROW in text and "CODE:SIGNAL" in text
    assert failed.error.job_id == "2"
    assert poller.live_keys() == ["1"]  # the healthy job is still watched...
    assert out.statuses["1"] == [JobState.RUNNING]
    source.text = "1|COMPLETED|0:0|None\n2|COMPLETED|zero|None\n"
    files.files["/j/1/result.pkl"] = b"r1"
    clock.t += 1
    poller.tick()
    assert out.done["1"] == ResultReady(b"r1")  # ...and ends with its value


def test_a_row_that_becomes_readable_again_resets_the_count():
    clock, source, files, out, poller = make()
    poller.watch([out.watch("2")])
    for text in (BAD_ROW, BAD_ROW, "2|RUNNING|0:0|None", BAD_ROW, BAD_ROW):
        source.text = text + "\n"
        poller.tick()
        clock.t += 1
    assert out.done == {} and poller.live_keys() == ["2"]
    poller.tick()  # the third bad round in a row
    assert isinstance(out.done["2"], Failed)


def test_no_batch_failure_is_counted_for_a_bad_row():
    """Before, the parser raised for the whole output and every job failed with it."""
    clock, source, files, out, poller = make()
    poller.watch([out.watch(k) for k in ("1", "2")])
    source.text = f"1|RUNNING|0:0|None\n{BAD_ROW}\n"
    poller.tick()
    clock.t += 1
    poller.tick()  # two rounds: max_hard_failures would have failed both jobs by now
    assert out.done == {} and poller._failures == 0
