"""Hypothesis strategies for scheduler output, each value paired with its ground truth.

For anyone fuzzing a parser of SLURM tool output (clustrix's own, or another library's). The text
is rendered by the simulator's SLURM front end (``clustrix_sim.slurm``), the same code that
answers ``squeue``/``sacct`` on a simulated cluster; the truth comes from the simulator's job
records. Nothing here imports clustrix, so a parser is checked against an independent oracle.

The one package of the simulator that imports Hypothesis. Modules: ``slurm_records`` (job
records, names, reasons), ``slurm_values`` (job ids, durations), ``slurm_outputs`` (sacct, squeue,
sbatch output), ``sge_outputs`` (qstat table and -xml, qacct -j, qsub; rendered by
``clustrix_sim.sge``), ``pbs_records`` and ``pbs_outputs`` (PBS Pro and Torque ``qstat``/``qsub``
output, rendered by ``clustrix_sim.pbs``). Grid Engine's and PBS's ``qstat``/``qsub`` strategies
are exported with their scheduler's prefix (``sge_qstat_outputs``, ``pbs_qstat_outputs``...).
May import: Hypothesis, :mod:`clustrix_sim.engine.model` and a front end's formatting code
(``clustrix_sim.slurm``, ``clustrix_sim.sge``, ``clustrix_sim.pbs``).

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
:func:`sge_qstat_outputs`   :class:`SgeQstatOutput` ``{"123" or "123.4": state letters}``
:func:`qacct_outputs`       :class:`QacctOutput`   ``{"123" or "123.4": QacctTruth}``
:func:`sge_qsub_submissions` :class:`SgeQsubSubmission`  the job number (``str``)
:func:`sge_job_records`     ``tuple[JobRecord, ...]``  Grid Engine jobs (arrays: 1-based tasks)
:func:`pbs_qstat_outputs`   :class:`PbsQstatOutput` ``{printed job id: QstatTruth}`` (PBS/Torque)
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
    pbs_job_ids,
)
from clustrix_sim.strategies.pbs_outputs import QstatOutput as PbsQstatOutput  # noqa: E402
from clustrix_sim.strategies.pbs_outputs import QstatTruth as PbsQstatTruth  # noqa: E402
from clustrix_sim.strategies.pbs_outputs import QsubSubmission as PbsQsubSubmission  # noqa: E402
from clustrix_sim.strategies.pbs_outputs import qstat_outputs as pbs_qstat_outputs  # noqa: E402
from clustrix_sim.strategies.pbs_outputs import qsub_submissions as pbs_qsub_submissions  # noqa: E402
from clustrix_sim.strategies.pbs_records import (  # noqa: E402
    PBS_ENGINE_STATES,
    pbs_job_records,
    pbs_variable_values,
)
from clustrix_sim.strategies.sge_outputs import (  # noqa: E402
    QacctOutput,
    QacctTruth,
    qacct_outputs,
    sge_job_names,
    sge_job_records,
)
from clustrix_sim.strategies.sge_outputs import QstatOutput as SgeQstatOutput  # noqa: E402
from clustrix_sim.strategies.sge_outputs import QsubSubmission as SgeQsubSubmission  # noqa: E402
from clustrix_sim.strategies.sge_outputs import qstat_outputs as sge_qstat_outputs  # noqa: E402
from clustrix_sim.strategies.sge_outputs import qsub_submissions as sge_qsub_submissions  # noqa: E402
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
    "PbsQstatOutput",
    "PbsQstatTruth",
    "PbsQsubSubmission",
    "QacctOutput",
    "QacctTruth",
    "SacctOutput",
    "SacctRowTruth",
    "SbatchSubmission",
    "SgeQstatOutput",
    "SgeQsubSubmission",
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
    "pbs_qstat_outputs",
    "pbs_qsub_submissions",
    "pbs_variable_values",
    "qacct_outputs",
    "sacct_outputs",
    "sbatch_submissions",
    "sge_job_names",
    "sge_job_records",
    "sge_qstat_outputs",
    "sge_qsub_submissions",
    "slurm_job_ids",
    "slurm_time_strings",
    "squeue_outputs",
]
