"""The Docker engine, reached through the ``docker`` SDK (imported here, lazily, and nowhere else).

:func:`docker_client` is the one way in: it raises :class:`DockerUnavailable`, a single clear
error naming the fix, when the ``docker`` package is missing or no engine answers. Labels mark
every object this package creates, so a later process can sweep what a crashed one left behind.
"""

from __future__ import annotations

import os
import socket
from typing import Any

LABEL = "io.clustrix.sim"                 # present on everything we create ("1")
LABEL_OWNER_HOST = "io.clustrix.owner-host"
LABEL_OWNER_PID = "io.clustrix.owner-pid"
LABEL_OWNER_START = "io.clustrix.owner-start"  # the owner's start time in clock ticks (/proc)


class DockerUnavailable(RuntimeError):
    """No usable Docker: the ``docker`` package is missing or no engine is reachable."""


def docker_client() -> Any:
    """A ``docker.DockerClient`` that answered a ping, or :class:`DockerUnavailable`."""
    try:
        import docker  # noqa: PLC0415 - the SDK is an optional extra
        from docker.errors import DockerException
    except ImportError:
        raise DockerUnavailable("the 'docker' Python package is not installed: "
                                "pip install 'clustrix[containers]' (or 'docker>=7')") from None
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise DockerUnavailable(f"no Docker engine is reachable at {where} ({exc}); start one "
                                "(Debian: apt-get install docker.io && dockerd &) or set DOCKER_HOST") from None
    return client


def hold_stdin(client: Any, container_id: str) -> socket.socket:
    """Attach to the (not yet started) container's stdin; return the open connection.

    Keep it for the container's lifetime: closing it (or this process dying) closes the
    container's stdin (StdinOnce). The SDK's ``attach_socket`` cannot be used: the HTTP response
    it reads the socket from is released as soon as the 101 headers are read, which closes the
    connection. So this speaks the two lines of HTTP itself, on the engine's UNIX socket.
    """
    base = client.api.base_url
    if not base.startswith("http+docker://localhost"):
        raise DockerUnavailable(f"clustrix containers need a local Docker engine on a UNIX socket; "
                                f"DOCKER_HOST points at {base}")
    path = (os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock").removeprefix("unix://")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(path)
    version = client.api.api_version
    sock.sendall(f"POST /v{version}/containers/{container_id}/attach?stdin=1&stream=1 HTTP/1.1\r\n"
                 "Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if " 101 " not in status and " 200 " not in status:
        sock.close()
        raise DockerUnavailable(f"attaching to container {container_id[:12]} failed: {status or 'no answer'}")
    sock.settimeout(None)
    return sock


def docker_available() -> str | None:
    """None when Docker is usable here, else the reason it is not (for skip messages)."""
    try:
        docker_client().close()
    except DockerUnavailable as exc:
        return str(exc)
    return None


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (``/proc/PID/stat`` field 22), None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return int(data[data.rindex(b")") + 2:].split()[19])


def owner_labels() -> dict[str, str]:
    """Labels naming this process as the owner of a container (for the stale sweep)."""
    pid = os.getpid()
    return {LABEL: "1", LABEL_OWNER_HOST: socket.gethostname(), LABEL_OWNER_PID: str(pid),
            LABEL_OWNER_START: str(process_start_ticks(pid) or 0)}


def owner_alive(labels: dict[str, str]) -> bool:
    """True unless the labelled owner is provably gone (same host, pid dead or reused)."""
    if labels.get(LABEL_OWNER_HOST) != socket.gethostname():
        return True  # another machine's container (a shared engine): not ours to judge
    try:
        pid = int(labels.get(LABEL_OWNER_PID, ""))
    except ValueError:
        return False
    ticks = process_start_ticks(pid)
    return ticks is not None and str(ticks) == labels.get(LABEL_OWNER_START)


def sweep_stale(client: Any) -> list[str]:
    """Remove containers, networks and volumes we labelled whose owner process is gone."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        if not owner_alive(container.labels):
            _quiet(container.remove, force=True, v=True)
            removed.append(container.name)
    for network in client.networks.list(filters={"label": LABEL}):
        if not owner_alive(network.attrs.get("Labels") or {}):
            _quiet(network.remove)
            removed.append(network.name)
    for volume in client.volumes.list(filters={"label": LABEL}):
        if not owner_alive(volume.attrs.get("Labels") or {}):
            _quiet(volume.remove, force=True)
            removed.append(volume.name)
    return removed


def leftovers(client: Any, owner_pid: int | None = None) -> list[str]:
    """Names of labelled containers, networks and volumes (of ``owner_pid`` only, if given)."""
    flt = {"label": [LABEL] + ([f"{LABEL_OWNER_PID}={owner_pid}"] if owner_pid else [])}
    found = [f"container {c.name}" for c in client.containers.list(all=True, filters=flt)]
    found += [f"network {n.name}" for n in client.networks.list(filters=flt)]
    found += [f"volume {v.name}" for v in client.volumes.list(filters=flt)]
    return found


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> None:
    from docker.errors import APIError, NotFound
    try:
        fn(*args, **kwargs)
    except (NotFound, APIError):
        pass
