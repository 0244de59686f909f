"""SSH key material for the simulated cluster: client key pairs, host keys, known_hosts files.

Pure helpers around ``cryptography`` and ``paramiko``. paramiko can load but not generate
Ed25519 keys, so keys are generated with ``cryptography`` and serialised in the OpenSSH private
key format (the format ``ssh-keygen -t ed25519`` writes), which paramiko, OpenSSH and every
other client read.

Typical use (what ``SimCluster(ssh=True)`` does)::

    client_key = write_client_key(tmp / "id_ed25519")          # + id_ed25519.pub, mode 0600
    host_key = new_host_key()
    server = SimSSHServer([client_key], host_key, env, home, user)
    server.start()
    write_known_hosts(tmp / "known_hosts", [("127.0.0.1", server.port, host_key)])

Nothing here imports ``clustrix``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

__all__ = [
    "fingerprint",
    "known_hosts_line",
    "load_private_key",
    "new_ed25519_key",
    "new_host_key",
    "public_key_line",
    "write_client_key",
    "write_host_key",
    "write_known_hosts",
    "write_private_file",
]


def _ed25519_openssh_pem() -> str:
    """A fresh Ed25519 private key in OpenSSH format (``-----BEGIN OPENSSH PRIVATE KEY-----``)."""
    private = ed25519.Ed25519PrivateKey.generate()
    return private.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.OpenSSH,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")


def new_ed25519_key() -> paramiko.Ed25519Key:
    """Generate a new, unencrypted Ed25519 key held in memory."""
    return paramiko.Ed25519Key.from_private_key(io.StringIO(_ed25519_openssh_pem()))


def new_host_key() -> paramiko.PKey:
    """Generate a host key for one simulated cluster's SSH server (Ed25519)."""
    return new_ed25519_key()


def public_key_line(key: paramiko.PKey, comment: str = "clustrix-sim") -> str:
    """The ``authorized_keys`` / ``.pub`` line for ``key``: ``ssh-ed25519 AAAA... comment``."""
    line = f"{key.get_name()} {key.get_base64()}"
    return f"{line} {comment}" if comment else line


def fingerprint(key: paramiko.PKey) -> str:
    """The OpenSSH SHA256 fingerprint of ``key`` (``SHA256:...``), as ``ssh-keygen -l`` shows."""
    return key.fingerprint


def write_private_file(path: str | os.PathLike[str], text: str, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` with ``mode`` from the first byte on (never briefly world-readable).

    An existing file is replaced atomically (temporary file in the same directory + rename).
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # os.open's mode is filtered by the umask; enforce it exactly
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            fd = -1
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise


def write_client_key(path: str | os.PathLike[str], comment: str = "clustrix-sim") -> paramiko.PKey:
    """Generate an Ed25519 client key pair; write the private key (0600) and ``<path>.pub`` (0644).

    Returns the key, ready to pass to ``SimSSHServer(authorized_keys=[key], ...)``.
    """
    pem = _ed25519_openssh_pem()
    write_private_file(path, pem, 0o600)
    key = paramiko.Ed25519Key.from_private_key(io.StringIO(pem))
    pub = Path(f"{os.fspath(path)}.pub")
    pub.write_text(public_key_line(key, comment) + "\n", encoding="ascii")
    pub.chmod(0o644)
    return key


def write_host_key(path: str | os.PathLike[str]) -> paramiko.PKey:
    """Generate a host key and write it (OpenSSH format, 0600) for ``python -m clustrix_sim.ssh``."""
    pem = _ed25519_openssh_pem()
    write_private_file(path, pem, 0o600)
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem))


def load_private_key(path: str | os.PathLike[str]) -> paramiko.PKey:
    """Load any unencrypted private key paramiko understands (Ed25519, ECDSA, RSA)."""
    return paramiko.PKey.from_path(os.fspath(path))


def known_hosts_line(host: str, port: int, key: paramiko.PKey) -> str:
    """One known_hosts line in OpenSSH format, newline-terminated.

    Port 22 is written as a bare host name; any other port as ``[host]:port``, which is how
    OpenSSH and paramiko look non-standard ports up.
    """
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ValueError(f"invalid port {port!r}: expected a whole number between 1 and 65535")
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"invalid host name {host!r}: expected a non-empty name without spaces")
    name = host if port == 22 else f"[{host}]:{port}"
    return f"{name} {key.get_name()} {key.get_base64()}\n"


def write_known_hosts(
    path: str | os.PathLike[str], entries: Iterable[tuple[str, int, paramiko.PKey]]
) -> Path:
    """Write a known_hosts file (0600) holding one line per ``(host, port, host_key)`` entry."""
    text = "".join(known_hosts_line(host, port, key) for host, port, key in entries)
    write_private_file(path, text, 0o600)
    return Path(path)
