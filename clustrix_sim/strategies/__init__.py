"""Hypothesis strategies for scheduler output, each value paired with its ground truth.

For anyone fuzzing a parser of SLURM tool output (clustrix's own, or another library's). The text
is rendered by the simulator's SLURM front end (``clustrix_sim.slurm``), the same code that
answers ``squeue``/``sacct`` on a simulated cluster; the truth comes from the simulator's job
records. Nothing here imports clustrix, so a parser is checked against an independent oracle.

The one package of the simulator that imports Hypothesis. Modules: ``slurm_records`` (job
records, names, reasons), ``slurm_values`` (job ids, durations), ``slurm_outputs`` (sacct, squeue,
sbatch output), ``pbs_records`` and ``pbs_outputs`` (PBS Pro and Torque ``qstat``/``qsub``
output, rendered by ``clustrix_sim.pbs``); SGE strategies will sit beside them. May import:
Hypothesis, :mod:`clustrix_sim.engine.model` and a front end's formatting code
(``clustrix_sim.slurm``, ``clustrix_sim.pbs``).

Every strategy takes keyword-only arguments and yields a small frozen object with ``text`` and
``truth`` (``text, truth = result`` unpacks it):

==========================  ==================  ===============================================
strategy                    yields              ``truth``
==========================  ==================  ===============================================
:func:`sacct_outputs`       :class:`SacctOutput`   ``{printed JobID: SacctRowTruth}``
:func:`squeue_outputs`      :class:`SqueueOutput`  ``{printed %i: SqueueRowTruth}``
:func:`sbatch_submissions`  :class:`SbatchSubmission`  the job id (``str``)
:func:`slurm_job_ids`       :class:`SlurmJobId`    the job ids the text stands for
:func:`slurm_time_strings`  :class:`SlurmTime`     seconds, or None for ``UNLIMITED`` & co.
:func:`job_records`         ``tuple[JobRecord, ...]``  (the records themselves)
:func:`qstat_outputs`       :class:`QstatOutput`   ``{printed job id: QstatTruth}`` (PBS/Torque)
:func:`qsub_submissions`    :class:`QsubSubmission`  the job id (``123.srv``, ``123[].srv``)
:func:`pbs_job_ids`         :class:`PbsJobId`      ``(seq, index, server)``
:func:`pbs_job_records`     ``tuple[JobRecord, ...]``  a PBS server's jobs and arrays
==========================  ==================  ===============================================

Example::

    from hypothesis import given
    from clustrix_sim.strategies import sacct_outputs

    @given(sacct_outputs())
    def test_my_parser(out):
        if out.ambiguous:               # a '|' inside a value: --parsable2 cannot be split
            ...                         # expect a clear error
        else:
            parsed = my_parse(out.text)
            for job_id, row in out.truth.items():
                assert parsed[job_id].state == row.state
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401 - fail here, with the fix, rather than deep in a submodule
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "clustrix_sim.strategies needs Hypothesis; install it with 'pip install hypothesis' "
        "(or 'pip install clustrix[test]')"
    ) from exc

from clustrix_sim.strategies.pbs_outputs import (  # noqa: E402 - after the Hypothesis check
    PbsJobId,
    QstatOutput,
    QstatTruth,
    QsubSubmission,
    pbs_job_ids,
    qstat_outputs,
    qsub_submissions,
)
from clustrix_sim.strategies.pbs_records import (  # noqa: E402
    PBS_ENGINE_STATES,
    pbs_job_records,
    pbs_variable_values,
)
from clustrix_sim.strategies.slurm_outputs import (  # noqa: E402
    SacctOutput,
    SacctRowTruth,
    SbatchSubmission,
    SqueueOutput,
    SqueueRowTruth,
    sacct_outputs,
    sbatch_submissions,
    squeue_outputs,
)
from clustrix_sim.strategies.slurm_records import (  # noqa: E402
    ALL_STATES,
    MAX_JOB_ID,
    PENDING_REASONS,
    T0,
    job_names,
    job_reasons,
    job_records,
)
from clustrix_sim.strategies.slurm_values import (  # noqa: E402
    SlurmJobId,
    SlurmTime,
    slurm_job_ids,
    slurm_time_strings,
)

__all__ = [
    "ALL_STATES",
    "MAX_JOB_ID",
    "PBS_ENGINE_STATES",
    "PENDING_REASONS",
    "PbsJobId",
    "QstatOutput",
    "QstatTruth",
    "QsubSubmission",
    "SacctOutput",
    "SacctRowTruth",
    "SbatchSubmission",
    "SlurmJobId",
    "SlurmTime",
    "SqueueOutput",
    "SqueueRowTruth",
    "T0",
    "job_names",
    "job_reasons",
    "job_records",
    "pbs_job_ids",
    "pbs_job_records",
    "pbs_variable_values",
    "qstat_outputs",
    "qsub_submissions",
    "sacct_outputs",
    "sbatch_submissions",
    "slurm_job_ids",
    "slurm_time_strings",
    "squeue_outputs",
]
