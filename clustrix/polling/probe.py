"""The poller's fast path: learn that results exist by looking at job directories, not the scheduler.

A job's result file is the one piece of evidence that is final on its own (a readable, signed result
always wins, see :mod:`clustrix.polling.resolution`), and reading a directory on the login node is
far cheaper than asking the scheduler: an SFTP ``listdir`` or ``open`` never reaches ``slurmctld``,
and it does not start a shell, so a heavy ``.bashrc`` does not slow it down. So every poll tick,
before (and usually instead of) the status command, :class:`ResultProbe` looks at each live
submission's job directory once:

- without a directory lister (what the remote backend uses): ONE bulk ``get_files`` of the result
  files of every live watch in the probed directories, and of their sentinels every
  ``SENTINELS_EVERY`` probes. Over SSH that is pipelined
  (:mod:`clustrix.transports.sftp_batch`): one round trip while nothing exists, two when results
  do, whatever the number of jobs and tasks, so noticing a result and fetching it are the same
  probe;
- with a lister: a directory with one live watch reads its result file; a directory with several
  (an array: every task writes into the same directory) is listed once, which reveals every
  ``result[.T].pkl`` and ``exit_code[.T]`` at once, then one bulk ``get_files`` reads the results
  that appeared. (A listing costs a round trip per few dozen names on most servers: cheaper only
  where reads are not pipelined.)

The probe only ever *resolves results*. A sentinel without a result (the runner died, the job was
killed) is reported as a hint so the poller asks the scheduler right away; the scheduler's state
decides those (TIMEOUT vs OOM vs a crash), exactly as without the fast path.

The number of directories looked at per tick is capped (round robin over ticks), so thousands of
separately submitted live jobs cannot turn one tick into thousands of round trips.
"""

from __future__ import annotations

import itertools
import logging
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from clustrix.polling.watch import Watch
    from clustrix.transports.base import Transport

log = logging.getLogger(__name__)

MAX_DIRS_PER_TICK = 32
"""Directories probed per tick at most; the rest are probed on later ticks (round robin)."""
SENTINELS_EVERY = 4
"""Without a lister, sentinels are read on every this many probes (results on every probe)."""

DirLister = Callable[[str], "set[str] | None"]
"""Names in a directory (one round trip), or None when the directory does not exist."""


class ProbeFetcher(Protocol):
    def get_files(self, paths: Sequence[str]) -> dict[str, bytes | None]: ...


@dataclass
class ProbeOutcome:
    """What one probe found: result contents by watch key, and keys whose sentinel exists."""

    results: dict[str, bytes] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)
    dirs: int = 0


class ResultProbe:
    """Looks for result files of live watches; see the module docstring. Not thread-safe: the
    poller thread is its only user."""

    def __init__(self, fetcher: ProbeFetcher, lister: DirLister | None = None,
                 *, max_dirs_per_tick: int = MAX_DIRS_PER_TICK, sentinels_every: int = SENTINELS_EVERY):
        if max_dirs_per_tick < 1:
            raise ValueError(f"max_dirs_per_tick must be >= 1, got {max_dirs_per_tick!r}")
        if sentinels_every < 1:
            raise ValueError(f"sentinels_every must be >= 1, got {sentinels_every!r}")
        self.fetcher = fetcher
        self.lister = lister
        self.max_dirs_per_tick = max_dirs_per_tick
        self.sentinels_every = sentinels_every
        self._turn = itertools.count()
        self._bulk_reads = itertools.count()

    def probe(self, watches: Sequence[Watch]) -> ProbeOutcome:
        """Probe the directories of ``watches``; raises TransportError when the link fails."""
        by_dir: dict[str, list[Watch]] = {}
        for w in watches:
            by_dir.setdefault(posixpath.dirname(w.files.result), []).append(w)
        dirs = list(by_dir)
        if len(dirs) > self.max_dirs_per_tick:
            start = (next(self._turn) * self.max_dirs_per_tick) % len(dirs)
            dirs = (dirs[start:] + dirs[:start])[: self.max_dirs_per_tick]
        outcome = ProbeOutcome(dirs=len(dirs))
        wanted: dict[str, str] = {}  # result path -> watch key, to read in one bulk get_files
        if self.lister is None:
            return self._read_all([w for d in dirs for w in by_dir[d]], outcome)
        for d in dirs:
            group = by_dir[d]
            if len(group) == 1:
                # One round trip per file while it is missing; the content when it exists.
                for w in group:
                    wanted[w.files.result] = w.key
                continue
            names = self.lister(d)
            if names is None:
                continue  # not created yet or removed: the status path decides
            for w in group:
                if posixpath.basename(w.files.result) in names:
                    wanted[w.files.result] = w.key
                elif posixpath.basename(w.files.sentinel) in names:
                    outcome.ended.add(w.key)
        if wanted:
            blobs = self.fetcher.get_files(list(wanted))
            for path, key in wanted.items():
                blob = blobs.get(path)
                if blob is not None:
                    outcome.results[key] = blob
        return outcome


    def _read_all(self, watches: list[Watch], outcome: ProbeOutcome) -> ProbeOutcome:
        """Results (and, every ``sentinels_every`` probes, sentinels) of ``watches`` in one bulk
        read: the mode without a lister. A sentinel only hastens the status round for a job that
        ended without a result, so reading it every probe would double the requests (a 200-task
        map: thousands per second on a fast poll) for a hint a few ticks earlier."""
        with_sentinels = next(self._bulk_reads) % self.sentinels_every == 0
        paths = [p for w in watches for p in ((w.files.result, w.files.sentinel) if with_sentinels
                                                else (w.files.result,))]
        blobs = self.fetcher.get_files(paths)
        for w in watches:
            blob = blobs.get(w.files.result)
            if blob is not None:
                outcome.results[w.key] = blob
            elif blobs.get(w.files.sentinel) is not None:
                outcome.ended.add(w.key)
        return outcome


def lister_for(transport: Transport) -> DirLister:
    """A directory lister for ``transport``: its ``listdir``, with a missing directory as None."""
    return _wrap_listdir(transport.listdir)


def _wrap_listdir(listdir: Callable[[str], Any]) -> DirLister:
    def list_names(path: str) -> set[str] | None:
        try:
            names = listdir(path)
        except FileNotFoundError:
            return None
        return None if names is None else set(names)

    return list_names
