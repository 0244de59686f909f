"""SLURM front end of the simulator: sbatch, squeue, sacct, scancel, scontrol, sinfo, srun.

Owns what a SLURM user sees: argv parsing like the real tools (getopt_long, ``#SBATCH``
directives, environment variables), the exact output formats, exit codes and error messages, and
a starting job's ``SLURM_*`` environment (``jobenv``). ``tools`` is the command table the
controller reaches by name (the contract is :mod:`clustrix_sim.frontends`').

May import: the standard library, :mod:`clustrix_sim.engine.model` (the records it formats) and
:mod:`clustrix_sim.controller.protocol` (the controller it asks). Every command is a fresh process
(or a fork of the tool server), so modules import what they need inside the function that needs it.
"""
