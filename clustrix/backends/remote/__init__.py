"""Calls as jobs on a batch scheduler (SLURM, PBS Pro, Torque, SGE) or a plain SSH host.

The path of one submission, in call order:

- :mod:`~clustrix.backends.remote.staging` — a fresh 0700 job directory and the HMAC key;
- :mod:`~clustrix.backends.remote.launchers` — render, submit and cancel through a scheduler
  module (:class:`SchedulerLauncher`) or :mod:`~clustrix.backends.remote.plain_ssh`;
- :mod:`~clustrix.backends.remote.submission` — one record per task, with its phase;
- :mod:`~clustrix.backends.remote.backend` — :class:`RemoteBackend`, which ties these to one
  poller per backend and resolves the futures;
- :mod:`~clustrix.backends.remote.ledger_recorder` — every submission in the job ledger.
"""
