"""Golden files: real Slurm's normalized outputs per scenario, kept in ``tests/data/slurm_real/``.

Each file holds the scenario's steps (so a reader sees what made the outputs), the Slurm version,
and the outputs. ``main`` is the runner's command line: play every scenario (or those named) on
this host's real Slurm and on the simulator, print the differences and their count, and with
``--write`` replace the golden files with the real side.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from fidelity_normalize import Output, differences
from fidelity_runner import play_on_real, play_on_sim, real_slurm_available
from fidelity_scenarios import FINAL_QUERIES, SCENARIOS, SIM_SITE

GOLDEN_DIR = Path(__file__).resolve().parents[3] / "data" / "slurm_real"


def golden_path(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.json"


def load(name: str) -> list[Output]:
    data = json.loads(golden_path(name).read_text())
    return [Output.from_dict(o) for o in data["outputs"]]


def save(name: str, outputs: list[Output], version: str) -> None:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    data = {"scenario": name, "slurm_version": version,
            "steps": [list(s) for s in SCENARIOS[name]], "final_queries": [list(q) for q in FINAL_QUERIES],
            "outputs": [o.to_dict() for o in outputs]}
    golden_path(name).write_text(json.dumps(data, indent=1) + "\n")


def sim_outputs(name: str) -> list[Output]:
    return play_on_sim(SCENARIOS[name], FINAL_QUERIES, SIM_SITE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="save the real outputs as golden files")
    parser.add_argument("--golden", action="store_true", help="compare the simulator with the golden "
                        "files instead of playing on real Slurm")
    parser.add_argument("scenarios", nargs="*", default=sorted(SCENARIOS))
    args = parser.parse_args(argv)
    if not args.golden:
        why = real_slurm_available()
        if why:
            print(f"cannot play on real Slurm: {why}", file=sys.stderr)
            return 2
        version = subprocess.run(["sinfo", "-V"], capture_output=True, text=True).stdout.split()[-1]
    total = differing = 0
    for name in args.scenarios:
        real = load(name) if args.golden else play_on_real(SCENARIOS[name], FINAL_QUERIES)
        if args.write:
            save(name, real, version)
        sim = sim_outputs(name)
        found = differences(real, sim)
        total += len(real)
        differing += len({line.split(": ")[0] for line in found})
        print(f"== {name}: {len(real)} outputs, {len(found)} differing fields")
        for line in found:
            print(line)
    print(f"TOTAL: {differing} of {total} outputs differ")
    return 0 if differing == 0 else 1
