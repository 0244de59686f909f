"""Torque (PBS classic, 4.x/6.x): PBS's commands run with the Torque dialect.

The code lives one level up (:mod:`clustrix_sim.pbs`); this package is the front end the
controller finds by the name ``torque`` (``tools``, ``jobenv``), with Torque's server name,
default queue ``batch``, ``-t`` arrays and ``PBS_ARRAYID``, ``C`` for completed jobs kept
``keep_completed`` seconds (the cluster's ``min_job_age_s``), no ``-F json`` and ``-x`` as XML.
"""
