"""What ``from clustrix import cluster`` costs on a compute node.

A user's module that decorates its functions is imported again inside the job (functions travel
by reference, and shipped packages are imported for real). The job side of clustrix needs only
cloudpickle, so importing the decorator must not pull the client's dependencies: a cluster venv
with clustrix and cloudpickle alone (as ``slurm-docker``'s is) must import such a module.
"""

from __future__ import annotations

import subprocess
import sys

CLIENT_ONLY = ("yaml", "paramiko", "click", "tqdm", "packaging", "docker")


def test_importing_the_decorator_loads_none_of_the_client_only_dependencies():
    probe = (
        "import sys\n"
        "from clustrix import cluster, ClusterExecutor\n"
        "@cluster(cores=2)\n"
        "def f(x):\n"
        "    return x\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({CLIENT_ONLY!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"loaded on import: {done.stdout.strip()}"
