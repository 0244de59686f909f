"""How long the SLURM fidelity suite takes, per Slurm release, and what it covers.

    python bench/fidelity.py [--live] [--version 22.05|24.11 ...]

For each release (default: both) prints the scenario count, the commands each scenario runs
(steps plus the final queries clients use), the outputs compared (exit code, stdout and stderr
of each), how many differ from real Slurm's golden file and how many of those are listed as
known, and the seconds the golden replay takes (the CI test: every scenario on a fresh
simulator). With ``--live``, for each release whose real Slurm is up (22.05:
``tests/clustrix_sim/slurm/fidelity/host_slurm.sh start``; 24.11: ``python
tests/clustrix_sim/slurm/fidelity/container_slurm.py start``) it also times the real side of the
live test and prints it beside the simulator's replay as a ratio; a release that is not up is
reported with the command that starts it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

FIDELITY = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "clustrix_sim", "slurm",
                        "fidelity")
sys.path.insert(0, os.path.abspath(FIDELITY))

from fidelity_golden import load, sim_outputs  # noqa: E402
from fidelity_known import known  # noqa: E402
from fidelity_normalize import differences  # noqa: E402
from fidelity_runner import play_on_real, real_slurm_available  # noqa: E402
from fidelity_scenarios import FINAL_QUERIES, SCENARIOS, VERSIONS  # noqa: E402


def commands(steps: list[tuple[str, ...]]) -> int:
    """Commands a scenario runs and compares: its run and wait steps plus the final queries."""
    return sum(1 for s in steps if s[0] != "file") + len(FINAL_QUERIES)


def replay(version: str) -> tuple[float, int, int, int]:
    """Seconds for the golden replay of every scenario; outputs, differing, known differing."""
    began = time.perf_counter()
    outputs = differing = listed = 0
    for name in sorted(SCENARIOS):
        real = load(name, version)
        found = {line.split("\n", 1)[0] for line in differences(real, sim_outputs(name, version))}
        outputs += len(real)
        differing += len({f.rsplit(": ", 1)[0] for f in found})
        listed += len({f.rsplit(": ", 1)[0] for f in found if f in known(version, name)})
    return time.perf_counter() - began, outputs, differing, listed


def live(version: str) -> float:
    """Seconds real Slurm takes to play every scenario (the live test's real side)."""
    began = time.perf_counter()
    for name in sorted(SCENARIOS):
        play_on_real(SCENARIOS[name], FINAL_QUERIES, version)
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--live", action="store_true", help="also time the real side where it is up")
    parser.add_argument("--version", action="append", choices=VERSIONS, help="a release (repeatable)")
    args = parser.parse_args()
    versions = args.version or list(VERSIONS)
    per_scenario = {name: commands(steps) for name, steps in sorted(SCENARIOS.items())}
    print(f"scenarios: {len(SCENARIOS)}; commands per scenario: "
          + ", ".join(f"{n} {c}" for n, c in per_scenario.items()) + f" (total {sum(per_scenario.values())})")
    for version in versions:
        seconds, outputs, differing, listed = replay(version)
        print(f"Slurm {version}: golden replay {seconds:.1f} s for {outputs} outputs "
              f"({outputs * 3} fields: rc, stdout, stderr); {differing} outputs differ, {listed} of them listed "
              f"as known")
        if not args.live:
            continue
        why = real_slurm_available(version)
        if why:
            print(f"Slurm {version}: live not timed: {why}")
            continue
        real_s = live(version)
        print(f"Slurm {version}: real side of the live test {real_s:.1f} s; real / simulator replay = "
              f"{real_s / seconds:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
