"""Hostlist expand/compress against Slurm's documented forms, plus a round-trip property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clustrix_sim.slurm.hostlist import HostlistError, compress, expand


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("c1", ["c1"]),
        ("c[1-3,5]", ["c1", "c2", "c3", "c5"]),
        ("n[001-003]", ["n001", "n002", "n003"]),
        ("a[1-2],b3", ["a1", "a2", "b3"]),
        ("c[9-11]", ["c9", "c10", "c11"]),
        ("n[08-11]", ["n08", "n09", "n10", "n11"]),
        ("login,c[1-2]", ["login", "c1", "c2"]),
        ("r[1-2]n[1-2]", ["r1n1", "r1n2", "r2n1", "r2n2"]),
        ("c1,c1", ["c1", "c1"]),
        ("", []),
    ],
)
def test_expand(text: str, hosts: list[str]) -> None:
    assert expand(text) == hosts


@pytest.mark.parametrize(
    ("hosts", "text"),
    [
        (["c1"], "c1"),
        (["c1", "c2"], "c[1-2]"),
        (["c1", "c2", "c3", "c5"], "c[1-3,5]"),
        (["c5", "c1", "c3", "c2"], "c[1-3,5]"),
        (["n001", "n002", "n003"], "n[001-003]"),
        (["a1", "a2", "b3"], "a[1-2],b3"),
        (["c9", "c10"], "c[9-10]"),
        (["login", "c1"], "c1,login"),
        (["c2", "c2"], "c2"),
    ],
)
def test_compress(hosts: list[str], text: str) -> None:
    assert compress(hosts) == text


def test_compress_unsorted_keeps_order() -> None:
    assert compress(["c3", "c1", "c2"], sort=False) == "c[3,1-2]"


@pytest.mark.parametrize("bad", ["c[1-", "c1-3]", "c[3-1]", "c[a-b]", "c[[1]]", "c[1,,2]"])
def test_expand_rejects_bad_lists(bad: str) -> None:
    with pytest.raises(HostlistError, match="invalid hostlist"):
        expand(bad)


_hosts = st.lists(
    st.builds(
        lambda prefix, n, width: f"{prefix}{str(n).zfill(width)}",
        st.sampled_from(["c", "n", "gpu", "rack1-"]),
        st.integers(min_value=0, max_value=120),
        st.sampled_from([1, 3]),
    ),
    max_size=30,
)


@given(_hosts)
def test_round_trip(hosts: list[str]) -> None:
    # compress sorts and dedups, so compare as sets; expand(compress(x)) must lose nothing.
    text = compress(hosts)
    assert sorted(set(expand(text))) == sorted(set(hosts))
    assert len(expand(text)) == len(set(hosts))
