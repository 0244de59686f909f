"""The scheduler-independent body of every batch script (pure text rendering).

The body exports the job's environment, runs the user's setup lines, starts the clustrix runner
(:data:`RUNNER_LAUNCH`) for this job (or array task) and records the runner's exit code in a
sentinel file, written atomically, which the poller uses as the tie-breaker when the scheduler has
forgotten the job (a runner that succeeded has written it already).
"""

from __future__ import annotations

import shlex

from clustrix.spec import JobPaths, JobSpec

RUNNER_LAUNCH = "import sys; from clustrix.payload.runner import main; sys.exit(main())"
"""What a job runs with ``python -c``: ``python -m clustrix.runner`` without ``-m``, whose
``runpy`` imports ``importlib.util``, ``contextlib`` and ``collections`` (about 5 ms per job,
a fifth of a trivial job's run). ``clustrix.payload.runner.main`` is also what every earlier
release's ``clustrix.runner`` calls, so a cluster with an older clustrix runs it too."""


def render_body(spec: JobSpec, paths: JobPaths, *, task_var: str | None, task_offset: int = 0) -> str:
    """Render the script lines that follow the scheduler's directives.

    ``task_var`` is the shell expression of the array-task index (``SLURM_ARRAY_TASK_ID``,
    ``PBS_ARRAY_INDEX``, ``SGE_TASK_ID``), or None for a single job. ``task_offset`` is subtracted
    from it so clustrix task indices always start at 0 (SGE numbers tasks from 1). Every interpolated value is
    ``shlex.quote``d; setup lines are the user's own shell and go in verbatim, by design.
    """
    q = shlex.quote
    lines = [
        "",
        "# --- clustrix job body ---",
        f"cd {q(paths.job_dir)} || exit 97",
    ]
    for key, value in spec.env:
        lines.append(f"export {key}={q(value)}")
    if spec.setup:
        lines.append("# setup lines from the profile / decorator (run verbatim)")
        lines.extend(spec.setup)
    if task_var is None or spec.array is None:
        lines.append('CLUSTRIX_TASK=""')
        suffix = ""
    else:
        # SGE sets SGE_TASK_ID=undefined outside arrays; treat anything non-numeric as "no task".
        lines.append(f'CLUSTRIX_TASK="${{{task_var}:-}}"')
        lines.append('case "$CLUSTRIX_TASK" in ""|*[!0-9]*) CLUSTRIX_TASK="" ;; esac')
        if task_offset:
            lines.append(f'[ -n "$CLUSTRIX_TASK" ] && CLUSTRIX_TASK=$((CLUSTRIX_TASK - {int(task_offset)}))')
        suffix = '${CLUSTRIX_TASK:+.$CLUSTRIX_TASK}'
    lines.append(
        f'{q(spec.python)} -c {q(RUNNER_LAUNCH)} {q(paths.job_dir)} --task "$CLUSTRIX_TASK" '
        f"--key-file {q(paths.key_file)}"
    )
    lines.append("clustrix_status=$?")
    sentinel = q(paths.sentinel()) + suffix
    # A runner that wrote its result has written exit code 0 here itself (saving an mv process
    # per job); any other ending, or an older runner, is recorded by the script.
    lines.append(f'if [ "$clustrix_status" != 0 ] || [ ! -s {sentinel} ]; then')
    lines.append(
        f'  printf "%s\\n" "$clustrix_status" > {sentinel}.tmp && mv -f {sentinel}.tmp {sentinel}'
    )
    lines.append("fi")
    lines.append('exit "$clustrix_status"')
    return "\n".join(lines) + "\n"
