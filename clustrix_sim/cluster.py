"""``SimCluster``: a simulated HPC cluster for tests and demos, as one Python object.

    with SimCluster(nodes=2, cores_per_node=4, time_scale=60) as sim:
        sim.run(["sbatch", "--wrap", "echo hi"])        # local mode: the tools on PATH
        profile = sim.profile()                         # clustrix over SSH to 127.0.0.1
        sim.faults.fail_submissions(n=2)

``start()`` writes the cluster's config into its state dir and starts the controller as a child
process (``python -m clustrix_sim.controller``), waiting for its ready line (no fixed sleeps; it
takes well under a second). The controller hosts the SSH server too (``ssh=True``). ``stop()``
asks the controller to shut down (it kills every job process), kills it if it does not, kills
any job process a crashed controller left behind, and removes the root directory unless
``keep=True``. Jobs running at stop are recorded by the restart rule (requeued, or NODE_FAIL for
``--no-requeue`` jobs) which matters only when the state dir is kept and reused.
"""

from __future__ import annotations

import getpass
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clustrix_sim import frontends
from clustrix_sim.controller import protocol
from clustrix_sim.engine.model import (
    ACTIVE_STATES,
    ClusterConfig,
    JobRecord,
    PartitionRecord,
    make_nodes,
    parse_mem_mb,
)
from clustrix_sim.faults import Faults

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class SimClusterError(RuntimeError):
    """The simulated cluster could not start, or was used while not running."""


