"""Capture REAL Grid Engine's answers to the fidelity scenario into tests/data/sge_real/.

Run as root on a host where ``tests/tools/sge_real_up.sh`` brought real Grid Engine 8.1.9 up::

    PYTHONPATH=. python tests/tools/capture_sge.py [USER]     # USER: a normal user (uid >= 1000)

It runs every step of ``tests/fidelity/sge_scenario.py`` as USER in a fresh work directory under
their home (``runuser``, a clean environment: HOME USER LOGNAME PATH SGE_ROOT SGE_CELL) and writes
``session.json``: the raw stdout, stderr and exit code of each command, and the facts the
normalizer needs (host, user, home, work dir, job numbers). It also records the environment of a
real job (``jobenv.txt``). Not used at test time.
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "fidelity"))

from sge_real_runner import run_on_real, runner, scenario_user  # noqa: E402


def main() -> int:
    user = sys.argv[1] if len(sys.argv) > 1 else scenario_user()
    if user is None:
        print("no normal user to run jobs as; name one", file=sys.stderr)
        return 2
    outcomes, side, work_dir = run_on_real(user)
    run = runner(user, work_dir)
    job = run("qsub -terse -cwd -o jobenv.txt -j y -b y env")[0].strip()
    run(f"until qacct -j {job} >/dev/null 2>&1; do sleep 0.2; done")
    out_dir = os.path.join(ROOT, "tests", "data", "sge_real")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(work_dir, "jobenv.txt")) as fh:
        env_lines = sorted(fh.read().splitlines())
    with open(os.path.join(out_dir, "jobenv.txt"), "w") as fh:
        fh.write("\n".join(env_lines) + "\n")
    facts = {"host": side.hosts[0], "user": user, "home": side.home, "work_dir": work_dir, "jobs": list(side.jobs),
             "version": "Son of Grid Engine 8.1.9 (Debian bookworm gridengine 8.1.9+dfsg-10+b1)"}
    with open(os.path.join(out_dir, "session.json"), "w") as fh:
        json.dump({"facts": facts, "outcomes": [o.__dict__ for o in outcomes]}, fh, indent=1)
        fh.write("\n")
    print(f"{len(outcomes)} commands captured in {out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
