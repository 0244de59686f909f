"""getopt_long emulation: prefixes, attached values, permutation, glibc error texts, and a
Hypothesis property that any argv built from a known option table parses back to its parts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clustrix_sim.slurm import sbatch, squeue
from clustrix_sim.slurm.options import NO_ARG, OPTIONAL, REQUIRED, GetoptError, Opt, getopt_long


def sq(argv: list[str]):
    return getopt_long(argv, squeue.OPTIONS, prog="squeue")


def test_squeue_client_forms() -> None:
    assert sq(["--noheader", "--format=%i %t", "--job", "1,2"]) == (
        [("noheader", None), ("format", "%i %t"), ("jobs", None)], ["1,2"])
    assert sq(["-j123", "-h"]) == ([("jobs", "123"), ("noheader", None)], [])
    assert sq(["--jobs=5", "--state=all"]) == ([("jobs", "5"), ("states", "all")], [])
    assert sq(["-O", "JobArrayID,StateCompact,Reason", "-t", "all", "--me"]) == (
        [("Format", "JobArrayID,StateCompact,Reason"), ("states", "all"), ("me", None)], [])
    assert sq(["--me", "-o", "%i", "-h", "-r", "-t", "all"])[0][-1] == ("states", "all")
    assert sq(["-hr"]) == ([("noheader", None), ("array", None)], [])


def test_errors_are_glibc_texts() -> None:
    with pytest.raises(GetoptError, match=r"^squeue: unrecognized option '--bogus=1'$"):
        sq(["--bogus=1"])
    with pytest.raises(GetoptError, match=r"^squeue: invalid option -- 'Z'$"):
        sq(["-Z"])
    with pytest.raises(GetoptError, match=r"^squeue: option requires an argument -- 'o'$"):
        sq(["-o"])
    with pytest.raises(GetoptError, match=r"^squeue: option '--format' requires an argument$"):
        sq(["--format"])
    with pytest.raises(GetoptError, match=r"^squeue: option '--noheader' doesn't allow an argument$"):
        sq(["--noh=1"])
    with pytest.raises(GetoptError, match=r"^sbatch: option '--mem-per' is ambiguous; "
                                          r"possibilities: '--mem-per-cpu' '--mem-per-gpu'$"):
        getopt_long(["--mem-per=1"], sbatch.OPTIONS, prog="sbatch")


def test_sbatch_stops_at_script_and_prefixes() -> None:
    found, rest = getopt_long(["--part=p", "-J", "x", "--mem", "8GB", "job.sh", "--time=5", "-n"],
                              sbatch.OPTIONS, prog="sbatch", permute=False)
    assert found == [("partition", "p"), ("job-name", "x"), ("mem", "8GB")]
    assert rest == ["job.sh", "--time=5", "-n"]
    found, _ = getopt_long(["--exclusive", "--exclusive=user", "--mem=1", "--time=1:5:0",
                            "--output", "-o"], sbatch.OPTIONS, prog="sbatch")
    assert found == [("exclusive", None), ("exclusive", "user"), ("mem", "1"), ("time", "1:5:0"),
                     ("output", "-o")]


def test_double_dash_and_errors_collected() -> None:
    errors: list[str] = []
    found, rest = getopt_long(["--bogus", "-h", "--", "-v"], squeue.OPTIONS, prog="squeue",
                              errors=errors)
    assert found == [("noheader", None)] and rest == ["-v"]
    assert errors == ["squeue: unrecognized option '--bogus'"]


_TABLE = [
    Opt("alpha", "a", ("alpha",), NO_ARG),
    Opt("bravo", "b", ("bravo", "bravo-alias"), REQUIRED),
    Opt("charlie", "c", ("charlie",), OPTIONAL),
    Opt("delta", "", ("delta-long-name",), REQUIRED),
]
_values = st.text(alphabet="xyz019=,:%", min_size=1, max_size=6)


@st.composite
def _argvs(draw):
    expected: list[tuple[str, str | None]] = []
    argv: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        opt = draw(st.sampled_from(_TABLE))
        value = draw(_values) if opt.arg != NO_ARG else None
        use_long = draw(st.booleans()) or not opt.short
        if opt.arg == OPTIONAL and value is not None and draw(st.booleans()):
            value = None
        if use_long:
            name = draw(st.sampled_from(opt.longs))
            # any unique prefix works ("bravo" and "bravo-alias" share a key, so "b" is fine)
            name = name[: draw(st.integers(1, len(name)))] if opt.key != "delta" else name
            if opt.arg == REQUIRED and draw(st.booleans()):
                argv += [f"--{name}", value]
            elif value is not None:
                argv.append(f"--{name}={value}")
            else:
                argv.append(f"--{name}")
        else:
            if opt.arg == REQUIRED and draw(st.booleans()):
                argv += [f"-{opt.short}", value]
            else:
                argv.append(f"-{opt.short}{value or ''}")
        expected.append((opt.key, value))
    positionals = draw(st.lists(st.text(alphabet="pq", min_size=1, max_size=3), max_size=3))
    # permutation: positionals may sit anywhere between options
    slots = draw(st.lists(st.integers(0, len(argv)), min_size=len(positionals),
                          max_size=len(positionals)))
    merged = list(argv)
    for pos, word in sorted(zip(slots, positionals, strict=True), reverse=True):
        # never split an option from its separate value
        while 0 < pos < len(merged) and merged[pos - 1] in {"-b", "--delta-long-name"} | {
                f"--{n[:k]}" for n in ("bravo", "bravo-alias") for k in range(1, len(n) + 1)}:
            pos -= 1
        merged.insert(pos, word)
    return merged, expected, sorted(positionals)


@given(_argvs())
def test_parser_round_trip(case) -> None:
    argv, expected, positionals = case
    found, rest = getopt_long(argv, _TABLE, prog="t")
    assert found == expected
    assert sorted(rest) == positionals
