"""Golden files: real Slurm's normalized outputs per release and scenario.

22.05.8's are in ``tests/data/slurm_real/``, 24.11.5's in ``tests/data/slurm_real_2411/``. Each
file holds the scenario's steps (so a reader sees what made the outputs), the Slurm version,
and the outputs. ``main`` is the runner's command line: play every scenario (or those named) on
real Slurm of one release and on the simulator answering as that release, print the
differences and their count, and with ``--write`` replace the golden files with the real side.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fidelity_normalize import Output, differences
from fidelity_runner import play_on_real, play_on_sim, real_slurm_available, real_target
from fidelity_scenarios import FINAL_QUERIES, SCENARIOS, SIM_OPTIONS, VERSIONS, site_for

DATA = Path(__file__).resolve().parents[3] / "data"
GOLDEN_DIRS = {"22.05": DATA / "slurm_real", "24.11": DATA / "slurm_real_2411"}


def golden_path(name: str, version: str = "22.05") -> Path:
    return GOLDEN_DIRS[version] / f"{name}.json"


def load(name: str, version: str = "22.05") -> list[Output]:
    data = json.loads(golden_path(name, version).read_text())
    return [Output.from_dict(o) for o in data["outputs"]]


def save(name: str, outputs: list[Output], full_version: str, version: str) -> None:
    GOLDEN_DIRS[version].mkdir(parents=True, exist_ok=True)
    data = {"scenario": name, "slurm_version": full_version,
            "steps": [list(s) for s in SCENARIOS[name]], "final_queries": [list(q) for q in FINAL_QUERIES],
            "outputs": [o.to_dict() for o in outputs]}
    golden_path(name, version).write_text(json.dumps(data, indent=1) + "\n")


def sim_outputs(name: str, version: str = "22.05") -> list[Output]:
    return play_on_sim(SCENARIOS[name], FINAL_QUERIES, site_for(version), SIM_OPTIONS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--version", default="22.05", choices=VERSIONS, help="the Slurm release to compare")
    parser.add_argument("--write", action="store_true", help="save the real outputs as golden files")
    parser.add_argument("--golden", action="store_true", help="compare the simulator with the golden "
                        "files instead of playing on real Slurm")
    parser.add_argument("scenarios", nargs="*", default=sorted(SCENARIOS))
    args = parser.parse_args(argv)
    if not args.golden:
        why = real_slurm_available(args.version)
        if why:
            print(f"cannot play on real Slurm {args.version}: {why}", file=sys.stderr)
            return 2
        full = real_target(args.version).run(["sinfo", "-V"], "/").stdout.split()[-1]
    total = differing = 0
    for name in args.scenarios:
        real = load(name, args.version) if args.golden else play_on_real(SCENARIOS[name], FINAL_QUERIES, args.version)
        if args.write:
            save(name, real, full, args.version)
        sim = sim_outputs(name, args.version)
        found = differences(real, sim)
        total += len(real)
        differing += len({line.split(": ")[0] for line in found})
        print(f"== {name}: {len(real)} outputs, {len(found)} differing fields")
        for line in found:
            print(line)
    print(f"TOTAL ({args.version}): {differing} of {total} outputs differ")
    return 0 if differing == 0 else 1
