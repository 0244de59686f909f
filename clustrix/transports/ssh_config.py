"""Where an SSH connection goes: arguments merged with ``~/.ssh/config``, as OpenSSH would.

Explicit arguments win over the config file, which wins over defaults (port 22, the local user
name, ``~/.ssh/known_hosts``). Understood keys: HostName, Port, User, IdentityFile,
IdentitiesOnly, ProxyJump, ProxyCommand, UserKnownHostsFile, plus everything paramiko's
``SSHConfig`` does for matching (Host patterns, Match, tokens like ``%h``).
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Any

import paramiko

from clustrix.errors import ConfigError

__all__ = ["Endpoint", "default_config_path", "parse_jump", "resolve_endpoint"]

SYSTEM_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"


def default_config_path() -> str:
    return os.path.expanduser("~/.ssh/config")


@dataclass(frozen=True)
class Endpoint:
    """A resolved SSH destination.

    ``known_hosts_files`` are checked in order; the first one is where ``accept-new`` records a
    new key. ``read_only_known_hosts`` (the system file) is checked but never written.
    ``jump`` is the ProxyJump hop that connects to this host (it has its own ``jump`` when the
    chain is longer); ``proxy_command`` is used only without a jump.
    """

    alias: str
    hostname: str
    port: int
    user: str
    key_files: tuple[str, ...] = ()
    identities_only: bool = False
    known_hosts_files: tuple[str, ...] = ()
    read_only_known_hosts: tuple[str, ...] = ()
    jump: Endpoint | None = None
    proxy_command: str | None = None

    @property
    def known_hosts_name(self) -> str:
        """The name this host has in known_hosts files (``[host]:port`` unless port 22)."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"

    @property
    def display(self) -> str:
        """``user@host:port`` (with the alias when it differs) for messages."""
        text = f"{self.user}@{self.hostname}:{self.port}"
        return text if self.alias == self.hostname else f"{self.alias} ({text})"


def _load_config(path: str | None) -> paramiko.SSHConfig | None:
    path = path or default_config_path()
    if not os.path.exists(path):
        return None
    try:
        return paramiko.SSHConfig.from_path(path)
    except Exception as exc:  # paramiko raises assorted errors for bad syntax
        raise ConfigError(f"cannot parse SSH config: {exc}", source=path) from exc


def _port(value: Any, source: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if not 0 < port < 65536:
        raise ConfigError(f"invalid port {value!r}: expected 1-65535", source=source, key="port")
    return port


def parse_jump(spec: str) -> tuple[str | None, str, int | None]:
    """One ProxyJump hop ``[user@]host[:port]`` or ``ssh://[user@]host[:port]`` -> parts."""
    text = spec.strip()
    if text.startswith("ssh://"):
        text = text[len("ssh://"):].rstrip("/")
    user, _, hostport = text.rpartition("@")
    host, port = hostport, None
    if hostport.startswith("["):  # [ipv6]:port
        close = hostport.find("]")
        host, rest = hostport[1:close], hostport[close + 1:]
        port = _port(rest[1:], f"ProxyJump {spec!r}") if rest.startswith(":") else None
    elif hostport.count(":") == 1:
        host, _, raw = hostport.partition(":")
        port = _port(raw, f"ProxyJump {spec!r}")
    if not host:
        raise ConfigError(f"invalid ProxyJump hop {spec!r}: expected [user@]host[:port]")
    return (user or None), host, port


def resolve_endpoint(
    host: str,
    port: int | None = None,
    user: str | None = None,
    key_file: str | None = None,
    known_hosts: str | None = None,
    *,
    use_ssh_config: bool = True,
    ssh_config_path: str | None = None,
    proxy_jump: str | None = None,
    _depth: int = 0,
) -> Endpoint:
    """Merge the arguments with the SSH config entry for ``host``.

    ``proxy_jump`` overrides the config's ProxyJump (``"none"`` disables it); it is also how a
    jump chain ``a,b`` resolves ``b`` with ``a`` as its own jump, as ``ssh -J`` does.
    """
    if not host or any(c.isspace() for c in host):
        raise ConfigError(f"invalid host {host!r}: expected a host name or address", key="host")
    if _depth > 8:
        raise ConfigError(f"ProxyJump chain to {host!r} is longer than 8 hops (a loop?)", key="host")
    config = _load_config(ssh_config_path) if use_ssh_config else None
    options: dict[str, Any] = dict(config.lookup(host)) if config is not None else {}
    source = ssh_config_path or default_config_path()

    hostname = options.get("hostname", host)
    final_port = port if port is not None else _port(options.get("port", 22), source)
    final_user = user or options.get("user") or getpass.getuser()

    key_files = [os.path.expanduser(key_file)] if key_file else []
    key_files += [os.path.expanduser(p) for p in options.get("identityfile", [])
                  if os.path.expanduser(p) not in key_files]
    identities_only = str(options.get("identitiesonly", "no")).lower() == "yes"

    if known_hosts:
        known, read_only = (os.path.expanduser(known_hosts),), ()
    else:
        configured = options.get("userknownhostsfile", "")
        files = [os.path.expanduser(p) for p in configured.split() if p.lower() != "none"]
        known = tuple(files) if files else (os.path.expanduser("~/.ssh/known_hosts"),)
        read_only = (SYSTEM_KNOWN_HOSTS,) if os.path.exists(SYSTEM_KNOWN_HOSTS) else ()

    jump_spec = proxy_jump if proxy_jump is not None else options.get("proxyjump")
    jump: Endpoint | None = None
    if jump_spec and jump_spec.strip().lower() != "none":
        hops = [h for h in jump_spec.split(",") if h.strip()]
        # the last hop connects to the target; hop i reaches the network through hops < i
        resolved: list[Endpoint] = []
        if not hops:
            raise ConfigError(f"invalid ProxyJump {jump_spec!r}: expected [user@]host[:port],...",
                              source=source, key="ProxyJump")
        for index, hop in enumerate(hops):
            hop_user, hop_host, hop_port = parse_jump(hop)
            before = ",".join(hops[:index]) or "none"
            resolved.append(resolve_endpoint(
                hop_host, hop_port, hop_user, None, known_hosts, use_ssh_config=use_ssh_config,
                ssh_config_path=ssh_config_path, proxy_jump=before, _depth=_depth + 1))
        jump = resolved[-1]  # it carries the earlier hops as its own jump
    proxy_command = None
    if jump is None:
        raw = options.get("proxycommand")
        if raw and raw.strip().lower() != "none":
            proxy_command = raw
    return Endpoint(
        alias=host, hostname=hostname, port=final_port, user=final_user,
        key_files=tuple(key_files), identities_only=identities_only,
        known_hosts_files=known, read_only_known_hosts=read_only, jump=jump,
        proxy_command=proxy_command,
    )
