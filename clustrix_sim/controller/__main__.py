"""``python -m clustrix_sim.controller``: run one cluster's controller (what SimCluster starts)."""

from __future__ import annotations

if __name__ == "__main__":
    from clustrix_sim.controller.server import main

    raise SystemExit(main())
