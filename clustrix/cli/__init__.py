"""The ``clustrix`` command: ``version``, ``config show|validate``, ``jobs ...`` and ``demo``.

- :mod:`~clustrix.cli.main` — the click group (subcommands load on first use);
- :mod:`~clustrix.cli.jobs` — ``clustrix jobs list|status|result|logs|cancel`` over the ledger;
- :mod:`~clustrix.cli.demo` — ``clustrix demo``: the embedded simulator, end to end.

The top of the tree: may import anything in clustrix; the only place in clustrix that imports
:mod:`clustrix_sim` (the demo).
"""
