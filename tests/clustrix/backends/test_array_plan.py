"""Array planning: every item in exactly one task, in input order; progress bar only on a tty."""

from __future__ import annotations

import concurrent.futures

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clustrix.api.progress import Progress
from clustrix.backends.array_plan import (
    AUTO_MAX_TASKS,
    ArrayPlan,
    check_chunk_size,
    parallel_shares,
)
from clustrix.errors import ResourceError


@given(n=st.integers(1, 5000), chunk=st.one_of(st.none(), st.integers(1, 300)))
def test_plan_covers_every_item_once_in_order(n, chunk):
    plan = ArrayPlan.for_items(n, chunk_size=chunk)
    flat = [i for t in range(plan.n_tasks) for i in plan.items_of(t)]
    assert flat == list(range(n))
    for item in (0, n // 2, n - 1):
        task, pos = plan.task_of(item)
        assert plan.items_of(task)[pos] == item
    if chunk is None:
        assert plan.n_tasks <= AUTO_MAX_TASKS
        assert plan.n_tasks == n or n > AUTO_MAX_TASKS  # one item per task while that fits
    else:
        assert all(len(plan.items_of(t)) == chunk for t in range(plan.n_tasks - 1))


def test_chunks_split_items():
    plan = ArrayPlan.for_items(7, chunk_size=3)
    assert plan.chunks(list("abcdefg")) == [["a", "b", "c"], ["d", "e", "f"], ["g"]]
    with pytest.raises(ValueError, match="plan is for 7 items"):
        plan.chunks([1, 2])


def test_bad_plans_name_the_value():
    with pytest.raises(ResourceError, match="array_chunk_size"):
        ArrayPlan(5, 0)
    with pytest.raises(IndexError, match="outside the array"):
        ArrayPlan(5, 2).items_of(3)


def test_progress_counts_done_futures_when_enabled(capsys):
    futs = [concurrent.futures.Future() for _ in range(3)]
    bar = Progress(futs, desc="x", enabled=True)
    assert bar.enabled
    for f in futs:
        f.set_result(1)
    assert bar.done == 3
    assert not bar.enabled  # closed after the last one
    assert "0/3" in capsys.readouterr().err


def test_progress_off_when_stderr_is_not_a_terminal(capsys):
    futs = [concurrent.futures.Future()]
    assert not Progress(futs).enabled  # pytest captures stderr: not a tty
    futs[0].set_result(1)
    assert capsys.readouterr().err == ""


def test_progress_closed_by_its_owner_ignores_later_completions(capsys):
    futs = [concurrent.futures.Future() for _ in range(2)]
    with Progress(futs, desc="y", enabled=True) as bar:
        futs[0].set_result(1)
    assert not bar.enabled
    drawn = capsys.readouterr().err
    futs[1].set_result(2)  # after close: nothing more reaches the terminal
    assert capsys.readouterr().err == "" and "/2" in drawn
    bar.close()  # idempotent


@pytest.mark.parametrize("bad", [0, -3, True, 1.5, "2"])
def test_chunk_size_errors_name_the_value(bad):
    with pytest.raises(ValueError, match=f"chunk_size must be .*got {bad!r}"):
        check_chunk_size(bad)


def test_chunk_size_none_means_automatic():
    assert check_chunk_size(None) is None and check_chunk_size(7) == 7


@given(n=st.integers(1, 5000), chunk=st.integers(1, 40), limit=st.integers(1, 1200))
def test_split_parts_respect_the_limit_and_keep_every_item_in_order(n, chunk, limit):
    plan = ArrayPlan.for_items(n, chunk_size=chunk)
    parts = plan.split(limit)
    assert all(p.plan.n_tasks <= limit for p in parts)
    assert [i for p in parts for i in p.items] == list(range(n))
    assert sum(p.plan.n_tasks for p in parts) == plan.n_tasks  # the chunking never changes
    assert all(p.plan.chunk_size == chunk for p in parts)
    assert len(parts) == -(-plan.n_tasks // limit)


def test_split_of_a_map_that_fits_is_the_plan_itself():
    plan = ArrayPlan.for_items(35, chunk_size=1)
    assert [p.plan for p in plan.split(1001)] == [plan] == [p.plan for p in plan.split(None)]
    assert [(p.first_item, p.plan.n_items) for p in plan.split(10)] == [(0, 10), (10, 10), (20, 10), (30, 5)]


def test_split_refuses_a_bad_limit_by_name():
    with pytest.raises(ResourceError, match="max_array_size"):
        ArrayPlan.for_items(35, chunk_size=1).split(0)


@pytest.mark.parametrize(("limit", "parts", "shares"), [
    (None, 3, [None, None, None]),
    (10, 3, [4, 3, 3]),
    (2, 4, [1, 1, 1, 1]),
    (8, 1, [8]),
])
def test_parallel_limit_is_shared_between_parts(limit, parts, shares):
    assert parallel_shares(limit, parts) == shares
