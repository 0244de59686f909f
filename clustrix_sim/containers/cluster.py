"""``DockerCluster``: a cluster in one container, behind a real OpenSSH login node.

    with DockerCluster("slurm") as c:               # REAL Slurm 22.05 (or "sge": Grid Engine 8.1.9)
        c.run(["sbatch", "--wrap", "hostname"])     # the tools, as the login user, in the container
        profile = c.profile()                       # clustrix over SSH to 127.0.0.1:<random port>

The handle has the shape of :class:`clustrix_sim.cluster.SimCluster`: ``start()``/``stop()``,
context manager, ``run(argv)``, ``ssh`` (:class:`~clustrix_sim.cluster.SSHInfo`), ``profile()``.
``simulated=True`` (the default for schedulers without a real package: PBS, Torque) runs
clustrix_sim's controller and tools inside the container instead.

Start: sweep containers a dead process left behind, build or reuse the image, create the
container (SSH published on 127.0.0.1 only), inject a fresh host key and the client's public key,
attach to its stdin, start it and wait (with a deadline) for the entrypoint's ready line, which
it prints once the scheduler answers and sshd listens. The container runs with AutoRemove and
exits when its stdin closes, so it disappears when this process does, even after a crash.
"""

from __future__ import annotations

import base64
import io
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from clustrix_sim.cluster import SSHInfo
from clustrix_sim.containers.engine import docker_client, hold_stdin, owner_labels, sweep_stale
from clustrix_sim.containers.images import ensure_image

REAL_SCHEDULERS = ("slurm", "sge")
SIM_IMAGE_SCHEDULERS = ("slurm", "pbs", "torque", "sge")
USER = "clustrix"
HOME = "/home/clustrix"
PYTHON = "/opt/clustrix/bin/python"
READY_LINE = "clustrix-container: READY"
START_TIMEOUT_S = 120.0
SCHEDULER_LOGS = {
    "slurm": ("/var/log/slurm/slurmctld.log", "/var/log/slurm/slurmd.log", "/var/log/slurm/slurmdbd.log"),
    "sge": ("/var/spool/gridengine/qmaster/messages", "/var/spool/gridengine/execd/*/messages"),
    "sim": ("/var/lib/clustrix-sim/state/*.log",),
}
STOP_TIMEOUT_S = 30.0


class DockerClusterError(RuntimeError):
    """The container did not start or was used while not running; carries its logs."""


