"""What research code calls: ``@cluster``, ``ClusterExecutor``, ``attach``, and the map progress bar.

- :mod:`~clustrix.api.decorator` — ``@cluster`` and :class:`ClusterFunction` (``f(x)``, ``f.map``,
  ``f.submit``), one shared executor per profile;
- :mod:`~clustrix.api.executor` — :class:`ClusterExecutor`, a ``concurrent.futures.Executor``
  that turns calls into a :class:`~clustrix.spec.JobSpec` and hands them to a backend;
- :mod:`~clustrix.api.job_entry` — what a job actually calls, and the "inside a job" flag (kept
  tiny: every job imports it);
- :mod:`~clustrix.api.attach` — reattach to a job recorded in the ledger;
- :mod:`~clustrix.api.progress` — the tqdm bar of a map;
- :mod:`~clustrix.api.timeline` — ``clustrix.timeline(futures)``: where a map's time went.

The top of the library: may import :mod:`clustrix.backends`, :mod:`clustrix.config`,
:mod:`clustrix.payload` and the shared vocabulary (:mod:`clustrix.spec`, :mod:`clustrix.states`,
:mod:`clustrix.errors`, :mod:`clustrix.futures`). Nothing below imports it; the executor knows
a ``@cluster`` wrapper by a marker attribute, not by importing the decorator.
"""
