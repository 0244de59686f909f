"""How live jobs are watched until each resolves to a result or a specific error.

- :mod:`~clustrix.polling.watch` — :class:`Watch` (one job or task), and the protocols of what
  the poller reads from (a status source, a file fetcher);
- :mod:`~clustrix.polling.poller` — one thread per backend: ONE batched status command per
  round for all live jobs, backoff, deadlines;
- :mod:`~clustrix.polling.probe` — the cheap tick between status rounds: look into job dirs;
- :mod:`~clustrix.polling.resolution` — pure decisions: from status, sentinel and result files to
  "wait", "result ready" or "failed with this error" (grace periods, lost jobs);
- :mod:`~clustrix.polling.scheduler_source` — the status source over a scheduler module;
- :mod:`~clustrix.polling.tuning` — intervals, backoff and grace.

May import :mod:`clustrix.schedulers` (the contract), :mod:`clustrix.transports` (the protocol)
and the shared vocabulary; never :mod:`clustrix.backends` or above.
"""