class DockerCluster:
    """A cluster in a container (see the module docstring)."""

    def __init__(self, scheduler: str = "slurm", *, simulated: bool | None = None,
                 mounts: Mapping[str, str] | None = None, start_timeout_s: float = START_TIMEOUT_S,
                 log: Callable[[str], None] | None = None) -> None:
        if simulated is None:
            simulated = scheduler not in REAL_SCHEDULERS
        allowed = SIM_IMAGE_SCHEDULERS if simulated else REAL_SCHEDULERS
        if scheduler not in allowed:
            raise ValueError(f"scheduler {scheduler!r} is not available {'simulated' if simulated else 'for real'} "
                             f"in a container; choose one of {', '.join(allowed)}")
        self.scheduler = scheduler
        self.simulated = simulated
        self.flavor = "sim" if simulated else scheduler
        self.mounts = dict(mounts or {})
        self.start_timeout_s = start_timeout_s
        self.keep = False  # SimCluster's attribute; a container never outlives its handle
        self._log = log or (lambda _msg: None)
        self.root: str | None = None
        self.image: str | None = None
        self.image_built: tuple[str, ...] = ()
        self.image_seconds: float | None = None
        self.start_seconds: float | None = None
        self._client: Any = None
        self._container: Any = None
        self._hold: Any = None
        self._ssh: SSHInfo | None = None
        self._logs: list[str] = []
        self._logs_done = threading.Event()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> DockerCluster:
        if self._container is not None:
            raise DockerClusterError("this DockerCluster is already running")
        from clustrix_sim.ssh.keys import write_client_key, write_host_key

        self._client = docker_client()
        sweep_stale(self._client)
        result = ensure_image(self._client, self.flavor, self._log)
        self.image, self.image_built, self.image_seconds = result.tag, result.built, result.seconds
        began = time.perf_counter()
        self.root = tempfile.mkdtemp(prefix=f"clustrix-{self.flavor}-docker-")
        try:
            client_key = write_client_key(os.path.join(self.root, "id_ed25519"), comment="clustrix-docker")
            host_key = write_host_key(os.path.join(self.root, "ssh_host_ed25519_key"))
            self._create()
            self._inject(client_key)
            self._attach_and_start()
            self._wait_ready()
            self._ssh = self._ssh_info(host_key)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.perf_counter() - began
        return self

    def _create(self) -> None:
        env = {"CLUSTRIX_HOLD": "stdin", "CLUSTRIX_START_TIMEOUT_S": str(int(self.start_timeout_s))}
        if self.simulated:
            env["CLUSTRIX_SIM_SCHEDULER"] = self.scheduler
        api = self._client.api
        binds = {src: {"bind": dst, "mode": "ro"} for src, dst in self.mounts.items()}
        host_config = api.create_host_config(auto_remove=True, init=True, binds=binds or None,
                                             port_bindings={22: ("127.0.0.1", None)})
        # detach=False + stdin_open=True is how the low-level API sets StdinOnce (see _attach_and_start).
        created = api.create_container(
            self.image, name=f"clustrix-{self.flavor}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
            hostname=f"clustrix-{self.flavor}", detach=False, stdin_open=True, ports=[22],
            labels=owner_labels(), environment=env, volumes=list(self.mounts.values()) or None,
            host_config=host_config)
        self._container = self._client.containers.get(created["Id"])

    def _inject(self, client_key: Any) -> None:
        from clustrix_sim.ssh.keys import public_key_line

        assert self.root is not None
        files = {"ssh_host_ed25519_key": open(os.path.join(self.root, "ssh_host_ed25519_key"), "rb").read(),
                 "authorized_keys": (public_key_line(client_key, "clustrix-docker") + "\n").encode()}
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o600
                tar.addfile(info, io.BytesIO(data))
        self._container.put_archive("/etc/clustrix/inject", buf.getvalue())

    def _attach_and_start(self) -> None:
        # Hold the container's stdin: when this process dies the socket closes, the engine closes
        # stdin (StdinOnce), the entrypoint exits and AutoRemove deletes the container.
        self._hold = hold_stdin(self._client, self._container.id)
        self._container.start()
        stream = self._container.logs(stream=True, follow=True)

        def pump() -> None:
            try:
                for chunk in stream:
                    self._logs.append(chunk.decode(errors="replace"))
            except Exception:  # noqa: BLE001 - the container went away mid-stream
                pass
            finally:
                self._logs_done.set()
        threading.Thread(target=pump, name="clustrix-docker-logs", daemon=True).start()

    def logs(self) -> str:
        """What the container printed so far (entrypoint and scheduler start-up)."""
        return "".join(self._logs)

    def log_tail(self, max_bytes: int = 8000) -> str:
        """The end of the container's output and of the scheduler's own logs (for failure reports)."""
        text = f"--- container output ---\n{self.logs()[-max_bytes:]}"
        if self._container is not None:
            files = " ".join(SCHEDULER_LOGS.get(self.flavor, ()))
            try:
                proc = self.run(["sh", "-c", f"for f in {files}; do [ -f $f ] && echo \"--- $f ---\" && "
                                             f"tail -c {int(max_bytes)} $f; done; true"], user="root")
                text += "\n" + proc.stdout
            except Exception as exc:  # noqa: BLE001 - a report must not fail on a dead container
                text += f"\n(scheduler logs unavailable: {exc})"
        return text

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while READY_LINE not in self.logs():
            if self._logs_done.is_set() and READY_LINE not in self.logs():
                raise DockerClusterError(f"the {self.flavor} container exited before it was ready; its logs:\n"
                                         f"{self.logs()[-6000:]}")
            if time.monotonic() > deadline:
                raise DockerClusterError(f"the {self.flavor} container was not ready within "
                                         f"{self.start_timeout_s:.0f} s; its logs:\n{self.logs()[-6000:]}")
            self._logs_done.wait(0.05)

    def _ssh_info(self, host_key: Any) -> SSHInfo:
        from clustrix_sim.ssh.keys import write_known_hosts

        assert self.root is not None
        self._container.reload()
        binding = self._container.attrs["NetworkSettings"]["Ports"]["22/tcp"][0]
        host, port = binding["HostIp"] or "127.0.0.1", int(binding["HostPort"])
        known = write_known_hosts(os.path.join(self.root, "known_hosts"), [(host, port, host_key)])
        return SSHInfo(host=host, port=port, user=USER, key_file=os.path.join(self.root, "id_ed25519"),
                       known_hosts=str(known), home=HOME)

    def stop(self) -> None:
        """Remove the container (and wait until it is gone) and the local key directory."""
        from docker.errors import APIError, NotFound

        container, self._container = self._container, None
        hold, self._hold = self._hold, None
        if hold is not None:
            try:
                hold.close()
            except OSError:
                pass
        if container is not None:
            try:
                container.remove(force=True, v=True)
            except (NotFound, APIError):
                pass
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while time.monotonic() < deadline:
                try:
                    container.reload()
                except NotFound:
                    break
                time.sleep(0.05)
        self._ssh = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> DockerCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._container is not None

    @property
    def container(self) -> Any:
        if self._container is None:
            raise DockerClusterError("the container is not running; call start() or use `with DockerCluster()`")
        return self._container

    # -- using it ------------------------------------------------------------------------------
    def run(self, argv: Sequence[str], env: Mapping[str, str] | None = None, *, cwd: str | None = None,
            input: str | None = None, timeout_s: float = 60.0, user: str = USER) -> subprocess.CompletedProcess:
        """Run a command in the container as the login user (a login shell, as over SSH); text
        output, never raises on its exit code."""
        command = " ".join(shlex.quote(a) for a in argv)
        if input is not None:
            data = base64.b64encode(input.encode()).decode()
            command = f"echo {data} | base64 -d | {command}"
        script = f"cd {shlex.quote(cwd or HOME)} && {command}"
        result = self.container.exec_run(["bash", "-lc", script], user=user, environment=dict(env or {}),
                                         demux=True)
        out, err = result.output
        return subprocess.CompletedProcess(list(argv), result.exit_code, (out or b"").decode(errors="replace"),
                                           (err or b"").decode(errors="replace"))

    @property
    def ssh(self) -> SSHInfo:
        if self._ssh is None:
            raise DockerClusterError("the container is not running; call start() first")
        return self._ssh

    def profile(self, **overrides: Any) -> dict[str, Any]:
        """A mapping for clustrix's ``Profile.from_mapping``: this scheduler over SSH."""
        ssh = self.ssh
        data: dict[str, Any] = {
            "backend": self.scheduler, "host": ssh.host, "port": ssh.port, "user": ssh.user,
            "key_file": ssh.key_file, "known_hosts": ssh.known_hosts, "host_key_policy": "strict",
            "use_ssh_config": False, "remote_dir": f"{HOME}/clustrix-jobs", "python": PYTHON,
            "poll_interval_s": 0.1, "poll_max_interval_s": 1.0,
        }
        if self.mounts:  # the mounted host directories (the session's project) are importable by jobs
            data["env"] = {"PYTHONPATH": os.pathsep.join(self.mounts.values())}
        data.update(overrides)
        return data


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - a manual smoke test
    scheduler = (argv or sys.argv[1:] or ["slurm"])[0]
    with DockerCluster(scheduler, log=print) as cluster:
        print(cluster.image, cluster.start_seconds, cluster.ssh)
        print(cluster.run(["sinfo"] if scheduler == "slurm" else ["qstat", "-f"]).stdout)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
