"""JobEntry and in_job(): the wrapper every job calls, and the flag it sets."""

from __future__ import annotations

import os
import pickle

import cloudpickle
import pytest

from clustrix.api.job_entry import IN_JOB_ENV, JobEntry, in_job


@pytest.fixture(autouse=True)
def _outside_a_job(monkeypatch):
    monkeypatch.delenv(IN_JOB_ENV, raising=False)


def report(*args, **kwargs):
    return in_job(), args, kwargs


def test_the_flag_is_set_only_while_the_entry_runs():
    entry = JobEntry(report)
    assert not in_job()
    assert entry(1, k=2) == (True, (1,), {"k": 2})
    assert not in_job()


def test_the_flag_is_reset_when_the_function_raises():
    def boom():
        assert in_job()
        raise KeyError("x")

    with pytest.raises(KeyError):
        JobEntry(boom)()
    assert not in_job()


def test_the_environment_variable_sets_the_flag(monkeypatch):
    monkeypatch.setenv(IN_JOB_ENV, "1")
    assert in_job()
    monkeypatch.setenv(IN_JOB_ENV, "0")
    assert not in_job()


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_pickles_by_reference_with_its_function(dumps):
    blob = dumps(JobEntry(report))
    assert b"clustrix.api.job_entry" in blob and b"JobEntry" in blob
    again = pickle.loads(blob)
    assert isinstance(again, JobEntry) and again.func is report
    assert again(3) == (True, (3,), {})
    assert repr(again) == f"JobEntry({report!r})"


def test_holds_no_per_instance_dict():
    entry = JobEntry(os.getcwd)
    with pytest.raises(AttributeError):
        entry.other = 1
