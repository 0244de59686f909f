"""Grid Engine front end of the simulator: qsub, qstat, qdel, qhold, qrls, qacct, qhost.

Owns what a Grid Engine (Son of Grid Engine 8.1.9) user sees: argv and ``#$`` directives parsed
like the real ``qsub``, the exact output of each command as captured from the real one
(``tests/data/sge_real/``), its exit codes and error messages, and a starting job's environment
(``jobenv``: ``JOB_ID``, ``SGE_TASK_ID``, ``NSLOTS``, ``TMPDIR``...). ``tools`` is the command
table the controller reaches by name (the contract is :mod:`clustrix_sim.frontends`').

The engine's vocabulary is SLURM's; here an array is one Grid Engine job whose tasks are the
engine's task records (``array_job_id`` is the job number, ``array_task_id`` the 1-based task).
``site`` holds what a real cell configures (queue, parallel environments, complexes).

May import: the standard library, :mod:`clustrix_sim.engine.model` (the records it formats) and
:mod:`clustrix_sim.controller.protocol` (the controller it asks). Every command is a fresh process
(or a fork of the tool server), so modules import what they need inside the function that needs it.
"""
