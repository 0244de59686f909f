"""Run shell command lines as a normal user against REAL Grid Engine on this host, and say why
that is impossible when it is (for the differential test's skip reason)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

from sge_normalize import Side
from sge_scenario import Outcome, run_scenario

__all__ = ["SGE_ROOT", "clean_home", "real_grid_engine_missing", "run_on_real", "runner", "scenario_user"]

SGE_ROOT = os.environ.get("SGE_ROOT", "/var/lib/gridengine")


def scenario_user() -> str | None:
    """``$CLUSTRIX_SGE_USER``, or the first account with uid >= 1000 (Debian's min_uid)."""
    if os.environ.get("CLUSTRIX_SGE_USER"):
        return os.environ["CLUSTRIX_SGE_USER"]
    users = sorted((p.pw_uid, p.pw_name) for p in pwd.getpwall() if 1000 <= p.pw_uid < 60000)
    return users[0][1] if users else None


def real_grid_engine_missing() -> str | None:
    """None when real Grid Engine answers here; otherwise what is missing."""
    if shutil.which("qsub", path="/usr/bin:/bin") is None or not os.path.isdir(SGE_ROOT):
        return ("real Grid Engine is not installed (apt-get install gridengine-master gridengine-exec "
                "gridengine-client; see tests/tools/sge_real_up.sh)")
    if os.geteuid() != 0:
        return "the differential test runs jobs as another user through runuser, which needs root"
    if scenario_user() is None:
        return "no normal user (uid >= 1000) to run jobs as; set CLUSTRIX_SGE_USER"
    env = {"SGE_ROOT": SGE_ROOT, "SGE_CELL": "default", "PATH": "/usr/bin:/bin"}
    try:
        done = subprocess.run(["qstat"], env=env, capture_output=True, text=True, timeout=10, check=False)
    except subprocess.TimeoutExpired:
        return "real Grid Engine's qstat did not answer within 10 s"
    if done.returncode != 0:
        return f"real Grid Engine is not running (qstat: {done.stderr.strip()[:200]}); start it with " \
               "sh tests/tools/sge_real_up.sh"
    return None


def runner(user: str, work_dir: str):
    home = pwd.getpwnam(user).pw_dir
    env = ["env", "-i", f"HOME={home}", f"USER={user}", f"LOGNAME={user}", "PATH=/usr/bin:/bin",
           f"SGE_ROOT={SGE_ROOT}", "SGE_CELL=default"]

    def run(command: str) -> tuple[str, str, int]:
        argv = ["runuser", "-u", user, "--", *env, "sh", "-c", f"cd {work_dir} && {command}"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        return done.stdout, done.stderr, done.returncode

    return run


def run_on_real(user: str) -> tuple[list[Outcome], Side, str]:
    """(outcomes, facts, work dir) of the scenario on real Grid Engine, as ``user``."""
    entry = pwd.getpwnam(user)
    work_dir = tempfile.mkdtemp(prefix="sgecap-", dir=entry.pw_dir)
    os.chown(work_dir, entry.pw_uid, entry.pw_gid)
    outcomes, jobs = run_scenario(runner(user, work_dir))
    side = Side(hosts=(socket.gethostname(),), user=user, home=entry.pw_dir, work_dir=work_dir, jobs=tuple(jobs))
    return outcomes, side, work_dir


def clean_home(side: Side) -> None:
    """Remove what the scenario's jobs left in the user's home (jobs without ``-cwd`` write their
    ``<name>.o<job>``, ``.e``, ``.po``, ``.pe`` files and ``out.<job>.txt`` there)."""
    for job in side.jobs:
        for pattern in (f"*.[eo]{job}", f"*.[eo]{job}.*", f"*.p[eo]{job}", f"out.{job}.txt"):
            for path in glob.glob(os.path.join(glob.escape(side.home), pattern)):
                os.remove(path)
