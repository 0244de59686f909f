"""Which job a payload and its results belong to: the job-dir id, a nonce, and the task.

An HMAC alone says "written by the key's owner", not "written by *this* job": with one key per
profile, a valid result of job A copied into job B's directory (or task 3's result renamed to
task 4's) would verify and be unpickled as B's value. So the client writes a :class:`JobBinding`
into the signed metadata of every payload it stages — the job directory's name and a random
nonce made at submission — and the runner copies it, together with the task index it ran,
into the signed metadata of the result. The client compares all three with what it expects
before unpickling anything, and refuses a mismatch with
:class:`~clustrix.errors.PayloadAuthError` naming expected and found.

The runner imports this module, so it imports nothing but :mod:`os` and the payload core.
"""

from __future__ import annotations

import os

from clustrix.payload.format import payload_auth_error
from clustrix.payload.records import FrozenRecord

TYPE_CHECKING = False  # not ``from typing import ...``: typing costs ~5 ms per job start
if TYPE_CHECKING:
    from typing import Any

NONCE_BYTES = 16


class JobBinding(FrozenRecord):
    """A job directory's id (its base name) and the nonce made when the job was submitted."""

    __slots__ = ("job", "nonce")

    job: str
    nonce: str

    def __init__(self, job: str, nonce: str):
        if not isinstance(job, str) or not job or not isinstance(nonce, str) or not nonce:
            raise TypeError(f"JobBinding needs a job-dir id and a nonce (non-empty str), got {job!r}, {nonce!r}")
        object.__setattr__(self, "job", job)
        object.__setattr__(self, "nonce", nonce)

    def meta(self) -> dict[str, str]:
        """The entries a payload's signed metadata carries."""
        return {"job": self.job, "nonce": self.nonce}


def new_binding(job_dir: str) -> JobBinding:
    """A fresh binding for the job directory ``job_dir`` (local path or remote POSIX path)."""
    job = os.path.basename(job_dir.rstrip("/").rstrip(os.sep)) or job_dir
    return JobBinding(job, os.urandom(NONCE_BYTES).hex())


def binding_of(meta: dict[str, Any]) -> JobBinding | None:
    """The binding a payload's metadata carries (None for a payload staged without one)."""
    job, nonce = meta.get("job"), meta.get("nonce")
    if isinstance(job, str) and job and isinstance(nonce, str) and nonce:
        return JobBinding(job, nonce)
    return None


def result_meta(binding: JobBinding | None, task: int | None) -> dict[str, Any]:
    """The binding entries the runner signs into a result: the payload's binding and its task."""
    meta: dict[str, Any] = {"task": task}
    if binding is not None:
        meta.update(binding.meta())
    return meta


def _describe(job: object, task: object, nonce: object) -> str:
    where = "a single job" if task is None else f"task {task}"
    short = f"{nonce[:12]}..." if isinstance(nonce, str) and len(nonce) > 12 else repr(nonce)
    return f"job dir {job!r}, {where}, nonce {short}"


def check_result_binding(meta: dict[str, Any], expected: JobBinding, task: int | None) -> None:
    """Refuse a (verified) result whose binding is not ``expected`` and ``task``.

    Raises :class:`~clustrix.errors.PayloadAuthError` naming what was expected and what was found.
    """
    found = (meta.get("job"), meta.get("task"), meta.get("nonce"))
    if found == (expected.job, task, expected.nonce):
        return
    if found[0] is None and found[2] is None:
        detail = ("it carries no job binding (written by a clustrix runner older than this client? "
                  "install the same clustrix version on the client and the execution host)")
    else:
        detail = "it was copied, renamed or replayed from another job or task"
    raise payload_auth_error(
        f"result file is bound to {_describe(*found)} but {_describe(expected.job, task, expected.nonce)} "
        f"was expected: {detail}; it was not unpickled"
    )
