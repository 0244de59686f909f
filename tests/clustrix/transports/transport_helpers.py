"""Helpers for transport tests: a real SSH server (SimSSHServer) in the test process."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from clustrix.transports.ssh import SSHTransport
from clustrix_sim.ssh.keys import new_host_key
from clustrix_sim.ssh.server import SimSSHServer

DEADLINE_S = 30.0

#: arguments that would run `touch MARKER` (or worse) if anything reached a shell unquoted
HOSTILE = [
    "a b", "'", '"', "it's", "; touch MARKER", "$(touch MARKER)", "`touch MARKER`",
    "\ntouch MARKER", "| touch MARKER", "&& touch MARKER", "> MARKER", "$HOME", "*", "~", "-n",
    "", "\\", "\t", "unicode é 漢字 🎉", "${IFS}touch${IFS}MARKER", "a\nb\rc",
]


def wait_until(predicate: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S) -> None:
    """Poll ``predicate`` until true; fail (never hang) after ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {deadline_s} s waiting for {what}")
        time.sleep(0.02)


def pid_gone(pid: int) -> bool:
    """True once ``pid`` is dead; a zombie counts (an orphan waits for PID 1 to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@dataclass
class Sim:
    server: SimSSHServer
    home: Path
    key_file: Path
    key: paramiko.PKey
    known_hosts: Path
    host_key: paramiko.PKey
    tmp: Path
    opened: list[SSHTransport] = field(default_factory=list)

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port

    def connect(self, **overrides: object) -> SSHTransport:
        """An SSHTransport to this server; closed automatically at the end of the test."""
        kwargs: dict[str, object] = dict(
            port=self.port, user="alice", key_file=str(self.key_file),
            known_hosts=str(self.known_hosts), use_ssh_config=False, connect_timeout_s=DEADLINE_S,
            command_timeout_s=DEADLINE_S,
        )
        kwargs.update(overrides)
        host = str(kwargs.pop("host", "127.0.0.1"))
        transport = SSHTransport.connect(host, **kwargs)  # type: ignore[arg-type]
        self.opened.append(transport)
        return transport


def make_server(tmp: Path, name: str, client_key: paramiko.PKey) -> tuple[SimSSHServer, Path]:
    home = tmp / f"home-{name}"
    home.mkdir()
    server = SimSSHServer([client_key], new_host_key(),
                          {"PATH": os.environ["PATH"], "SIM_NAME": name}, str(home), "alice")
    return server.start(), home
