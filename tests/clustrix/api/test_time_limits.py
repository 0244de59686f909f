"""A time limit the scheduler rounds up is announced once, with the limit that really applies."""

from __future__ import annotations

import warnings

import pytest

from clustrix import ClusterExecutor, ClustrixWarning, cluster
from clustrix.config.profile import Profile
from clustrix.schedulers import SCHEDULERS, get
from clustrix.schedulers.contract import effective_time_s


def work() -> int:
    return 1


def test_seconds_on_slurm_warn_at_decoration_naming_the_effective_limit():
    with pytest.warns(ClustrixWarning, match=r"time=00:00:02 .* effective limit is 00:01:00"):
        cluster(time="00:00:02", profile=Profile(name="p", backend="slurm"))(work)


def test_the_warning_comes_once_per_scheduler_and_limit():
    profile = Profile(name="p", backend="pbs")
    with pytest.warns(ClustrixWarning, match="00:02:00"):
        cluster(time="00:01:07", profile=profile)(work)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cluster(time="00:01:07", profile=profile)(work)


@pytest.mark.parametrize(("backend", "time"), [("sge", "00:00:03"), ("slurm", "00:02:00"), ("local", "00:00:04")])
def test_limits_the_scheduler_keeps_as_given_do_not_warn(backend, time):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cluster(time=time, profile=Profile(name="p", backend=backend))(work)


def test_an_executor_warns_when_it_is_made():
    with pytest.warns(ClustrixWarning, match=r"ClusterExecutor\('p'\): .* torque .* effective limit is 00:01:00"):
        executor = ClusterExecutor(Profile(name="p", backend="torque"), time="00:00:05")
    executor.shutdown(wait=False)


def test_a_named_profile_is_checked_when_a_call_makes_its_spec():
    executor = ClusterExecutor(Profile(name="p", backend="torque"))
    try:
        with pytest.warns(ClustrixWarning, match=r"work: .* effective limit is 00:01:00"):
            executor.spec_for(work, resources=executor.resources.merged(time="00:00:06"))
    finally:
        executor.shutdown(wait=False)


@pytest.mark.parametrize("name", SCHEDULERS)
def test_every_scheduler_states_its_granularity(name):
    granularity = get(name).TIME_GRANULARITY_S
    assert granularity >= 1
    assert effective_time_s(granularity, granularity) == granularity
    assert effective_time_s(granularity + 1, granularity) == 2 * granularity
