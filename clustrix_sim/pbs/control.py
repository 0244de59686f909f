"""What ``qdel``, ``qhold``, ``qrls`` and ``qsig`` share: each id on its own, errors as PBS's.

Every id is resolved to engine targets (a job, an array's every subjob, or one subjob); an
unknown one prints ``<prog>: Unknown Job Id <id>`` (153), a finished one ``<prog>: Job has
finished <id>`` (35, PBS Pro with history) and the command carries on with the rest, exiting
with the last error. Success is silent.
"""

from __future__ import annotations

from collections.abc import Callable

from clustrix_sim.pbs.common import (
    PBSE_BADSTATE,
    PBSE_HISTJOBID,
    PBSE_UNKJOBID,
    fail,
    is_finished,
    load,
    parse_job_id,
    server_info,
)
from clustrix_sim.pbs.dialect import Dialect

__all__ = ["Target", "each_job", "engine_status_error"]

Target = tuple[int, "int | None", list]  # (array or job seq, subjob index or None, its records)


def each_job(prog: str, ids: list[str], dialect: Dialect, act: Callable[[str, Target], int]) -> int:
    """Resolve each id and call ``act(full_id, target)``; returns the exit code."""
    info = server_info(prog)
    server = info["server"]
    history_on = dialect.has_history and bool(info.get("accounting_enabled", True))
    rc = 0
    for text in ids:
        ref = parse_job_id(text)
        full_id = ref.full(server) if ref else text
        records = load(prog, [ref.seq], history=history_on) if ref else []
        if ref is not None and ref.index is None:
            records = [r for r in records if r.array_job_id is None and r.job_id == ref.seq]
        elif ref is not None:
            records = [r for r in records if r.array_job_id == ref.seq and
                       (ref.index == "" or r.array_task_id == ref.index)]
        if not records:
            rc = fail(prog, f"{dialect.unknown_job} {full_id}", PBSE_UNKJOBID)
            continue
        if all(is_finished(r) for r in records):
            if dialect.name == "torque":
                rc = fail(prog, f"Request invalid for state of job {full_id}", PBSE_BADSTATE)
            elif history_on:
                rc = fail(prog, f"Job has finished {full_id}", PBSE_HISTJOBID)
            else:
                rc = fail(prog, f"{dialect.unknown_job} {full_id}", PBSE_UNKJOBID)
            continue
        index = ref.index if isinstance(ref.index, int) else None
        code = act(full_id, (ref.seq, index, records))
        rc = code or rc
    return rc


def engine_status_error(prog: str, full_id: str, results: list[dict]) -> int:
    """Turn the engine's per-target statuses into PBS errors (0 when every one is ``ok``)."""
    rc = 0
    for result in results:
        status = result.get("status", "ok")
        if status in ("ok", "already_done"):
            continue
        if status == "invalid_job_id":
            rc = fail(prog, f"Unknown Job Id {full_id}", PBSE_UNKJOBID)
        else:
            rc = fail(prog, f"Request invalid for state of job {full_id}", PBSE_BADSTATE)
    return rc
