"""Everything PBS Professional and Torque do differently, as data.

A command module takes a :class:`Dialect` and never asks which flavour it runs as. Sources:
OpenPBS v23.06.06 (``qstat.c``, ``job.h``, ``pbs_error.h``) and Torque 6 (``qstat.c``,
``pbs_job.h``, ``pbs_error_db.h``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PBSPRO", "TORQUE", "Dialect"]


@dataclass(frozen=True)
class Dialect:
    """One PBS flavour. ``wrap`` is ``qstat -f``'s line limit (``CHAR_LINE_LIMIT``/``linesize``)."""

    name: str
    version: str
    array_option: str  # qsub's array flag: -J (PBS Pro) or -t (Torque)
    array_var: str  # the task index variable a subjob sees
    exit_key: str  # Exit_status / exit_status
    finished: str  # state letter of a finished job (F, Torque C)
    finished_subjob: str  # state letter of a finished subjob (X, Torque C)
    wrap: int
    unknown_job: str  # "Unknown Job Id" / "Unknown Job Id Error"
    has_history: bool  # qstat -x is history (PBS Pro) rather than XML (Torque)
    has_json: bool  # qstat -F json|dsv
    walltime_exit: int  # JOB_EXEC_KILL_WALLTIME / JOB_EXEC_OVERLIMIT_WT
    mem_exit: int  # JOB_EXEC_KILL_MEM / JOB_EXEC_OVERLIMIT_MEM
    node_fail_exit: int
    table_header: str
    table_row: str  # printf format of one default-table row (%-widths)
    id_width: int  # job id column: longer ids are cut
    name_width: int
    user_width: int
    queue_width: int
    trunc_marker: str  # PBS Pro marks cut values with '*'; Torque does not
    subjob_out_sep: str  # default output name of a subjob: name.o123.4 / name.o123-4


PBSPRO = Dialect(
    name="pbs",
    version="23.06.06",
    array_option="J",
    array_var="PBS_ARRAY_INDEX",
    exit_key="Exit_status",
    finished="F",
    finished_subjob="X",
    wrap=78,
    unknown_job="Unknown Job Id",
    has_history=True,
    has_json=True,
    walltime_exit=-29,
    mem_exit=-27,
    node_fail_exit=-20,
    table_header=("Job id            Name             User              Time Use S Queue\n"
                  "----------------  ---------------- ----------------  -------- - -----\n"),
    table_row="{id:<17} {name:<16} {user:<16}  {time:>8} {state:>1} {queue:<16}\n",
    id_width=17,
    name_width=16,
    user_width=16,
    queue_width=16,
    trunc_marker="*",
    subjob_out_sep=".",
)

TORQUE = Dialect(
    name="torque",
    version="6.1.3",
    array_option="t",
    array_var="PBS_ARRAYID",
    exit_key="exit_status",
    finished="C",
    finished_subjob="C",
    wrap=77,
    unknown_job="Unknown Job Id Error",
    has_history=False,
    has_json=False,
    walltime_exit=-11,
    mem_exit=-10,
    node_fail_exit=-3,
    table_header=("Job ID                    Name             User            Time Use S Queue\n"
                  "------------------------- ---------------- --------------- -------- - -----\n"),
    table_row="{id:<30} {name:<16} {user:<15} {time:>8} {state:>1} {queue:<15}\n",
    id_width=30,
    name_width=16,
    user_width=15,
    queue_width=15,
    trunc_marker="",
    subjob_out_sep="-",
)
