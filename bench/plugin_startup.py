"""How much the clustrix pytest plugin adds to the start of a pytest run that does not use it.

Runs ``pytest --collect-only`` on a one-test project again and again, alternating runs with the
plugin loaded (as it is for every project with clustrix installed) and with ``-p no:clustrix``,
and prints both medians and their difference. Target: under 20 ms.

    python bench/plugin_startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_MS = 20.0


# Other third-party plugins are disabled in both runs: they cost the same either way, and
# hypothesis alone adds ~0.8 s of imports whose jitter would swamp a 20 ms difference.
QUIET = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:xdist", "-p", "no:xdist.looponfail"]


def one_run(project: str, extra: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *QUIET, *extra],
                   cwd=project, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as project:
        with open(os.path.join(project, "test_plain.py"), "w") as fh:
            fh.write("def test_nothing_clustrix():\n    assert 1 + 1 == 2\n")
        one_run(project, [])  # warm the file cache and bytecode
        with_plugin: list[float] = []
        without: list[float] = []
        for _ in range(args.runs):
            with_plugin.append(one_run(project, []))
            without.append(one_run(project, ["-p", "no:clustrix"]))
    med_with, med_without = statistics.median(with_plugin), statistics.median(without)
    added = med_with - med_without
    print(f"pytest --collect-only, {args.runs} alternating runs each")
    print(f"  with the clustrix plugin : median {med_with:7.1f} ms")
    print(f"  with -p no:clustrix      : median {med_without:7.1f} ms")
    print(f"  added by the plugin      : {added:7.1f} ms  (target < {TARGET_MS:.0f} ms: "
          f"{'met' if added < TARGET_MS else 'MISSED'})")
    print(f"  ratio with/without       : {med_with / med_without:7.3f}")


if __name__ == "__main__":
    main()
