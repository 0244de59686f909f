"""Every registered scheduler module satisfies the contract, optional parts included."""

from __future__ import annotations

import pytest

from clustrix import schedulers
from clustrix.schedulers.contract import Accounting, FallbackStatus, SchedulerModule, TaggedSubmit


@pytest.mark.parametrize("name", schedulers.SCHEDULERS)
def test_module_satisfies_the_protocol(name):
    module = schedulers.get(name)
    assert isinstance(module, SchedulerModule)
    assert module.NAME == name
    assert module.FALLBACK_STATUS is None or isinstance(module.FALLBACK_STATUS, FallbackStatus)
    assert module.ACCOUNTING is None or isinstance(module.ACCOUNTING, Accounting)
    assert module.TAGGED_SUBMIT is None or isinstance(module.TAGGED_SUBMIT, TaggedSubmit)


TAGGING = [n for n in schedulers.SCHEDULERS if schedulers.get(n).TAGGED_SUBMIT is not None]


@pytest.mark.parametrize("name", TAGGING)
def test_tagged_submission_is_the_plain_one_plus_the_tag(name):
    module = schedulers.get(name)
    tagged = module.TAGGED_SUBMIT
    assert tagged is not None
    argv = tagged.submit_argv("/jobs/x/job.sh", "20240101-abc")
    plain = module.submit_argv("/jobs/x/job.sh")
    assert argv[0] == plain[0] and argv[-1] == plain[-1] and set(plain) <= set(argv)
    assert any("20240101-abc" in a for a in argv)
    assert tagged.lookup_argv("20240101-abc")[0] != argv[0]  # a status query, not a submission


def test_slurm_is_the_scheduler_that_finds_submissions_by_tag():
    assert TAGGING == ["slurm"]
