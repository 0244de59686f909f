"""``srun`` inside a batch job: run the command as a job step on the allocation.

submitit's scripts run ``srun --unbuffered --output X --error Y <cmd>``. The step's tasks are
child processes with the step environment (``SLURM_STEP_ID``, ``SLURM_PROCID`` ...); their
output goes where ``--output``/``--error`` say (filename patterns expanded); signals srun
receives are forwarded to them; srun exits with the highest task exit code.
"""

from __future__ import annotations

import os
import sys

from clustrix_sim.slurm.options import GetoptError, getopt_long, table

OPTIONS = table("""
    account A account :
    cpus-per-task c cpus-per-task :
    chdir D chdir :
    error e error :
    export . export :
    gpus G gpus :
    input i input :
    job-name J job-name :
    kill-on-bad-exit K kill-on-bad-exit ?
    label l label -
    ntasks n ntasks :
    nodes N nodes :
    output o output :
    overcommit O overcommit -
    partition p partition :
    quiet Q quiet -
    time t time :
    unbuffered u unbuffered -
    verbose v verbose -
    version V version -
    nodelist w nodelist :
    exclusive . exclusive ?
    overlap . overlap -
    exact . exact -
    mem . mem :
    mem-per-cpu . mem-per-cpu :
    mpi . mpi :
    cpu-bind . cpu-bind :
    gpus-per-task . gpus-per-task :
    gpus-per-node . gpus-per-node :
    gres . gres :
    ntasks-per-node . ntasks-per-node :
    distribution m distribution :
    wait W wait :
    jobid . jobid :
    het-group . het-group :
    signal . signal :
    propagate . propagate ?
    open-mode . open-mode :
""")
_OWN_PROCESS_GROUP: dict = (
    {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp})  # srun has no threads
_FORWARDED = ("SIGINT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGHUP", "SIGQUIT", "SIGALRM")


def _err(text: str) -> None:
    sys.stderr.write(f"srun: error: {text}\n")


def _open(pattern: str | None, task: int, env: dict[str, str], append: bool):  # noqa: ANN202
    """Open a step output file; None means inherit srun's own stream."""
    if not pattern:
        return None
    from clustrix_sim.slurm.patterns import PatternContext, expand_pattern

    array_job = env.get("SLURM_ARRAY_JOB_ID")
    array_task = env.get("SLURM_ARRAY_TASK_ID")
    ctx = PatternContext(
        job_id=int(env.get("SLURM_JOB_ID", "0") or 0),
        work_dir=os.getcwd(),
        job_name=env.get("SLURM_JOB_NAME", ""),
        user=env.get("SLURM_JOB_USER", env.get("USER", "")),
        node=env.get("SLURMD_NODENAME", ""),
        array_job_id=int(array_job) if array_job else None,
        array_task_id=int(array_task) if array_task else None,
        step_name=env.get("SLURM_STEP_ID", "0"),
    )
    path = expand_pattern(pattern.replace("%t", str(task)) if task else pattern, ctx)
    return open(path, "ab" if append else "wb")  # noqa: SIM115 - closed by the caller


def main(argv: list[str]) -> int:
    """Run srun with ``argv``; returns the step's exit code."""
    import signal
    import subprocess

    from clustrix_sim.slurm.common import version_line

    try:
        opts, command = getopt_long(argv, OPTIONS, prog="srun", permute=False)
    except GetoptError as exc:
        sys.stderr.write(f"{exc}\nTry \"srun --help\" for more information\n")
        return 1
    last = {k: v for k, v in opts}
    if "version" in last:
        sys.stdout.write(version_line())
        return 0
    if not os.environ.get("SLURM_JOB_ID") and "jobid" not in last:
        _err("Unable to allocate resources: Requested operation is presently disabled")
        return 1
    if not command:
        _err("No command given to execute.")
        return 1
    try:
        ntasks = max(int(last.get("ntasks") or 1), 1)
    except ValueError:
        _err(f"Invalid numeric value \"{last.get('ntasks')}\" for --ntasks.")
        return 1
    env = dict(os.environ)
    step = env.get("CLUSTRIX_SIM_STEP_ID", "0")
    node = env.get("SLURMD_NODENAME", "")
    env.update({
        "SLURM_STEP_ID": step, "SLURM_STEPID": step, "SLURM_STEP_NUM_TASKS": str(ntasks),
        "SLURM_STEP_NUM_NODES": "1", "SLURM_STEP_NODELIST": node,
        "SLURM_STEP_TASKS_PER_NODE": str(ntasks), "SLURM_NTASKS": str(ntasks),
        "SLURM_NPROCS": str(ntasks), "SLURM_LAUNCH_NODE_IPADDR": "127.0.0.1",
        "SLURM_SRUN_COMM_HOST": "127.0.0.1", "SLURM_NODEID": "0",
    })
    if last.get("chdir"):
        os.chdir(last["chdir"] or ".")
    append = (last.get("open-mode") or "").lower().startswith("a") or \
        os.environ.get("SLURM_OPEN_MODE") == "a"
    procs: list[subprocess.Popen] = []
    files = []
    try:
        for task in range(ntasks):
            task_env = dict(env, SLURM_PROCID=str(task), SLURM_LOCALID=str(task))
            out = _open(last.get("output"), task, env, append)
            err = out if last.get("error") == last.get("output") and out else \
                _open(last.get("error"), task, env, append)
            files += [f for f in (out, err) if f is not None]
            try:
                # Each task in its own process group, as slurmstepd starts a step's tasks: a
                # `scancel --signal` reaches the step's tasks once, not srun too (which would
                # forward it a second time).
                procs.append(subprocess.Popen(command, env=task_env, stdout=out, stderr=err,
                                              **_OWN_PROCESS_GROUP))
            except OSError as exc:
                sys.stderr.write(f"slurmstepd: error: execve(): {command[0]}: {exc.strerror}\n")
                _err(f"{node}: task {task}: Exited with exit code 2")
                return 2

        def forward(signum: int, _frame: object) -> None:
            for proc in procs:
                if proc.poll() is None:
                    try:
                        proc.send_signal(signum)
                    except ProcessLookupError:
                        pass

        for name in _FORWARDED:
            signal.signal(getattr(signal, name), forward)
        worst = 0
        for task, proc in enumerate(procs):
            code = proc.wait()
            if code < 0:
                _err(f"{node}: task {task}: {signal.Signals(-code).name.removeprefix('SIG').title()}"
                     if -code != signal.SIGKILL else f"{node}: task {task}: Killed")
                code = 128 - code
            elif code:
                _err(f"{node}: task {task}: Exited with exit code {code}")
            worst = max(worst, code)
        return worst
    finally:
        for handle in files:
            handle.close()
