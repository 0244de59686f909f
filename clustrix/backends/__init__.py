"""Where calls run: a backend turns calls into :class:`~clustrix.futures.JobFuture` objects.

- :mod:`~clustrix.backends.base` — the :class:`Backend` protocol every backend satisfies;
- :mod:`~clustrix.backends.factory` — ``create_backend(profile)`` picks the implementation;
- :mod:`~clustrix.backends.local` — processes (or threads) on this machine, and the in-process
  debug backend;
- :mod:`~clustrix.backends.remote` — batch schedulers and plain SSH hosts, through a transport;
- :mod:`~clustrix.backends.array_plan` — how array items are packed into tasks;
- :mod:`~clustrix.backends.ledger` — the SQLite job ledger (``clustrix jobs``, reattaching).

May import :mod:`clustrix.polling`, :mod:`clustrix.transports`, :mod:`clustrix.schedulers`,
:mod:`clustrix.payload`, :mod:`clustrix.config` and the shared vocabulary; never
:mod:`clustrix.api` or :mod:`clustrix.cli`, which are built on it. Importing this package is
cheap: the factory imports a backend only when one is asked for.
"""
