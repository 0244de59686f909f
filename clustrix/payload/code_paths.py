"""The job's list of shipped-code directories: signed by the client, put on ``sys.path`` by the runner.

When the client ships local modules (:mod:`clustrix.payload.code_archive`), each unpacks into
``<remote_dir>/.clustrix-code/<module>-<sha>/``. The job directory then holds ``code.paths``: a
signed envelope (same key and framing as the payload, kind ``P``) naming those directories
relative to the job directory and the job directory's own name, so a list copied from another
job is refused. The runner verifies it before unpickling anything and puts the directories in
front of ``sys.path``, ahead of the payload's ``sys_path`` hints: the code as it was when the
job was submitted wins over whatever copy the host may have.

Standard library only (the runner imports this on every job that has the file, before the
user's code).
"""

from __future__ import annotations

import os
import sys

from clustrix.payload.format import (
    KIND_CODE,
    PICKLE_PROTOCOL,
    open_sections,
    payload_error,
    pickle_dumps,
    pickle_loads,
    seal,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

CODE_FILE = "code.paths"
CODE_ROOT = ".clustrix-code"
"""The directory beside the job directories (under the profile's ``remote_dir``) holding shipped code."""


def relative_code_dir(dir_name: str) -> str:
    """Where a shipped module's directory is, relative to any job directory of the same remote dir."""
    return f"../{CODE_ROOT}/{dir_name}"


def seal_code_paths(relative_dirs: Sequence[str], job_dir: str, key: bytes) -> bytes:
    """The signed ``code.paths`` content for the job in ``job_dir`` (a POSIX path)."""
    meta = {"job": job_dir.rstrip("/").rsplit("/", 1)[-1], "dirs": tuple(relative_dirs)}
    return seal(KIND_CODE, [pickle_dumps(meta, protocol=PICKLE_PROTOCOL)], key)


def shipped_dirs(job_dir: str, key: bytes) -> list[str]:
    """The verified, absolute shipped-code directories of the job in ``job_dir`` ([] without the file).

    Raises :class:`~clustrix.errors.PayloadError` when the list is forged, belongs to another
    job, or names a directory that is gone (removed since submission: resubmit).
    """
    path = os.path.join(job_dir, CODE_FILE)
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise payload_error(f"cannot read the shipped-code list {path}: {exc}") from exc
    meta = pickle_loads(open_sections(blob, key, KIND_CODE)[0])  # authenticated: builtins only
    if not isinstance(meta, dict) or meta.get("job") != os.path.basename(os.path.normpath(job_dir)):
        raise payload_error(f"the shipped-code list {path} belongs to another job ({meta.get('job')!r}); "
                            "it was copied here, not written for this job")
    dirs = [os.path.normpath(os.path.join(job_dir, d)) for d in meta.get("dirs", ())]
    missing = [d for d in dirs if not os.path.isdir(d)]
    if missing:
        raise payload_error(f"the code shipped with this job is gone from {', '.join(missing)} (removed "
                            "after the job was submitted?); submit the job again to re-ship it")
    return dirs


def add_shipped_code(job_dir: str, key: bytes) -> None:
    """Put the job's shipped-code directories (if any) in front of ``sys.path``, in order."""
    for entry in reversed(shipped_dirs(job_dir, key)):
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
