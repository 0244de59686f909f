"""The research package's tests: they pass on every clustrix backend."""

from __future__ import annotations

import math

import pytest
from research.analysis import estimate_pi, summarize, where_am_i


def test_estimate_is_close_to_pi():
    assert abs(estimate_pi(20_000, seed=1) - math.pi) < 0.1


def test_bad_input_raises_the_original_exception():
    with pytest.raises(ValueError, match="samples must be positive"):
        estimate_pi(0, seed=1)


def test_map_returns_results_in_order():
    seeds = list(range(6))
    estimates = estimate_pi.map([2_000] * len(seeds), seeds)  # like the builtin map()
    assert estimates == [estimate_pi.local(2_000, s) for s in seeds]


def test_printed_output_comes_back():
    future = summarize.submit([3.0, 3.2, 3.1])
    assert future.result(timeout=120)["mean"] == pytest.approx(3.1)
    assert "summarizing 3 values" in future.stdout()


@pytest.mark.clustrix(backends=["slurm-sim"])
def test_runs_as_a_slurm_job(sim_cluster):
    job_id = where_am_i()["job_id"]
    assert job_id is not None
    # The result can arrive while the job script is still finishing: wait for the scheduler.
    assert sim_cluster.wait_job(int(job_id), timeout_s=60).state == "COMPLETED"


@pytest.mark.clustrix(backends=["pbs-sim", "torque-sim"])
def test_runs_as_a_pbs_job(sim_cluster):
    job_id = where_am_i()["job_id"]
    seq, _, server = job_id.partition(".")  # PBS ids are "<seq>.<server>"
    assert server == sim_cluster.config.server
    assert sim_cluster.wait_job(int(seq), timeout_s=60).state == "COMPLETED"


@pytest.mark.clustrix(backends=["local", "debug"])
def test_runs_without_a_scheduler(clustrix_backend):
    assert where_am_i()["job_id"] is None
