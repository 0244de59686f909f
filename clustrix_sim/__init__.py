"""clustrix_sim: a simulated HPC cluster that really schedules and runs jobs.

It answers SLURM's (later PBS's and SGE's) commands with the real tools' exact output, on PATH,
over SSH on loopback, or in Docker. It never imports clustrix's scheduler modules: it is the
independent oracle that checks them.
"""

from __future__ import annotations
