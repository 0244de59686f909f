"""The wire between the simulator's command-line tools and its controller.

One JSON object per line over a Unix socket (path in ``$CLUSTRIX_SIM_SOCKET``). A request is
``{"op": NAME, "tool": TOOL, "params": {...}}``; a reply is ``{"ok": true, "result": ...}``,
``{"ok": false, "error": {"kind": KIND, "message": TEXT, ...}}`` for a refused request, or
``{"ok": false, "fault": {"stderr": TEXT, "stdout": TEXT, "rc": N}}`` when fault injection makes the
tool fail; the tool then prints exactly that and exits ``rc``.

This module is imported by every tool invocation, so it must stay light: json, os, socket only.

Operations (params -> result):

- ``submit`` ``{"request": JobRequest dict}`` -> ``{"job_id": int}``.
  Error kinds: ``invalid_partition``, ``node_config_unavailable``, ``memory_unavailable``,
  ``time_limit``, ``invalid_account``, ``invalid_qos``, ``dependency``, ``array_spec``,
  ``node_count``, ``qos_policy``, ``gres``.
- ``jobs`` ``{"job_ids": [int] | None, "include_finished": bool}`` -> ``{"jobs": [JobRecord dict]}``:
  records still visible in the queue (active, plus finished ones within MinJobAge that were not
  purged). A job id matches a record's ``job_id`` or its ``array_job_id``.
- ``accounting`` ``{"job_ids": [int] | None, "user": str | None}`` -> ``{"jobs": [...]}``, every
  record ever, from the persistent store. Error kind ``accounting_disabled`` when accounting is off.
- ``signal`` ``{"targets": [{"job_id": int, "task": int | None}], "signal": int | None,
  "uid": int}`` -> ``{"results": [{"job_id", "task", "status": "ok" | "invalid_job_id" |
  "already_done"}]}``. ``signal`` None means cancel (SIGKILL semantics, job becomes CANCELLED).
  ``task`` None targets the whole job (all tasks of an array). ``"hard": true`` cancels with
  SIGKILL at once instead of SIGTERM, then SIGKILL after KillWait (``qdel -W force``).
- ``hold`` / ``release`` / ``requeue`` ``{"job_ids": [int]}`` -> ``{"results": [...]}`` as above.
- ``nodes`` ``{}`` -> ``{"nodes": [NodeRecord dict]}``; ``partitions`` ``{}`` ->
  ``{"partitions": [PartitionRecord dict]}``.
- ``info`` ``{}`` -> ``{"cluster_name", "flavor", "time_scale", "now": sim seconds,
  "server": hostname, "min_job_age_s"}``.
- ``ping`` ``{}`` -> ``{"pid": int}``.

Extensions (H5, all optional for callers):

- ``jobs`` / ``accounting`` also take ``"include_script"``, ``"include_env"`` and
  ``"include_array_indices"`` (bools, default False): without them each record's
  ``request.script`` is ``""``, ``request.env`` is ``{}`` and ``request.array_indices`` is null
  (``array_text``, ``array_job_id`` and ``array_task_id`` still describe the array), which keeps a
  10,000-job reply small. Record and request fields equal to their dataclass defaults are left
  out of the JSON (``from_dict`` restores them). ``jobs`` takes ``"include_finished": False`` to
  get active jobs only.
- ``signal`` also takes ``"scope"`` for numeric signals: ``"steps"`` (default, like scancel
  without -b: every process of the job except the batch script's own process, or the batch
  process when it has no children), ``"batch"`` (-b: the batch script's process only),
  ``"full"`` (-f: every process). A numeric signal to a pending job gives status
  ``"job_pending"``.
- ``hold`` on a job that is no longer pending gives ``"not_pending"``; ``requeue`` on a pending
  job gives ``"job_pending"``, on a ``--no-requeue`` job ``"not_requeueable"``.
- ``fault`` ``{"action": NAME, ...}`` -> ``{}``: fault injection (``clustrix_sim.faults``
  documents the actions). Error kind ``bad_request`` for an unknown action or argument.
- ``stats`` ``{}`` -> ``{"states": {STATE: count}, "running_pids": [int], "jobs": int}``.
- ``shutdown`` ``{}`` -> ``{}``; the controller then kills running jobs and exits.
- ``info`` also returns ``"ssh"``: ``{"host", "port", "user", "key_file", "known_hosts"}`` or None.

Error kind ``bad_request`` means a malformed request (unknown op, missing or wrong params).
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

SOCKET_ENV = "CLUSTRIX_SIM_SOCKET"
MAX_LINE = 256 * 1024 * 1024


class ControllerUnavailable(Exception):
    """The controller socket is missing or refused the connection."""


class RequestRefused(Exception):
    """The controller refused the request; ``kind`` says why (see the module docstring)."""

    def __init__(self, kind: str, message: str, detail: dict[str, Any] | None = None):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.detail = detail or {}


class InjectedFault(Exception):
    """Fault injection asked the tool to fail with exactly this output and exit code."""

    def __init__(self, stderr: str, rc: int, stdout: str = ""):
        super().__init__(stderr)
        self.stderr = stderr
        self.stdout = stdout
        self.rc = rc


def current_user() -> tuple[str, int]:
    """The calling user's name and uid: who a tool acts for (the simulator runs everything as
    the caller). Shared by every scheduler front end."""
    uid = os.getuid()
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name, uid
    except (ImportError, KeyError):
        return os.environ.get("USER") or os.environ.get("LOGNAME") or str(uid), uid


def socket_path() -> str:
    path = os.environ.get(SOCKET_ENV)
    if not path:
        raise ControllerUnavailable(
            f"${SOCKET_ENV} is not set; start a simulator (clustrix-sim up) and source `clustrix-sim env`"
        )
    return path


def call(op: str, tool: str, params: dict[str, Any] | None = None, *, path: str | None = None,
         timeout_s: float = 60.0) -> Any:
    """Send one request and return its result, raising RequestRefused / InjectedFault."""
    target = path or socket_path()
    payload = json.dumps({"op": op, "tool": tool, "params": params or {}}).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(target)
            sock.sendall(payload)
            reply = _read_line(sock)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ControllerUnavailable(f"controller not reachable at {target}: {exc}") from exc
    except OSError as exc:
        raise ControllerUnavailable(f"controller connection failed at {target}: {exc}") from exc
    message = json.loads(reply)
    if message.get("ok"):
        return message.get("result")
    if "fault" in message:
        fault = message["fault"]
        raise InjectedFault(fault.get("stderr", ""), int(fault.get("rc", 1)), fault.get("stdout", ""))
    err = message.get("error") or {}
    raise RequestRefused(err.get("kind", "internal"), err.get("message", ""), err)


def _read_line(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if chunk.endswith(b"\n"):
            break
        if total > MAX_LINE:
            raise ControllerUnavailable("controller reply exceeds the size limit")
    if not chunks:
        raise ControllerUnavailable("controller closed the connection without replying")
    return b"".join(chunks)
