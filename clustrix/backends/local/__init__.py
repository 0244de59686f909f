"""Calls on this machine: a process per call (forked from a warm server where possible), threads,
or in-process for debugging.

- :mod:`~clustrix.backends.local.backend` — :class:`LocalBackend`: a bounded pool, kills that
  really stop a call, the same payload/HMAC/result path as a cluster job;
- :mod:`~clustrix.backends.local.job` — one call's state, logs and handle;
- :mod:`~clustrix.backends.local.fork_client` / :mod:`~clustrix.backends.local.fork_server` — the
  warm fork server, the backend's side and the server's;
- :mod:`~clustrix.backends.local.debug` — :class:`DebugBackend`: in-process and synchronous, so
  breakpoints work.
"""