@dataclass(frozen=True)
class SSHInfo:
    """How to reach the simulated login node over SSH."""

    host: str
    port: int
    user: str
    key_file: str
    known_hosts: str
    home: str

    def command(self) -> list[str]:
        """An OpenSSH command line that logs in (for humans and docs)."""
        return ["ssh", "-p", str(self.port), "-i", self.key_file, "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "IdentitiesOnly=yes", f"{self.user}@{self.host}"]


def default_partitions(node_names: list[str], scheduler: str = "slurm") -> list[PartitionRecord]:
    """One default partition over every node, named as the front end's ``DEFAULT_QUEUE`` (SLURM:
    ``normal``; PBS: ``workq``; Grid Engine's ``all.q`` also accepts jobs no node can hold, as the
    front end's ``QUEUE_ACCEPTS_UNSATISFIABLE`` says)."""
    _server, queue = frontends.site_defaults(scheduler)
    accepts = bool(getattr(frontends.tool_table(scheduler), "QUEUE_ACCEPTS_UNSATISFIABLE", False))
    return [PartitionRecord(name=queue, nodes=list(node_names), default=True, accept_unsatisfiable=accepts)]


class SimCluster:
    """A simulated cluster (see the module docstring)."""

    def __init__(self, scheduler: str = "slurm", nodes: int = 2, cores_per_node: int = 4,
                 mem_per_node: int | str = "16G", gpus_per_node: int = 0,
                 partitions: Sequence[PartitionRecord | Mapping[str, Any]] | None = None,
                 time_scale: float = 1.0, ssh: bool = True, root: str | None = None,
                 user: str | None = None, cluster_name: str = "simcluster", min_job_age_s: float = 300.0,
                 keep: bool = False, max_array_size: int = 1001, kill_wait_s: float = 30.0,
                 first_job_id: int = 1, default_account: str = "", prolog_flags: str = "",
                 mem_default: str = "share", accounting: bool = True, slurm_version: str = "22.05",
                 accounting_lag_s: float = 0.0, site: Any = None) -> None:
        # SLURM: ``site`` (a clustrix_sim.slurm.site.SlurmSite) gives every slurm.conf knob at once
        # and wins over the keyword arguments it covers; ``slurm_version`` is the release the
        # tools answer as; ``accounting_lag_s`` starts the cluster with the lag_accounting fault.
        if site is not None:
            if scheduler != "slurm":
                raise ValueError(f"site= describes a Slurm site; scheduler is {scheduler!r}")
            self.__init__(scheduler, gpus_per_node=gpus_per_node, time_scale=time_scale, ssh=ssh,  # type: ignore[misc]
                          root=root, user=user, keep=keep, **site.sim_kwargs())
            return
        if scheduler not in frontends.installed():
            raise ValueError(f"scheduler {scheduler!r} is not simulated yet; use one of "
                             f"{', '.join(map(repr, frontends.installed()))}")
        if not isinstance(time_scale, (int, float)) or isinstance(time_scale, bool) or time_scale <= 0:
            raise ValueError(f"time_scale must be a positive number (sim seconds per real second), got {time_scale!r}")
        node_records = make_nodes(nodes, cores_per_node, parse_mem_mb(mem_per_node), gpus_per_node)
        names = [n.name for n in node_records]
        server, queue = frontends.site_defaults(scheduler)
        parts = [p if isinstance(p, PartitionRecord) else PartitionRecord.from_dict(dict(p))
                 for p in partitions] if partitions is not None else default_partitions(names, scheduler)
        for part in parts:
            unknown = [n for n in part.nodes if n not in names]
            if unknown:
                raise ValueError(f"partition {part.name!r} names unknown nodes {unknown}; nodes are {names}")
            for name in part.nodes:
                next(n for n in node_records if n.name == name).partitions.append(part.name)
        self.user = user or getpass.getuser()
        self.config = ClusterConfig(flavor=scheduler, cluster_name=cluster_name, time_scale=float(time_scale),
                                    min_job_age_s=float(min_job_age_s), kill_wait_s=float(kill_wait_s),
                                    max_array_size=max_array_size, first_job_id=first_job_id, user=self.user,
                                    default_account=default_account, prolog_flags=prolog_flags,
                                    mem_default=mem_default, server=server, accounting=accounting,
                                    nodes=node_records, partitions=parts)
        self.slurm_version = slurm_version
        if scheduler == "slurm":
            from clustrix_sim.slurm.versions import normalize_version
            self.slurm_version = normalize_version(slurm_version)
        if accounting_lag_s < 0:
            raise ValueError(f"accounting_lag_s must be >= 0 seconds, got {accounting_lag_s!r}")
        self.accounting_lag_s = float(accounting_lag_s)
        self.scheduler = scheduler
        self.ssh_enabled = ssh
        self._own_root = root is None
        self.root = os.path.abspath(root) if root else None
        self.keep = keep
        self._proc: subprocess.Popen | None = None
        self._ready: dict[str, Any] | None = None
        self.start_seconds: float | None = None

    # -- paths ---------------------------------------------------------------------------------
    @property
    def state_dir(self) -> str:
        self._need_root()
        return os.path.join(self.root, "state")

    @property
    def home(self) -> str:
        """The simulated login node's home directory (SSH sessions start here)."""
        self._need_root()
        return os.path.join(self.root, "home")

    @property
    def socket_path(self) -> str:
        return os.path.join(self.state_dir, "ctl.sock")

    @property
    def bin_dir(self) -> str:
        return os.path.join(self.state_dir, "bin")

    def _need_root(self) -> None:
        if self.root is None:
            raise SimClusterError("the cluster has no directory yet; call start() first")

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> SimCluster:
        """Start the controller (and SSH server); returns once both accept connections."""
        if self._proc is not None:
            raise SimClusterError("this SimCluster is already running")
        began = time.perf_counter()
        if self.root is None:
            self.root = _private_root()
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        os.makedirs(self.home, mode=0o700, exist_ok=True)
        config_path = os.path.join(self.state_dir, "config.json")
        with open(config_path, "w") as fh:
            json.dump(self.config.to_dict(), fh)
        if self.scheduler == "slurm":
            from clustrix_sim.slurm.site import write_frontend_settings
            write_frontend_settings(self.state_dir, self.slurm_version)
        argv = [sys.executable, "-m", "clustrix_sim.controller", "--state-dir", self.state_dir,
                "--config", config_path, "--home", self.home, "--exit-with-parent"]
        argv += ["--ssh"] if self.ssh_enabled else []
        env = dict(os.environ)
        env.pop(protocol.SOCKET_ENV, None)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_package_root(), env.get("PYTHONPATH")]))
        with open(os.path.join(self.state_dir, "controller.stderr"), "ab") as err:
            # cwd: ``python -m`` puts the working directory first on sys.path, where a checkout of
            # another clustrix_sim (a git worktree) would shadow the one this SimCluster comes from.
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                          env=env, start_new_session=True, cwd=self.state_dir)
        try:
            self._ready = self._wait_ready(START_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        if self.accounting_lag_s:
            self.faults.lag_accounting(self.accounting_lag_s)
        self.start_seconds = time.perf_counter() - began
        return self

    def _wait_ready(self, timeout_s: float) -> dict[str, Any]:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        buf = b""
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SimClusterError(f"the controller did not become ready within {timeout_s:.0f} s; "
                                      f"see {self.state_dir}/controller.stderr")
            readable, _, _ = select.select([proc.stdout], [], [], remaining)
            if readable:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    proc.wait(timeout=5)
                    raise SimClusterError(f"the controller exited with code {proc.returncode} before it was "
                                          f"ready: {self._stderr_tail()}")
                buf += chunk
        proc.stdout.close()
        return json.loads(buf.split(b"\n", 1)[0])

    def _stderr_tail(self) -> str:
        try:
            with open(os.path.join(self.state_dir, "controller.stderr"), "rb") as fh:
                return fh.read()[-2000:].decode("utf-8", "replace").strip()
        except OSError:
            return "(no stderr)"

    def stop(self) -> None:
        """Stop the controller and every job process; remove the root unless ``keep``."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                try:
                    protocol.call("shutdown", "clustrix-sim", path=self.socket_path, timeout_s=5.0)
                except (protocol.ControllerUnavailable, protocol.RequestRefused, ValueError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=STOP_TIMEOUT_S)
            if proc.stdout is not None and not proc.stdout.closed:
                proc.stdout.close()
        if self.root is not None and os.path.isdir(self.state_dir):
            _kill_leftovers(self.state_dir)
        self._ready = None
        if self.root is not None and self._own_root and not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def kill_controller(self) -> int:
        """SIGKILL the controller (a crash, for tests); job processes are left running. Returns its pid."""
        proc = self._require()
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)
        if proc.stdout is not None and not proc.stdout.closed:
            proc.stdout.close()
        self._proc = None
        return proc.pid

    def restart(self) -> SimCluster:
        """Start a new controller on the same state dir (after kill_controller() or stop() with keep)."""
        if self._proc is not None:
            raise SimClusterError("the controller is still running; kill_controller() or stop() it first")
        self.start()
        return self

    @property
    def ready_info(self) -> dict[str, Any]:
        """What the controller reported when it became ready (socket, pids, bin dir, ssh)."""
        return dict(self._ready or {})

    @property
    def controller_pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _require(self) -> subprocess.Popen:
        if self._proc is None:
            raise SimClusterError("the simulated cluster is not running; call start() or use `with SimCluster()`")
        return self._proc

    def __enter__(self) -> SimCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- using it ------------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """Environment variables for local mode: PATH with the tools first, CLUSTRIX_SIM_SOCKET."""
        self._require()
        return {"PATH": self.bin_dir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
                protocol.SOCKET_ENV: self.socket_path}

    def run(self, argv: Sequence[str], env: Mapping[str, str] | None = None, *, cwd: str | None = None,
            input: str | None = None, timeout_s: float = 60.0) -> subprocess.CompletedProcess:
        """Run a tool (``["sbatch", "job.sh"]``) in local mode; text output, never raises on rc."""
        full_env = dict(os.environ)
        full_env.update(self.env())
        if env:
            full_env.update(env)
        return subprocess.run(list(argv), env=full_env, cwd=cwd, input=input, capture_output=True, text=True,
                              timeout=timeout_s, check=False)

    def call(self, op: str, params: dict[str, Any] | None = None, *, tool: str = "clustrix-sim") -> Any:
        """Send one protocol request to the controller (see ``clustrix_sim.controller.protocol``)."""
        self._require()
        return protocol.call(op, tool, params, path=self.socket_path)

    def jobs(self, job_ids: Sequence[int] | None = None, *, full: bool = True) -> list[JobRecord]:
        """Every job ever submitted (accounting), oldest first; ``full`` includes each request's
        script, environment and array indices."""
        params = {"job_ids": list(job_ids) if job_ids is not None else None, "include_script": full,
                  "include_env": full, "include_array_indices": full, "fresh": True}  # no accounting lag
        try:
            result = self.call("accounting", params)
        except protocol.RequestRefused as exc:
            if exc.kind != "accounting_disabled":
                raise
            result = self.call("jobs", params)  # accounting switched off by a fault: use the queue
        return [JobRecord.from_dict(d) for d in result["jobs"]]

    def job(self, job_id: int) -> JobRecord:
        """One job's record (``job_id`` of a job or of one array task)."""
        found = [r for r in self.jobs([job_id]) if r.job_id == job_id]
        if not found:
            raise KeyError(f"no job {job_id} on this simulated cluster")
        return found[0]

    def stats(self) -> dict[str, Any]:
        return self.call("stats")

    def wait_idle(self, timeout_s: float = 60.0) -> None:
        """Wait until no job is pending or running (held/blocked pending jobs count as busy)."""
        self.wait_for(lambda: not any(s in ACTIVE_STATES for s in self.stats()["states"]), timeout_s,
                      "the cluster to become idle")

    def wait_for(self, predicate, timeout_s: float, what: str = "a condition", interval_s: float = 0.02) -> None:
        """Poll ``predicate()`` until it is true; TimeoutError naming ``what`` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
            time.sleep(interval_s)

    def wait_job(self, job_id: int, timeout_s: float = 60.0, states: Sequence[str] | None = None) -> JobRecord:
        """Wait until job ``job_id`` reaches one of ``states`` (default: any final state)."""
        from clustrix_sim.engine.model import FINAL_STATES
        wanted = set(states) if states else set(FINAL_STATES)
        holder: list[JobRecord] = []

        def done() -> bool:
            rec = self.job(job_id)
            holder[:] = [rec]
            return rec.state in wanted
        self.wait_for(done, timeout_s, f"job {job_id} to reach {sorted(wanted)}")
        return holder[0]

    @property
    def faults(self) -> Faults:
        self._require()
        return Faults(self.socket_path)

    @property
    def ssh(self) -> SSHInfo:
        self._require()
        info = (self._ready or {}).get("ssh")
        if not info:
            raise SimClusterError("this SimCluster was created with ssh=False")
        return SSHInfo(**{k: info[k] for k in ("host", "port", "user", "key_file", "known_hosts", "home")})

    def profile(self, **overrides: Any) -> dict[str, Any]:
        """A mapping for clustrix's ``Profile.from_mapping``: this cluster's scheduler over SSH.

        Jobs are recorded in this cluster's own ledger (``<root>/ledger.sqlite3``), not the
        user's: a simulator's jobs die with it, and a personal ledger full of them would send
        ``clustrix jobs`` to clusters that no longer exist. ``ledger=...`` overrides it.
        """
        self.ssh  # noqa: B018 - raises a clear error when ssh=False
        data = profile_mapping((self._ready or {}).get("ssh") or self.ssh.__dict__, self.scheduler,
                               max_array_size=self.config.max_array_size,
                               ledger=os.path.join(self.root or "", "ledger.sqlite3"))
        data.update(overrides)
        return data


def profile_mapping(ssh: Mapping[str, Any], scheduler: str = "slurm", *, max_array_size: int | None = None,
                    ledger: str | None = None) -> dict[str, Any]:
    """The clustrix profile keys for a simulator's SSH login node (``ssh`` as in ``info``).

    ``max_array_size`` is the site's (clients split bigger maps into several arrays), ``ledger``
    the cluster's own job ledger (its jobs die with it: they do not belong in the user's).
    """
    data: dict[str, Any] = {
        "backend": scheduler, "host": ssh["host"], "port": ssh["port"], "user": ssh["user"],
        "key_file": ssh["key_file"], "known_hosts": ssh["known_hosts"], "host_key_policy": "strict",
        "use_ssh_config": False, "remote_dir": os.path.join(ssh["home"], "clustrix-jobs"),
        "python": sys.executable, "poll_interval_s": 0.05, "poll_max_interval_s": 0.5,
    }
    if max_array_size is not None:
        data["max_array_size"] = max_array_size
    if ledger is not None:
        data["ledger"] = ledger
    return data


MAX_SOCKET_PATH_BYTES = 107
"""What a Unix socket path may hold on Linux (``sun_path`` is 108 bytes with the NUL)."""


def _private_root() -> str:
    """A fresh 0700 root for a cluster nobody gave a root to.

    It goes under ``$TMPDIR`` as usual, unless that is so deep that the controller's socket
    (``<root>/state/ctl.sock``) would not fit in a Unix socket path — as under a test runner's
    per-test temporary dirs, or a site's long scratch paths — in which case ``/tmp`` is used.
    """
    root = tempfile.mkdtemp(prefix="clustrix-sim-")
    if len(os.path.join(root, "state", "tools.sock").encode()) <= MAX_SOCKET_PATH_BYTES:
        return root
    os.rmdir(root)
    return tempfile.mkdtemp(prefix="clustrix-sim-", dir="/tmp")  # noqa: S108 - a private 0700 dir


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _kill_leftovers(state_dir: str) -> None:
    """Kill job processes a dead controller left behind (verified by process start time)."""
    from clustrix_sim.engine.processes import kill_session
    from clustrix_sim.engine.store import read_procs
    for entry in read_procs(state_dir):
        kill_session(entry.pid, min_start_ticks=entry.start_ticks)
