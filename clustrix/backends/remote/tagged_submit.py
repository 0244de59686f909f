"""Submitting once: retry a failed submit command without ever leaving a twin job behind.

A submit command can fail *ambiguously*: the SSH connection drops after the command was sent,
the command times out, or ``sbatch`` reports "Socket timed out on send/recv operation" after
its request reached the controller. In each case the job may exist. Blindly resubmitting (as
Parsl, psij and clustrix 0.2 did) then starts a twin that nobody tracks or cancels.

When the scheduler module can find a submission again
(:class:`~clustrix.schedulers.contract.TaggedSubmit`), every submission carries a tag (its job
directory's name), and after an ambiguous failure the launcher asks the scheduler — one status
query — whether a job with that tag exists before submitting again. Found: that job id is
adopted. Not found: submitting again is safe. The query itself failing: nothing is submitted
until one answers (within the attempt budget); if none does, the error says the job may exist
and names its tag. A failure that is not transient (a rejected job) is raised at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from clustrix.errors import CommandError, SchedulerOutputError, SubmissionError, TransportError
from clustrix.polling.scheduler_source import is_transient
from clustrix.schedulers.contract import TaggedSubmit
from clustrix.states import JobId
from clustrix.transports.base import Transport

log = logging.getLogger(__name__)

SUBMIT_ATTEMPTS = 4
"""Most submit commands run for one submission."""
SUBMIT_BACKOFF_S = (1.0, 3.0, 9.0)
"""Waits before the 2nd, 3rd and later steps (a lookup or a resubmission)."""


def submit_tagged(transport: Transport, tagged: TaggedSubmit, script_path: str, tag: str,
                  parse_submit: Callable[[str], JobId], *, timeout_s: float,
                  sleep: Callable[[float], None], host: str | None) -> JobId:
    """Submit ``script_path`` tagged ``tag``, exactly once; return the job id.

    Raises :class:`SubmissionError` for a rejected job, or the last error once the attempts are
    spent (its message then says whether the job may exist, and how to find it).
    """
    argv = tagged.submit_argv(script_path, tag)
    lookup = tagged.lookup_argv(tag)
    submitted = 0
    must_look = False  # an ambiguous failure happened and no lookup has answered since
    last: Exception | None = None
    for step in range(2 * SUBMIT_ATTEMPTS):
        if step:
            sleep(SUBMIT_BACKOFF_S[min(step - 1, len(SUBMIT_BACKOFF_S) - 1)])
        if must_look:
            try:
                found = _look_up(transport, lookup, tagged, tag, timeout_s, host)
            except (TransportError, CommandError, SchedulerOutputError) as exc:
                log.warning("asking the scheduler for tag %s failed (%s); not resubmitting blind", tag, exc)
                last = exc
                continue
            if found is not None:
                log.warning("%s failed ambiguously but job %s (tag %s) exists: adopted, not resubmitted",
                            argv[0], found, tag)
                return found
            must_look = False
            if submitted >= SUBMIT_ATTEMPTS:
                break
        submitted += 1
        try:
            done = transport.run(argv, timeout_s=timeout_s)
        except TransportError as exc:  # dropped after sending, or timed out: it may have run
            log.warning("%s failed to complete (attempt %d): %s", argv[0], submitted, exc)
            must_look, last = True, exc
            continue
        if done.returncode == 0:
            return parse_submit(done.stdout)
        error = SubmissionError(argv, done.returncode, done.stdout, done.stderr, host=host)
        if not is_transient(done.stderr):
            raise error
        log.warning("%s failed transiently (attempt %d): %s", argv[0], submitted, done.stderr.strip())
        must_look, last = True, error
    assert last is not None
    if must_look:
        raise _maybe_submitted(last, tag, lookup, host) from last
    raise last


def _look_up(transport: Transport, lookup: list[str], tagged: TaggedSubmit, tag: str, timeout_s: float,
             host: str | None) -> JobId | None:
    done = transport.run(lookup, timeout_s=timeout_s, retry_safe=True)  # a query: safe to re-run
    if done.returncode != 0:
        raise CommandError(lookup, done.returncode, done.stdout, done.stderr, host=host)
    return tagged.parse_lookup(done.stdout, tag)


def _maybe_submitted(last: Exception, tag: str, lookup: list[str], host: str | None) -> SubmissionError:
    argv = getattr(last, "argv", None) or ["<submit>"]
    return SubmissionError(
        argv, getattr(last, "exit_code", -1), getattr(last, "stdout", ""),
        getattr(last, "stderr", "") or str(last), host=host,
        hint=f"the job may have been submitted anyway and could not be confirmed; look for tag {tag} "
             f"with: {' '.join(lookup)}",
    )
