"""``sbatch``: parse options like the real tool, build a JobRequest, submit it to the controller.

Precedence (src/sbatch/opt.c ``process_options_second_pass``): ``#SBATCH`` directives, then
``SBATCH_*`` environment variables, then the command line; later settings win.
"""

from __future__ import annotations

import os
import sys

from clustrix_sim.slurm.options import GetoptError, getopt_long, table

OPTIONS = table("""
    array a array :
    account A account :
    begin b begin :
    extra-node-info B extra-node-info :
    cpus-per-task c cpus-per-task :
    constraint C constraint :
    dependency d dependency :
    chdir D chdir :
    error e error :
    nodefile F nodefile :
    gpus G gpus :
    help h help -
    hold H hold -
    input i input :
    job-name J job-name :
    no-kill k no-kill ?
    licenses L licenses :
    distribution m distribution :
    clusters M clusters|cluster :
    ntasks n ntasks :
    nodes N nodes :
    output o output :
    overcommit O overcommit -
    partition p partition :
    qos q qos :
    quiet Q quiet -
    oversubscribe s oversubscribe -
    core-spec S core-spec :
    time t time :
    usage u usage -
    verbose v verbose -
    version V version -
    nodelist w nodelist :
    wait W wait -
    exclude x exclude :
    acctg-freq . acctg-freq :
    batch . batch :
    bb . bb :
    bbf . bbf :
    cluster-constraint . cluster-constraint :
    comment . comment :
    container . container :
    container-id . container-id :
    contiguous . contiguous -
    cores-per-socket . cores-per-socket :
    cpu-freq . cpu-freq :
    cpus-per-gpu . cpus-per-gpu :
    deadline . deadline :
    delay-boot . delay-boot :
    exclusive . exclusive ?
    export . export :
    export-file . export-file :
    extra . extra :
    get-user-env . get-user-env ?
    gid . gid :
    gpu-bind . gpu-bind :
    gpu-freq . gpu-freq :
    gpus-per-node . gpus-per-node :
    gpus-per-socket . gpus-per-socket :
    gpus-per-task . gpus-per-task :
    gres . gres :
    gres-flags . gres-flags :
    hint . hint :
    ignore-pbs . ignore-pbs -
    kill-on-invalid-dep . kill-on-invalid-dep :
    mail-type . mail-type :
    mail-user . mail-user :
    mcs-label . mcs-label :
    mem . mem :
    mem-bind . mem-bind :
    mem-per-cpu . mem-per-cpu :
    mem-per-gpu . mem-per-gpu :
    mincpus . mincpus :
    network . network :
    nice . nice ?
    no-requeue . no-requeue -
    ntasks-per-core . ntasks-per-core :
    ntasks-per-gpu . ntasks-per-gpu :
    ntasks-per-node . ntasks-per-node :
    ntasks-per-socket . ntasks-per-socket :
    open-mode . open-mode :
    parsable . parsable -
    power . power :
    prefer . prefer :
    priority . priority :
    profile . profile :
    propagate . propagate ?
    reboot . reboot -
    requeue . requeue -
    reservation . reservation :
    resv-ports . resv-ports ?
    signal . signal :
    sockets-per-node . sockets-per-node :
    spread-job . spread-job -
    switches . switches :
    test-only . test-only -
    thread-spec . thread-spec :
    threads-per-core . threads-per-core :
    time-min . time-min :
    tmp . tmp :
    tres-per-task . tres-per-task :
    uid . uid :
    use-min-nodes . use-min-nodes -
    wait-all-nodes . wait-all-nodes :
    wckey . wckey :
    wrap . wrap :
""")

# SBATCH_* input environment variables (man sbatch) and the option each stands for.
ENV_OPTIONS = {
    "SBATCH_ACCOUNT": "account", "SBATCH_ARRAY_INX": "array", "SBATCH_CLUSTERS": "clusters",
    "SLURM_CLUSTERS": "clusters", "SBATCH_CONSTRAINT": "constraint",
    "SBATCH_DEPENDENCY": "dependency", "SBATCH_ERROR": "error", "SBATCH_EXCLUSIVE": "exclusive",
    "SBATCH_EXPORT": "export", "SBATCH_GPUS": "gpus", "SBATCH_GPUS_PER_NODE": "gpus-per-node",
    "SBATCH_GPUS_PER_TASK": "gpus-per-task", "SBATCH_GRES": "gres", "SBATCH_JOB_NAME": "job-name",
    "SBATCH_MEM_PER_CPU": "mem-per-cpu", "SBATCH_MEM_PER_NODE": "mem",
    "SBATCH_NO_REQUEUE": "no-requeue", "SBATCH_OPEN_MODE": "open-mode",
    "SBATCH_OUTPUT": "output", "SBATCH_PARTITION": "partition", "SBATCH_QOS": "qos",
    "SBATCH_REQUEUE": "requeue", "SBATCH_SIGNAL": "signal", "SBATCH_TIMELIMIT": "time",
    "SBATCH_WAIT": "wait", "SBATCH_WCKEY": "wckey", "SBATCH_RESERVATION": "reservation",
    "SBATCH_CHDIR": "chdir",
}
_FLAG_ENV = {"no-requeue", "requeue", "wait", "exclusive"}

