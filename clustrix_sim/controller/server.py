"""The simulator's controller process: protocol server on a Unix socket, main loop, SSH front door.

Run as ``python -m clustrix_sim.controller --state-dir DIR [--config FILE] [--ssh --home DIR]``
(``SimCluster.start()`` does) or in the foreground by ``clustrix-sim up``. Layout of the state dir
(0700): ``ctl.sock`` (0600), ``cluster.db`` (SQLite, see ``clustrix_sim.engine.store``), ``spool/`` (job scripts),
``bin/`` (tool scripts), ``ssh/`` (keys, known_hosts), ``controller.pid``, ``controller.log``,
``ready.json`` (what the ready line says).

Every connection gets a thread; each request line is ``{"op", "tool", "params"}`` and gets one
reply line. Fault rules are applied per request before the engine sees it. When ready, the
process prints one JSON line on stdout (socket path, pid, ssh details) and detaches stdout, so
the parent can wait for exactly that line instead of sleeping.

The SSH server (``clustrix_sim.ssh.server.SimSSHServer``, bound to 127.0.0.1) runs in this process so
``drop_ssh_connections`` is a protocol op and ``clustrix-sim up`` serves SSH too. Its commands run
with the cluster environment (``bin/`` first on PATH, ``CLUSTRIX_SIM_SOCKET``) in the login home.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from clustrix_sim.controller import protocol, tool_scripts, toolclient, toolserver
from clustrix_sim.engine.model import ClusterConfig, OpError, RawJSON
from clustrix_sim.engine.service import Engine

SOCKET_NAME = "ctl.sock"
PID_NAME = "controller.pid"
LOCK_NAME = "controller.lock"
READY_NAME = "ready.json"
MAX_SOCKET_PATH = 107
TOOLSERVER_START_S = 10.0
UNFAULTED_OPS = frozenset({"fault", "ping", "shutdown", "stats"})


def socket_path_for(state_dir: str) -> str:
    return os.path.join(os.path.abspath(state_dir), SOCKET_NAME)


class Controller:
    """One cluster's controller: engine + socket server + optional SSH server."""

    def __init__(self, state_dir: str, config: ClusterConfig | None = None, *, ssh: bool = False,
                 home: str | None = None) -> None:
        self.state_dir = os.path.abspath(state_dir)
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        self.socket_path = socket_path_for(self.state_dir)
        if len(self.socket_path.encode()) > MAX_SOCKET_PATH:
            raise ValueError(f"state dir {self.state_dir!r} is too deep: the socket path would be "
                             f"{len(self.socket_path)} bytes (Unix sockets allow {MAX_SOCKET_PATH}); "
                             "use a shorter --state-dir")
        self.ssh_enabled = ssh
        self.home = os.path.abspath(home or os.path.join(self.state_dir, "home"))
        # One controller per state dir: a second one would "recover" the first one's running jobs.
        self._lock_fd = _take_lock(os.path.join(self.state_dir, LOCK_NAME), self.socket_path)
        self._log_file = open(os.path.join(self.state_dir, "controller.log"), "a", buffering=1)  # noqa: SIM115
        self.engine = Engine(self.state_dir, config, log=self.log)
        self.stopped = threading.Event()
        self._server: socket.socket | None = None
        self._sshd = None
        self._toolserver: subprocess.Popen | None = None
        self._threads: list[threading.Thread] = []

    def log(self, message: str) -> None:
        self._log_file.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        """Bind the socket, start the loops (and the SSH server); returns the ready info."""
        ssh_import = None
        if self.ssh_enabled:  # paramiko takes ~0.15 s to import: overlap it with the rest
            ssh_import = threading.Thread(target=_import_ssh, daemon=True)
            ssh_import.start()
        compiled_tools = toolclient.wanted()
        self._start_toolserver()  # it imports the front end meanwhile
        client = toolclient.build(self.log, os.path.join(self.state_dir, "toolclient")) if compiled_tools else None
        bin_dir = tool_scripts.write_tool_scripts(self.state_dir, self.engine.cfg.flavor, self.socket_path,
                                                  client=client, scripts_only=toolserver.IN_PROCESS_ONLY)
        if os.path.exists(self.socket_path):  # stale: the lock proves no controller serves it
            os.unlink(self.socket_path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(self.socket_path)  # the state dir is 0700, so nobody else can reach it meanwhile
        os.chmod(self.socket_path, 0o600)
        server.listen(256)
        self._server = server
        for target, name in ((self._accept_loop, "accept"), (self.engine.loop, "engine")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        info: dict[str, Any] = {"socket": self.socket_path, "pid": os.getpid(), "bin_dir": bin_dir,
                                "state_dir": self.state_dir, "ssh": None,
                                "toolserver_pid": self._toolserver.pid if self._toolserver else None}
        if self.ssh_enabled:
            ssh_import.join()
            info["ssh"] = self._start_ssh(bin_dir)
        self._wait_toolserver()
        _write_json(os.path.join(self.state_dir, PID_NAME), os.getpid())
        _write_json(os.path.join(self.state_dir, READY_NAME), info)
        self.log(f"controller {os.getpid()} ready on {self.socket_path}")
        return info

    def _start_toolserver(self) -> None:
        """The tool scripts' server (``toolserver``); optional: scripts fall back without it."""
        path = os.path.join(self.state_dir, toolserver.SOCKET_NAME)
        err = open(os.path.join(self.state_dir, "toolserver.stderr"), "ab")  # noqa: SIM115
        try:
            self._toolserver = subprocess.Popen(
                [sys.executable, "-m", "clustrix_sim.controller.toolserver", "--socket", path, "--flavor",
                 self.engine.cfg.flavor], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                env={**os.environ, protocol.SOCKET_ENV: self.socket_path})
        finally:
            err.close()

    def _wait_toolserver(self) -> None:
        proc = self._toolserver
        if proc is None or proc.stdout is None:
            return
        ready, _, _ = select.select([proc.stdout], [], [], TOOLSERVER_START_S)
        line = proc.stdout.readline() if ready else b""
        proc.stdout.close()
        if line.strip() != b"ready":
            self.log("tool server did not start; tool scripts run tools in-process (slower)")

    def _stop_toolserver(self) -> None:
        proc, self._toolserver = self._toolserver, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def cluster_env(self, bin_dir: str) -> dict[str, str]:
        """Environment of commands on the simulated login node (SSH exec)."""
        env = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TZ", "TMPDIR")}
        env["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        env[protocol.SOCKET_ENV] = self.socket_path
        return env

    def _start_ssh(self, bin_dir: str) -> dict[str, Any]:
        from clustrix_sim.ssh import keys
        from clustrix_sim.ssh.server import SimSSHServer

        ssh_dir = os.path.join(self.state_dir, "ssh")
        os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
        os.makedirs(self.home, mode=0o700, exist_ok=True)
        key_file = os.path.join(ssh_dir, "id_ed25519")
        host_file = os.path.join(ssh_dir, "host_ed25519")
        # Keys survive a controller restart so clients keep trusting the same host key.
        client_key = keys.load_private_key(key_file) if os.path.exists(key_file) else keys.write_client_key(key_file)
        host_key = keys.load_private_key(host_file) if os.path.exists(host_file) else keys.write_host_key(host_file)
        previous = _read_json(os.path.join(self.state_dir, READY_NAME)) or {}
        port = (previous.get("ssh") or {}).get("port") or 0
        user = self.engine.cfg.user or _current_user()
        try:
            server = SimSSHServer([client_key], host_key, self.cluster_env(bin_dir), self.home, user, port=port)
            server.start()
        except OSError:  # the old port is taken: any port will do (known_hosts is rewritten)
            server = SimSSHServer([client_key], host_key, self.cluster_env(bin_dir), self.home, user, port=0)
            server.start()
        server.on_read = self.engine.lifecycle.result_faults.on_read
        self._sshd = server
        known_hosts = os.path.join(ssh_dir, "known_hosts")
        keys.write_known_hosts(known_hosts, [("127.0.0.1", server.port, host_key)])
        info = {"host": "127.0.0.1", "port": server.port, "user": user, "key_file": key_file,
                "known_hosts": known_hosts, "home": self.home}
        self.engine.attach_ssh(info, server.drop_connections)
        return info

    def serve_forever(self) -> None:
        """Block until stop() (SIGTERM/SIGINT, the shutdown op)."""
        self.stopped.wait()

    def stop(self) -> None:
        """Stop serving, kill running jobs (restart rule: requeue or NODE_FAIL) and clean up."""
        if getattr(self, "_stopping", False):
            self.stopped.wait(30)
            return
        self._stopping = True
        self.log("controller stopping")
        if self._sshd is not None:
            self._sshd.stop(timeout_s=2.0)
        server, self._server = self._server, None
        if server is not None:
            try:
                server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            server.close()
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        self._stop_toolserver()
        self.engine.shutdown()
        for path in (PID_NAME,):
            try:
                os.unlink(os.path.join(self.state_dir, path))
            except FileNotFoundError:
                pass
        self.log("controller stopped")
        self._log_file.close()
        os.close(self._lock_fd)  # after the store is closed: the next controller may start now
        self.stopped.set()

    # -- serving -------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        server = self._server
        while server is not None and not self.stopped.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve_conn, args=(conn,), daemon=True).start()

    def _serve_conn(self, conn: socket.socket) -> None:
        with conn:
            buf = b""
            while True:
                try:
                    chunk = conn.recv(1 << 16)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                if len(buf) > protocol.MAX_LINE:
                    return
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    reply, after = self._dispatch(line)
                    try:
                        conn.sendall(reply)
                    except OSError:
                        return
                    if after is not None:
                        after()

    def _dispatch(self, line: bytes) -> tuple[bytes, Any]:
        try:
            message = json.loads(line)
            op, tool, params = message["op"], str(message.get("tool", "")), message.get("params") or {}
        except (ValueError, KeyError, TypeError) as exc:
            return _error("bad_request", f"malformed request line: {exc}"), None
        if op not in UNFAULTED_OPS:
            self.engine.count_request(tool)
            delay, fault = self.engine.faults.intercept(op, tool)
            if delay:
                time.sleep(delay)
            if fault is not None:
                return (json.dumps({"ok": False, "fault": fault}) + "\n").encode(), None
        if op == "shutdown":
            return _ok({}), lambda: threading.Thread(target=self.stop, daemon=True).start()
        try:
            result = self.engine.handle(op, params)
        except OpError as exc:
            return _error(exc.kind, exc.message), None
        except Exception as exc:  # a bug must not kill the controller; the tool gets the text
            self.log(f"internal error serving {op}: {exc!r}")
            return _error("internal", f"{type(exc).__name__}: {exc}"), None
        if op not in UNFAULTED_OPS:
            fault, drop = self.engine.faults.intercept_after(op, tool)
            if fault is not None:  # served (the job exists), but the client hears a failure
                if drop and self.engine.fault_injection.drop_ssh is not None:
                    self.engine.fault_injection.drop_ssh()
                return (json.dumps({"ok": False, "fault": fault}) + "\n").encode(), None
        return _ok(result), None


def _ok(result: Any) -> bytes:
    if isinstance(result, RawJSON):
        return b'{"ok": true, "result": ' + result.encode() + b"}\n"
    return (json.dumps({"ok": True, "result": result}) + "\n").encode()


def _error(kind: str, message: str) -> bytes:
    return (json.dumps({"ok": False, "error": {"kind": kind, "message": message}}) + "\n").encode()


def _import_ssh() -> None:
    import clustrix_sim.ssh.keys  # noqa: F401
    import clustrix_sim.ssh.server  # noqa: F401


def _take_lock(path: str, socket_path: str) -> int:
    """Hold an exclusive lock on the state dir for this process's lifetime (released on exit,
    also by SIGKILL), or explain which controller holds it."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = _read_json(os.path.join(os.path.dirname(path), PID_NAME))
        raise RuntimeError(f"a controller (pid {holder or 'unknown'}) is already serving {socket_path}; stop it "
                           "first (clustrix-sim down) or use another state dir") from None
    os.set_inheritable(fd, False)
    return fd


def _current_user() -> str:
    import getpass
    return getpass.getuser()


def _write_json(path: str, value: Any) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as fh:
        json.dump(value, fh)
    os.replace(tmp, path)


def _read_json(path: str) -> Any:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m clustrix_sim.controller`` (a child of SimCluster)."""
    parser = argparse.ArgumentParser(prog="python -m clustrix_sim.controller")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--config", help="ClusterConfig JSON file (used when the state dir is new)")
    parser.add_argument("--ssh", action="store_true")
    parser.add_argument("--home", help="login-node home for SSH sessions")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop when the parent process dies (SimCluster uses it: no orphaned clusters)")
    args = parser.parse_args(argv)
    config = None
    if args.config:
        with open(args.config) as fh:
            config = ClusterConfig.from_dict(json.load(fh))
    controller = Controller(args.state_dir, config, ssh=args.ssh, home=args.home)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=controller.stop, daemon=True).start())
    signal.signal(signal.SIGINT, lambda *_: threading.Thread(target=controller.stop, daemon=True).start())
    info = controller.start()
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # nobody reads our stdout after the ready line
    os.close(devnull)
    if args.exit_with_parent:
        threading.Thread(target=_watch_parent, args=(os.getppid(), controller), daemon=True).start()
    controller.serve_forever()
    return 0


def _watch_parent(parent: int, controller: Controller) -> None:
    while not controller.stopped.wait(0.5):
        if os.getppid() != parent:
            controller.log(f"parent process {parent} is gone; stopping")
            controller.stop()
            return


if __name__ == "__main__":
    raise SystemExit(main())
