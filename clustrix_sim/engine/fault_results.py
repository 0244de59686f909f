"""Result-file faults: corrupt or replace a file a job wrote, after it wrote it.

A rule names files by a glob ``pattern``; a relative pattern is taken relative to the directory
of the job's stdout file (where clients such as clustrix keep a job's files), an absolute one as
it is. The rule is applied to the files of a job it matches (``job_id``, or any job) as soon as
anyone reads one over the login node's SFTP (a client may fetch a result before the job script
has exited), and at the latest when the job exits, before the controller records its end:

- ``flip``: the file's bytes are inverted in the middle and at the end (its length stays, a
  format's leading magic too, so a signature check is what notices);
- ``replace``: the file's content becomes ``source``'s (e.g. another job's result).

So a client never reads the intact file. A file is damaged once (a second flip would undo the
first). Each rule applies to ``n`` jobs (``None``: until cleared) and counts only jobs where its
pattern matched a file.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import threading
from dataclasses import dataclass

MODES = ("flip", "replace")


@dataclass
class _Rule:
    pattern: str
    job_id: int | None
    mode: str
    source: str | None
    remaining: int | None


class ResultFaults:
    """The result-file rules in force; thread safe."""

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self.applied: list[str] = []  # the paths damaged so far, oldest first
        self._dirs: dict[str, tuple[int, int | None]] = {}  # stdout dir -> (job id, array job id)
        self._damaged: set[tuple[str, int, int]] = set()  # (path, inode, mtime) of damaged files

    def add(self, *, pattern: str, job_id: int | None, mode: str, source: str | None, n: int | None) -> None:
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"pattern must be a non-empty glob, got {pattern!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if mode == "replace" and not (isinstance(source, str) and os.path.isfile(source)):
            raise ValueError(f"mode 'replace' needs source, an existing file; got {source!r}")
        if job_id is not None and (isinstance(job_id, bool) or not isinstance(job_id, int)):
            raise ValueError(f"job_id must be an integer or None, got {job_id!r}")
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ValueError(f"n must be a positive count or None (until cleared), got {n!r}")
        with self._lock:
            self._rules.append(_Rule(pattern, job_id, mode, source, n))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def describe(self) -> list[dict[str, object]]:
        with self._lock:
            return [{"pattern": r.pattern, "job_id": r.job_id, "mode": r.mode, "source": r.source,
                     "remaining": r.remaining} for r in self._rules]

    def job_started(self, job_id: int, array_job_id: int | None, stdout_path: str | None) -> None:
        """Remember which job's files live where, so a read can be traced to its job."""
        if stdout_path:
            with self._lock:
                self._dirs[os.path.dirname(stdout_path)] = (job_id, array_job_id)

    def on_read(self, path: str) -> None:
        """Someone is about to read ``path``: damage it first when a rule covers it."""
        if not self._rules:
            return
        base = os.path.dirname(path)
        with self._lock:
            owner = self._dirs.get(base)
        if owner is not None:
            self._apply(owner[0], owner[1], base, only=path)

    def on_exit(self, job_id: int, array_job_id: int | None, stdout_path: str | None) -> None:
        """Apply the matching rules to the files of a job that just exited."""
        base = os.path.dirname(stdout_path) if stdout_path else None
        self._apply(job_id, array_job_id, base, only=None)
        if base is not None:
            with self._lock:
                self._dirs.pop(base, None)

    def _apply(self, job_id: int, array_job_id: int | None, base: str | None, only: str | None) -> None:
        with self._lock:
            for rule in list(self._rules):
                if rule.job_id is not None and rule.job_id not in (job_id, array_job_id):
                    continue
                if not os.path.isabs(rule.pattern) and base is None:
                    continue
                pattern = rule.pattern if os.path.isabs(rule.pattern) else os.path.join(base or "", rule.pattern)
                if only is not None:
                    paths = [only] if fnmatch.fnmatchcase(only, pattern) and os.path.isfile(only) else []
                else:
                    paths = sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
                paths = [p for p in paths if p != rule.source and not self._already(p)]
                if not paths:
                    continue
                for path in paths:
                    _damage(path, rule)
                    self._damaged.add(_identity(path))
                    self.applied.append(path)
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)

    def _already(self, path: str) -> bool:
        return _identity(path) in self._damaged


def _identity(path: str) -> tuple[str, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (path, -1, -1)
    return (path, st.st_ino, st.st_mtime_ns)


def _damage(path: str, rule: _Rule) -> None:
    if rule.mode == "replace":
        with open(rule.source or "", "rb") as fh:
            data = fh.read()
    else:
        with open(path, "rb") as fh:
            raw = bytearray(fh.read())
        for pos in {len(raw) // 2, len(raw) - 1} if raw else ():  # the body, not a format's magic
            raw[pos] ^= 0xFF
        data = bytes(raw) if raw else b"\xff"
    tmp = f"{path}.clustrix-sim-fault"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
