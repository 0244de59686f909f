"""The simulated cluster's engine: its model, scheduling, persistence and job processes.

Owns everything the controller knows about the cluster: the records (``model``: jobs, nodes,
partitions, the cluster's configuration, and ``OpError``, the refusal every op may raise), the
scheduler (``scheduling``: validation, FIFO with backfill, dependencies, pure functions), the
SQLite mirror (``store``), the job processes (``processes``: spawn, /proc, kill), what happens
to a running job (``job_lifecycle``), the job-control and fault-injection ops (``job_control``,
``fault_injection``) and the :class:`~clustrix_sim.engine.service.Engine` that serves the
protocol's ops and runs the main loop (``service``).

May import: the standard library, and a scheduler front end's ``jobenv`` only by name through
:mod:`clustrix_sim.frontends`. Nothing here imports the controller, the SSH server, a front end
directly, Hypothesis, or clustrix. This ``__init__`` stays empty: the command-line tools import
``clustrix_sim.engine.model`` on every call and must not pay for the rest.
"""
