"""One poller per backend: a daemon thread that learns job states with at most ONE batched status
command per tick.

A *status round* is:

1. one status command for every live job (``StatusSource.query``), falling back for the rest of
   the session when accounting is unavailable (inside the source);
2. one bulk ``get_files`` of the result, sentinel and stderr files of every job that is terminal or
   missing from the output (so a result is never reported before it is readable);
3. :func:`clustrix.polling.resolution.decide` per such job; jobs missing past their grace period are
   checked against accounting in one more command, when the scheduler has one.

Without a result probe every tick is a status round. Intervals start at ``interval_s``, grow by
``backoff`` while nothing changes, are capped at ``max_interval_s`` and reset when a job changes
state, finishes, or is added.

With a :class:`~clustrix.polling.probe.ResultProbe` (the remote backend always has one) each tick
first looks into the live jobs' directories (one cheap SFTP request per submission) and resolves
every job whose result file appeared, at once and without the scheduler. Status rounds then run
on their own, slower schedule: ``status_interval_s`` after a job is added, growing by
``backoff`` while nothing changes (capped at the larger of ``max_interval_s`` and
``status_interval_s``), and at once when a probe sees a job's exit-code sentinel without a result
(the scheduler's state then tells TIMEOUT from OOM from a crash). They are still needed for
pending/running states and for jobs that end without a result. Probe ticks come every
``probe_fraction`` of the time since anything last happened, clamped to ``probe_interval_s``
(default: half of ``interval_s``: a probe touches neither the scheduler nor a shell) ..
``max_interval_s``, so noticing a result costs a bounded fraction of the job's own run time; with
hundreds of live jobs the shortest gap grows so a probe reads at most ``probe_files_per_s`` files
a second.

Command failures are retried at the next status round; only a bounded number of consecutive
failures fails the live jobs (with the command and its stderr), because the jobs themselves are
probably fine. A failing probe only delays results: it never fails a job.

The clock and the sleep are injectable so the state machine is tested without waiting:
``tick()`` runs one poll and returns the delay before the next.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from clustrix.errors import CommandError, JobError, StatusQueryError, TransportError
from clustrix.polling.probe import ProbeOutcome, ResultProbe
from clustrix.polling.resolution import (
    Decision,
    Evidence,
    Failed,
    NeedAccounting,
    ResultReady,
    decide,
)
from clustrix.polling.tuning import PollerConfig
from clustrix.polling.watch import FileFetcher, StatusSource, Watch
from clustrix.states import JobStatus

log = logging.getLogger(__name__)


class Poller:
    """Tracks watches and resolves them; see the module docstring."""

    def __init__(
        self,
        source: StatusSource,
        fetcher: FileFetcher,
        config: PollerConfig | None = None,
        *,
        probe: ResultProbe | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        name: str = "clustrix-poller",
    ):
        self.source = source
        self.fetcher = fetcher
        self.config = config or PollerConfig()
        self.probe = probe
        self._clock = clock
        self._sleep = sleep
        self._name = name
        self._cond = threading.Condition()
        self._watches: dict[str, Watch] = {}
        self._interval = self.config.interval_s
        self._next_tick_at = 0.0
        # The fast path's schedule (used only with a probe): when the next status round is due,
        # the current gap between status rounds, and when anything last happened.
        self._status_interval = self.config.first_status_interval_s
        self._next_status_at = 0.0
        self._last_event = 0.0
        self._failures = 0
        self._rescheduled = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- registration (any thread) -------------------------------------------------------------

    def watch(self, watches: Sequence[Watch]) -> None:
        """Start tracking ``watches``; the next tick comes after the short first interval.

        With a probe, their first status round comes after ``status_interval_s`` (a job whose
        result appears sooner never costs a status command).
        """
        with self._cond:
            idle = not any(not w.done for w in self._watches.values())
            for w in watches:
                if w.key in self._watches and not self._watches[w.key].done:
                    raise ValueError(f"job {w.key!r} is already being watched")
                self._watches[w.key] = w
            now = self._clock()
            self._interval = self.config.interval_s
            self._status_interval = self.config.first_status_interval_s
            self._last_event = now
            first_tick = now + (self.config.first_probe_interval_s if self.probe is not None else self._interval)
            first_status = now + (self._status_interval if self.probe is not None else 0.0)
            # After an idle spell the old schedule is stale (in the past): start afresh.
            self._next_tick_at = first_tick if idle else min(self._next_tick_at, first_tick)
            self._next_status_at = first_status if idle else min(self._next_status_at, first_status)
            self._rescheduled = True
            self._cond.notify_all()
        self._ensure_thread()

    def forget(self, keys: Sequence[str]) -> None:
        """Stop tracking ``keys`` without resolving them (the caller resolved their futures)."""
        with self._cond:
            for key in keys:
                w = self._watches.pop(key, None)
                if w is not None:
                    w.done = True

    def live_keys(self) -> list[str]:
        with self._cond:
            return [k for k, w in self._watches.items() if not w.done]

    def stop(self, *, wait: bool = False, timeout_s: float | None = None) -> None:
        """Let the thread exit once no live watches remain (immediately if there are none)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread = self._thread
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def kick(self) -> None:
        """Poll (and ask the scheduler) soon instead of at the end of a long backoff."""
        with self._cond:
            now = self._clock()
            self._interval = self.config.interval_s
            self._status_interval = self.config.first_status_interval_s
            self._last_event = now
            self._next_tick_at = now
            self._next_status_at = now
            self._rescheduled = True
            self._cond.notify_all()

    # -- the state machine ---------------------------------------------------------------------

    def tick(self) -> float:
        """Run one poll over all live watches; return the delay until the next one."""
        with self._cond:
            live = [w for w in self._watches.values() if not w.done]
        if not live:
            return self.config.interval_s
        if self.probe is not None:
            return self._probe_tick(live)
        outcome = self._status_round(live)
        if outcome is None:  # failed; retried after the short interval
            return self._interval
        changed, waiting_on_grace = outcome
        if changed or waiting_on_grace:
            self._interval = self.config.interval_s
        else:
            self._interval = min(self._interval * self.config.backoff, self.config.max_interval_s)
        return self._interval

    def _probe_tick(self, live: list[Watch]) -> float:
        """The fast path: probe every live job's directory, then a status round if one is due."""
        cfg = self.config
        assert self.probe is not None
        now = self._clock()
        try:
            found = self.probe.probe(live)
        except TransportError as exc:
            # Only delays results (the status round below still runs when due): never fatal.
            log.warning("looking for result files failed (%s); will retry", exc)
            found = ProbeOutcome()
        resolved = False
        for w in live:
            blob = found.results.get(w.key)
            if blob is not None:
                resolved = self._finish(w, ResultReady(blob)) or resolved
        if resolved:
            self._last_event = now
        rest = [w for w in live if not w.done]
        if not rest:
            return cfg.interval_s
        newly_ended = [w for w in rest if w.key in found.ended and not w.ended_seen]
        for w in newly_ended:
            w.ended_seen = True  # one status round per sentinel, not one per tick
        if newly_ended or now >= self._next_status_at:
            outcome = self._status_round(rest)
            now = self._clock()
            if outcome is None or outcome[0] or outcome[1]:  # failed, changed or waiting on grace
                self._status_interval = cfg.first_status_interval_s
                if outcome is not None and outcome[0]:
                    self._last_event = now
            else:
                cap = max(cfg.max_interval_s, cfg.first_status_interval_s)
                self._status_interval = min(self._status_interval * cfg.backoff, cap)
            self._next_status_at = now + self._status_interval
        quiet_s = max(0.0, now - self._last_event)
        shortest = max(cfg.first_probe_interval_s, 2 * len(rest) / cfg.probe_files_per_s)
        probe_delay = min(max(quiet_s * cfg.probe_fraction, shortest), cfg.max_interval_s)
        return max(0.0, min(probe_delay, self._next_status_at - now))

    def _status_round(self, live: list[Watch]) -> tuple[bool, bool] | None:
        """One status command (plus file checks); ``(changed, waiting_on_grace)``, None if it failed."""
        ids = list(dict.fromkeys(w.query_id for w in live))
        try:
            statuses = self.source.query(ids)
        except StatusQueryError as exc:
            self._on_failure(live, exc, "status")
            return None
        now = self._clock()
        changed = False
        candidates: list[Watch] = []
        for w in live:
            st = statuses.get(w.key)
            if st is not None and st.problem:
                # This job's problem only: no news now; after a few rounds in a row it fails alone.
                changed = self._unreadable(w, st) or changed
                continue
            w.unreadable_rounds = 0
            if st is None:
                if w.missing_since is None:
                    w.missing_since = now
                candidates.append(w)  # its files are checked right away: a result may be there
                continue
            w.missing_since = None
            w.accounting_checked = False
            if st != w.status:
                changed = True
                w.status = st
                _safe(w.on_status, st)
            if st.is_terminal:
                if w.terminal_since is None:
                    w.terminal_since = now
                candidates.append(w)
        if candidates:
            try:
                resolved = self._resolve(candidates, statuses, now)
            except StatusQueryError as exc:
                self._on_failure(live, exc, "fetch")
                return None
            changed = changed or resolved
        self._failures = 0
        return changed, any(not w.done for w in candidates)

    def _unreadable(self, w: Watch, st: JobStatus) -> bool:
        w.unreadable_rounds += 1
        limit = self.config.max_unreadable_rows
        log.warning("status row of job %s unreadable (%d/%d in a row): %s", w.key, w.unreadable_rounds, limit,
                    st.problem)
        if w.unreadable_rounds < limit:
            return False
        err = JobError(f"the scheduler's status output for this job could not be read {limit} times in a "
                       f"row ({st.problem}); the job may still be running: check it with `clustrix jobs "
                       "status`, and please report the row with your scheduler's version",
                       job_id=w.key, state=(w.status.raw or w.status.state.value) if w.status else None)
        return self._finish(w, Failed(err))

    def _resolve(self, candidates: list[Watch], statuses: dict[str, JobStatus], now: float) -> bool:
        paths = [p for w in candidates for p in (w.files.result, w.files.sentinel, w.files.stderr)]
        try:
            blobs = self.fetcher.get_files(paths)
        except TransportError as exc:
            raise StatusQueryError(exc, transient=True) from exc
        needs_accounting: list[Watch] = []
        resolved = False
        for w in candidates:
            decision = decide(w.key, self._evidence(w, statuses.get(w.key), blobs, now),
                              self.config.grace, has_accounting=self.source.has_accounting)
            if isinstance(decision, NeedAccounting):
                needs_accounting.append(w)
            else:
                resolved = self._finish(w, decision) or resolved
        if needs_accounting:
            ids = list(dict.fromkeys(w.query_id for w in needs_accounting))
            try:
                acct = self.source.accounting(ids)
            except StatusQueryError as exc:
                log.warning("accounting query failed (%s); will retry", exc)
                acct = None
            for w in needs_accounting:
                if acct is None:
                    continue
                w.accounting_checked = True
                st = acct.get(w.key)
                if st is not None and st != w.status:
                    w.status = st
                    _safe(w.on_status, st)
                ev = self._evidence(w, st, blobs, now)
                if st is not None and st.is_terminal:
                    # Accounting speaks only after the missing grace, so no more waiting.
                    ev = Evidence(st, None, ev.sentinel, ev.stderr, terminal_for_s=float("inf"),
                                  accounting_checked=True)
                resolved = self._finish(w, decide(w.key, ev, self.config.grace, has_accounting=True)) or resolved
        return resolved

    def _evidence(self, w: Watch, st: JobStatus | None, blobs: dict[str, bytes | None], now: float) -> Evidence:
        return Evidence(
            status=st,
            result=blobs.get(w.files.result),
            sentinel=blobs.get(w.files.sentinel),
            stderr=blobs.get(w.files.stderr),
            terminal_for_s=0.0 if w.terminal_since is None else now - w.terminal_since,
            missing_for_s=0.0 if w.missing_since is None else now - w.missing_since,
            accounting_checked=w.accounting_checked,
        )

    def _finish(self, w: Watch, decision: Decision) -> bool:
        if not isinstance(decision, (ResultReady, Failed)):
            return False
        with self._cond:
            if w.done:  # cancelled or forgotten meanwhile
                return False
            w.done = True
            self._watches.pop(w.key, None)
        _safe(w.on_done, decision)
        return True

    def _on_failure(self, live: list[Watch], exc: StatusQueryError, what: str) -> float:
        self._failures += 1
        limit = self.config.max_transient_failures if exc.transient else self.config.max_hard_failures
        log.warning("%s poll failed (%d/%d in a row): %s", what, self._failures, limit, exc)
        if self._failures >= limit:
            detail = (f"the {what} command failed {self._failures} times in a row; the job may still be "
                      f"running: check it later with `clustrix jobs status`. Last error: {exc}")
            for w in live:
                if not w.done:
                    err = JobError(f"could not learn the job's state: {detail}", job_id=w.key,
                                   state=(w.status.raw or w.status.state.value) if w.status else None,
                                   stderr_tail=getattr(exc.error, "stderr", "") or "")
                    err.__cause__ = exc.error
                    self._finish(w, Failed(err))
            self._failures = 0
        self._interval = self.config.interval_s
        return self._interval

    # -- the thread ----------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    live = any(not w.done for w in self._watches.values())
                    if not live and self._stopping:
                        self._thread = None
                        return
                    if not live:
                        # Idle: wait for new work or stop (bounded, so a lost notify cannot hang).
                        self._cond.wait(timeout=5.0)
                        continue
                    remaining = self._next_tick_at - self._clock()
                    if remaining <= 0:
                        break
                    if self._sleep is not None:
                        break  # injected sleep: waited below, outside the lock
                    self._cond.wait(timeout=remaining)
            if self._sleep is not None:
                self._sleep(max(0.0, self._next_tick_at - self._clock()))
            with self._cond:
                self._rescheduled = False
            try:
                delay = self.tick()
            except Exception as exc:  # a bug must not kill the thread nor hang every future
                log.exception("clustrix poller tick failed")
                with self._cond:
                    live = [w for w in self._watches.values() if not w.done]
                err = CommandError(["<poll>"], -1, stderr=f"{type(exc).__name__}: {exc}")
                delay = self._on_failure(live, StatusQueryError(err, transient=False), "poll")
            with self._cond:
                if self._rescheduled:  # watch()/kick() during the tick: keep their short first interval
                    first = self.config.first_probe_interval_s if self.probe is not None else self.config.interval_s
                    delay = min(delay, first)
                self._next_tick_at = self._clock() + delay


def _safe(fn: Callable[..., object], *args: object) -> None:
    try:
        fn(*args)
    except Exception:  # a broken callback must not stop the poller for every other job
        log.exception("clustrix poller callback failed")
