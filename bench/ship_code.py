"""What shipping local code and the preflight cost: pickling, and submissions on slurm-sim over SSH.

    python bench/ship_code.py [--n 5]

(a) Pickling: ``cloudpickle.dumps`` against clustrix's recording pickler (which notes the modules
    the job will import and whether code travels by value) on the same objects, in one run;
    the ratio is the recording's price, paid by every backend, the local one included.
(b) slurm-sim over SSH, one call after another, each awaited: a function from a local package
    (``tests/data/shiplab_src``, copied to a temporary directory, shipped) against the same
    function with ``ship_local_code=False`` and the package on the jobs' PYTHONPATH instead. The
    first call of each session carries the preflight (one command, overlapped with the key read)
    and, when shipping, one ``lstat`` and one unpacking command; the table counts the commands
    of every kind per call.

Figures, not assertions; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]


class Item:
    def __init__(self, i: int) -> None:
        self.i = i
        self.name = f"item{i}"


def best_ms_pair(first, second, n: int) -> tuple[float, float]:
    """Best of ``n`` for each, the two alternating (so neither gets a warmer cache or GC)."""
    a, b = [], []
    for _ in range(n):
        for fn, out in ((first, a), (second, b)):
            began = time.perf_counter()
            fn()
            out.append((time.perf_counter() - began) * 1000)
    return min(a), min(b)


def bench_pickling(n: int) -> None:
    import cloudpickle

    from clustrix.payload.pickle_refs import PickleRefs, dumps_recording

    cases = {
        "a small call (lambda + 3 args)": (lambda x, y, z: x + y + z, 1, 2.0, "three"),
        "1M floats in a list": [float(i) for i in range(1_000_000)],
        "100k instances of a class": [Item(i) for i in range(100_000)],
        "20 MB of bytes": os.urandom(20 * 1024 * 1024),
    }
    print("(a) pickling, best of", n)
    print(f"    {'payload':34} {'cloudpickle':>12} {'recording':>12} {'ratio':>7}")
    for name, obj in cases.items():
        plain, recorded = best_ms_pair(lambda obj=obj: cloudpickle.dumps(obj, protocol=-1),
                                       lambda obj=obj: dumps_recording(obj, PickleRefs(), -1), n)
        print(f"    {name:34} {plain:10.2f}ms {recorded:10.2f}ms {recorded / plain:6.2f}x")


def bench_sim(n: int) -> None:
    from e2e_env import code_under_test_sim
    from shiplab_copy import shiplab_on_path

    from clustrix import cluster
    from clustrix.config.profile import Profile
    from clustrix.payload import compat

    sim = code_under_test_sim()(scheduler="slurm", ssh=True, nodes=1, cores_per_node=4, mem_per_node="4G",
                                time_scale=60).start()
    tmp = Path(tempfile.mkdtemp(prefix="clustrix-bench-ship-"))
    os.environ["CLUSTRIX_DATA_DIR"] = str(tmp / "data")
    try:
        with shiplab_on_path(tmp / "client") as src:
            from shiplab.analysis import fit

            variants = {
                "shipped": {},
                "on PYTHONPATH, not shipped": {"ship_local_code": False,
                                               "env": {"PYTHONPATH": f"{src}:{sim.profile()['env']['PYTHONPATH']}"}},
            }
            print(f"\n(b) slurm-sim over SSH, {n} calls per session, each awaited (ms)")
            for label, extra in variants.items():
                compat.forget_cache()
                profile = Profile.from_mapping(sim.profile(name="bench", remote_dir=str(tmp / label.split()[0]),
                                                           **extra))
                from clustrix.api.decorator import executor_for

                transport = executor_for(profile).backend.transport  # the backend the calls use
                original = transport.run
                commands: Counter[str] = Counter()

                def counted(argv, *a, _orig=original, _c=commands, **k):
                    _c[os.path.basename(argv[0])] += 1
                    return _orig(argv, *a, **k)

                transport.run = counted
                remote = cluster(profile=profile)(fit)
                times, per_call = [], []
                for i in range(n):
                    before = Counter(commands)
                    began = time.perf_counter()
                    assert remote(i)["value"] == 2 * i + 1000
                    times.append((time.perf_counter() - began) * 1000)
                    per_call.append(dict(commands - before))
                print(f"    {label:28} first {times[0]:7.1f}   later median {statistics.median(times[1:]):7.1f}")
                print(f"    {'':28} commands, first call: {per_call[0]}; second: {per_call[1]}")
    finally:
        from clustrix.api.decorator import shutdown_executors

        shutdown_executors(wait=True)
        sim.stop()
    print(f"\nload average: {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5)
    args = parser.parse_args()
    bench_pickling(args.n)
    bench_sim(max(args.n, 3))


if __name__ == "__main__":
    main()
