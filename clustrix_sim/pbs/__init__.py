"""PBS front ends of the simulator: PBS Professional / OpenPBS here, Torque in ``torque/``.

Owns what a PBS user sees: ``qsub`` (argv and ``#PBS`` directives), ``qstat`` (the default table,
``-f`` text with its line wrapping, ``-F json``/``-F dsv``, ``-x`` history), ``qdel``, ``qhold``,
``qrls``, ``qsig``, ``pbsnodes`` and Torque's ``tracejob``, with the real tools' bytes, messages
and exit codes (``pbs_errno & 0xFF``), and a starting job's ``PBS_*`` environment (``jobenv``).
The two flavours differ in data, not in code: :mod:`clustrix_sim.pbs.dialect` holds every
difference (array option and variable, state letters, ``Exit_status`` spelling, column widths,
wrap width, messages), and ``torque/`` is PBS's commands run with the Torque dialect.

Formats were read from OpenPBS v23.06.06 ``src/cmds/qstat.c`` (``prt_attr``, the table formats),
``src/lib/Libcmds/pbs_json.c`` (the JSON writer before cJSON), ``src/include/job.h``
(``JOB_EXEC_*``) and Torque 6 ``src/cmds/qstat.c`` / ``src/include/pbs_job.h``.

May import: the standard library, :mod:`clustrix_sim.engine.model` and
:mod:`clustrix_sim.controller.protocol` (a front end is a client of the controller). Every
command is a fresh process (or a fork of the tool server), so modules import lazily.
"""
