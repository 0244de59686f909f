"""Job scripts start under fork load: no "Text file busy" (ETXTBSY).

A script that is still open for writing in one thread while another thread forks leaks its write
descriptor into the child until that child execs; executing the script by its ``#!`` line in that
window fails with ETXTBSY. Before the fix, this test's 8 threads x 40 spawns (some jobs failing to
start) failed on every run here.
"""

from __future__ import annotations

import subprocess
import threading

from clustrix_sim.engine import processes

THREADS = 8
SPAWNS_PER_THREAD = 40


def test_concurrent_spawns_and_forks_never_hit_text_file_busy(tmp_path):
    errors: list[str] = []
    codes: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS + 2)
    stop = threading.Event()

    def spawner(worker: int) -> None:
        barrier.wait()
        for i in range(SPAWNS_PER_THREAD):
            job_id = worker * 1000 + i
            out = str(tmp_path / f"{job_id}.out")
            try:
                proc = processes.spawn(job_id=job_id, script="#!/bin/sh\nexit 7\n", script_args=[],
                                       spool_dir=str(tmp_path / "spool"), work_dir=str(tmp_path), env={},
                                       stdout_path=out, stderr_path=out, append=False)
            except processes.LaunchError as exc:
                with lock:
                    errors.append(str(exc))
                continue
            rc = proc.wait()
            with lock:
                codes.append(rc)

    def forker() -> None:  # like the SSH server running commands while jobs start
        barrier.wait()
        while not stop.is_set():
            subprocess.run(["/bin/true"], check=True)

    forkers = [threading.Thread(target=forker) for _ in range(2)]
    spawners = [threading.Thread(target=spawner, args=(w,)) for w in range(THREADS)]
    for thread in forkers + spawners:
        thread.start()
    for thread in spawners:
        thread.join(120)
    stop.set()
    for thread in forkers:
        thread.join(30)
    assert errors == []
    assert codes == [7] * (THREADS * SPAWNS_PER_THREAD)