NOT_A_SCRIPT = (
    "This does not look like a batch script.  The first",
    "line must start with #! followed by the path to an interpreter.",
    "For instance: #!/bin/sh",
)
DOS_BREAKS = (
    "Batch script contains DOS line breaks (\\r\\n)",
    "instead of expected UNIX line breaks (\\n).",
)

# Controller refusal kinds (clustrix_sim.controller.protocol) -> Slurm's strerror text.
REFUSALS = {
    "invalid_partition": "Invalid partition name specified",
    "time_limit": "Requested time limit is invalid (missing or exceeds some limit)",
    "node_config_unavailable": "Requested node configuration is not available",
    "memory_unavailable": "Memory required by task is not available",
    "invalid_account": "Invalid account or account/partition combination specified",
    "invalid_qos": "Invalid qos specification",
    "dependency": "Job dependency problem",
    "array_spec": "Invalid job array specification",
    "gres": "Invalid generic resource (gres) specification",
    "node_count": "Node count specification invalid",
    "qos_policy": (
        "Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)"
    ),
}

WRAP_HEADER = "#!/bin/sh\n# This script was created by sbatch --wrap.\n\n"


class Exit(Exception):
    """Stop with this exit code (messages were already written)."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def _err(text: str) -> None:
    sys.stderr.write(f"sbatch: error: {text}\n")


def read_script(path: str | None) -> tuple[str, str]:
    """Read the batch script (``-``/None = stdin) and apply sbatch's checks.

    Returns (text, name used in messages). Raises Exit after printing Slurm's error lines.
    """
    from clustrix_sim.slurm.common import error_exit

    if path is None or path == "-":
        data = sys.stdin.buffer.read() if sys.stdin else b""
        label = "stdin"
    else:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            _err(f"Unable to open file {path}")
            raise Exit(error_exit()) from None
        label = path
    if not data:
        _err("Batch script is empty!")
        raise Exit(error_exit())
    if not data.startswith(b"#!"):
        for line in NOT_A_SCRIPT:
            _err(line)
        raise Exit(error_exit())
    if b"\r\n" in data:
        for line in DOS_BREAKS:
            _err(line)
        raise Exit(error_exit())
    return data.decode("utf-8", errors="surrogateescape"), label


def _usage_lines() -> str:
    return (
        "Usage: sbatch [-N nnodes] [-n ntasks]\n"
        "              [-c ncpus] [-r n] [-p partition] [--hold] [--parsable] [-t minutes]\n"
        "              [-D path] [--no-kill] [--overcommit]\n"
        "              [--input file] [--output file] [--error file]\n"
        "              [--time-min=minutes] [--licenses=names] [--clusters=cluster_names]\n"
        "              [--chdir=directory] [--oversubscribe] [-m dist] [-J jobname]\n"
        "              [--array=index_values] [--export[=names]] [--wrap=command]\n"
        "              executable [args...]\n"
    )



def submitted_text(job_id: int, *, cluster: str | None = None, parsable: bool = False,
                   quiet: bool = False) -> str:
    """What sbatch prints on success: ``Submitted batch job N[ on cluster C]``, ``N[;C]`` with
    ``--parsable``, nothing with ``--quiet``."""
    if parsable:
        return f"{job_id};{cluster}\n" if cluster else f"{job_id}\n"
    if quiet:
        return ""
    return f"Submitted batch job {job_id}{f' on cluster {cluster}' if cluster else ''}\n"

def main(argv: list[str]) -> int:
    """Run sbatch with ``argv`` (without the program name); returns the exit code."""
    try:
        return _main(argv)
    except Exit as stop:
        return stop.code


def _main(argv: list[str]) -> int:
    from clustrix_sim.slurm.common import error_exit, version_line

    try:
        cli, positionals = getopt_long(argv, OPTIONS, prog="sbatch", permute=False)
    except GetoptError as exc:
        sys.stderr.write(f"{exc}\nTry \"sbatch --help\" for more information\n")
        return 255  # sbatch's option parser exits with -1, whatever SLURM_EXIT_ERROR says
    keys = {k for k, _ in cli}
    if "version" in keys:
        sys.stdout.write(version_line())
        return 0
    if "help" in keys or "usage" in keys:
        sys.stdout.write(_usage_lines())
        return 0
    wrap = next((v for k, v in reversed(cli) if k == "wrap"), None)
    if wrap is not None and positionals:
        _err("Script arguments not permitted with --wrap option")
        return error_exit()

    if wrap is not None:
        script, label = WRAP_HEADER + wrap + "\n", "wrap"
        script_path = None
    else:
        script_path = positionals[0] if positionals else None
        script, label = read_script(script_path)

    from clustrix_sim.slurm.directives import DirectiveFatal, scan_directives

    try:
        found = scan_directives(script, label)
    except DirectiveFatal as exc:
        sys.stderr.write(f"sbatch: fatal: {exc}\n")
        return error_exit()
    for line in found.warnings:
        _err(line)
    directive_errors: list[str] = []
    from_script, leftover = getopt_long(found.args, OPTIONS, prog="sbatch", permute=False,
                                        errors=directive_errors)
    for line in directive_errors:
        sys.stderr.write(line + "\n")
    if leftover:
        _err(f"Invalid directive found in batch script: {leftover[0]}")
        return 255
    if directive_errors:
        return 255

    from_env: list[tuple[str, str | None]] = []
    for var, key in ENV_OPTIONS.items():
        value = os.environ.get(var)
        if value is None:
            continue
        if key in _FLAG_ENV and key != "exclusive":
            from_env.append((key, None))
        else:
            from_env.append((key, value or None))

    from clustrix_sim.slurm.sbatch_build import build_request

    try:
        request, extras = build_request(
            from_script + from_env + cli,
            script=script,
            script_path=script_path,
            script_args=positionals[1:],
            wrap=wrap is not None,
        )
    except ValueError as exc:
        _err(str(exc))
        return 255
    return _submit(request, extras)


def _depends_on_unknown_jobs(request: dict) -> bool:
    """24.11 refuses a dependency on a job slurmctld does not hold (never was, or purged after
    MinJobAge); 22.05 accepted it and lifted the clause (the engine's behaviour)."""
    from clustrix_sim.slurm.versions import at_least

    refs = [ref for dep in request.get("dependencies") or [] for ref in dep.get("job_ids") or []]
    if not refs or not at_least("24.11"):
        return False
    from clustrix_sim.slurm.common import call, load_records

    bases = sorted({int(ref.split("_")[0]) for ref in refs if ref.split("_")[0].isdigit()})
    held = [r for r in load_records(call("jobs", "sbatch", {"job_ids": bases, "include_finished": True}))
            if r.visible_in_queue]
    known = {r.job_id for r in held} | {r.array_job_id for r in held if r.array_job_id is not None}
    return any(base not in known for base in bases)


def _submit(request: dict, extras: dict) -> int:
    from clustrix_sim.controller import protocol
    from clustrix_sim.slurm.common import call, error_exit

    if extras.get("test_only"):
        sys.stderr.write(
            f"sbatch: Job {request['name']} to start at now using {request.get('ntasks', 1)} "
            f"processors on nodes (null) in partition {request.get('partition') or '(null)'}\n"
        )
        return 0
    try:
        if _depends_on_unknown_jobs(request):
            _err("Batch job submission failed: Job dependency problem")
            return error_exit()
        result = call("submit", "sbatch", {"request": request})
    except protocol.RequestRefused as exc:
        text = REFUSALS.get(exc.kind, exc.message or exc.kind)
        if exc.kind == "invalid_partition":
            _err(f"invalid partition specified: {request.get('partition') or ''}")
        elif exc.message and exc.message != text and exc.kind in REFUSALS:
            _err(exc.message)  # the controller's reason (slurmctld's err_msg), then the strerror
        _err(f"Batch job submission failed: {text}")
        return error_exit()
    except protocol.ControllerUnavailable:
        _err("Batch job submission failed: Unable to contact slurm controller (connect failure)")
        return error_exit()
    job_id = int(result["job_id"])
    sys.stdout.write(submitted_text(job_id, cluster=extras.get("clusters"),
                                    parsable=bool(extras.get("parsable")), quiet=bool(extras.get("quiet"))))
    sys.stdout.flush()
    if extras.get("wait"):
        from clustrix_sim.slurm.sbatch_build import wait_for_job

        return wait_for_job(job_id)
    return 0
