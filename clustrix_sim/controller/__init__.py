"""The controller process and the wire its command-line tools speak.

Owns the process that hosts an :class:`~clustrix_sim.engine.service.Engine` (``server``: Unix
socket, ready line, state-dir lock, the SSH front door), the JSON-lines protocol between tools and
controller (``protocol``: both halves; every tool imports it), the tools' server and its workers
(``toolserver``, ``toolworker``), the executables written into the cluster's ``bin/``
(``tool_scripts``) and the compiled client that stands in for them when a C compiler is at hand (``toolclient``,
``toolclient.c``).
``python -m clustrix_sim.controller`` runs the process (``__main__``).

May import: :mod:`clustrix_sim.engine`, :mod:`clustrix_sim.ssh`, :mod:`clustrix_sim.frontends`;
a front end's tools only by name. ``protocol`` and ``toolserver``'s client half import only the
standard library (they run on every tool call), so this ``__init__`` stays empty.
"""
