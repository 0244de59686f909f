"""A job whose function calls ``sys.exit(n)`` raises JobExitError in the caller, on every local backend.

Before, the rebuilt ``SystemExit`` was re-raised from ``future.result()`` and ended the *caller*
with the job's exit code, silently. The simulated-SLURM case is in ``tests/e2e/test_job_exit.py``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import clustrix
from clustrix.api.executor import ClusterExecutor
from clustrix.errors import ClustrixError, JobError, JobExitError

DEADLINE_S = 60

PROFILES = {
    "local": {"backend": "local"},
    "local-threads": {"backend": "local", "local_mode": "threads"},
    "debug": {"backend": "debug"},
}


def exits(code):
    print("about to exit")
    print("on stderr", file=sys.stderr)
    sys.exit(code)


@pytest.mark.parametrize("backend", sorted(PROFILES))
@pytest.mark.parametrize(("arg", "code"), [(3, 3), (None, 0), ("bye", 1)])
def test_sys_exit_in_a_job_raises_job_exit_error(backend, arg, code):
    with ClusterExecutor(PROFILES[backend]) as ex:
        fut = ex.submit(exits, arg)
        with pytest.raises(JobExitError) as info:
            fut.result(timeout=DEADLINE_S)
    err = info.value
    assert isinstance(err, ClustrixError) and isinstance(err, JobError)
    assert err.exit_code == code and err.exit_arg == arg
    assert "about to exit" in err.stdout and "on stderr" in err.stderr
    assert isinstance(err.__cause__, SystemExit) and err.__cause__.code == arg
    assert "sys.exit(" in str(err) and "return a value" in str(err)
    assert err.job_id == fut.job_id


def test_exported_from_the_package():
    assert clustrix.JobExitError is JobExitError
    assert "JobExitError" in clustrix.__all__


def test_caller_process_keeps_running(tmp_path):
    """The whole point: a script whose job exits 7 goes on and reports, instead of exiting 7."""
    script = tmp_path / "caller.py"
    script.write_text(textwrap.dedent("""
        import sys
        from clustrix import ClusterExecutor, JobExitError

        def job():
            sys.exit(7)

        if __name__ == "__main__":
            with ClusterExecutor({"backend": "local"}) as ex:
                try:
                    ex.submit(job).result(timeout=60)
                except JobExitError as exc:
                    print("caught", exc.exit_code)
            print("still here")
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=DEADLINE_S, cwd=tmp_path)
    assert (proc.returncode, proc.stdout.split()) == (0, ["caught", "7", "still", "here"]), proc.stderr
