"""Host key policies, authentication failures, ~/.ssh/config and ProxyJump against real servers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from transport_helpers import Sim, make_server

from clustrix.errors import AuthenticationError, ConfigError, HostKeyError
from clustrix.transports.ssh_config import parse_jump, resolve_endpoint
from clustrix.transports.ssh_pool import POOL
from clustrix_sim.ssh.keys import known_hosts_line, new_host_key, write_client_key


def test_strict_refuses_an_unknown_host_with_the_fingerprint_and_the_fix(sim: Sim) -> None:
    empty = sim.tmp / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyError) as caught:
        sim.connect(known_hosts=str(empty))
    message = str(caught.value)
    assert f"[127.0.0.1]:{sim.port}" in message
    assert sim.host_key.fingerprint in message
    assert "ssh-keyscan" in message and "accept-new" in message
    assert empty.read_text() == ""  # nothing was added
    # nothing half-connected stays pooled
    assert all(port != sim.port for _, port, _ in POOL.keys())


def test_strict_refuses_a_changed_key(sim: Sim) -> None:
    wrong = sim.tmp / "wrong_known_hosts"
    old_key = new_host_key()
    wrong.write_text(known_hosts_line("127.0.0.1", sim.port, old_key))
    for policy in ("strict", "accept-new"):
        with pytest.raises(HostKeyError, match="CHANGED") as caught:
            sim.connect(known_hosts=str(wrong), host_key_policy=policy)
        assert old_key.fingerprint in str(caught.value)
        assert sim.host_key.fingerprint in str(caught.value)
        assert "ssh-keygen -R" in str(caught.value)
    assert wrong.read_text() == known_hosts_line("127.0.0.1", sim.port, old_key)


def test_accept_new_records_the_key_then_strict_verifies_it(sim: Sim) -> None:
    fresh = sim.tmp / "sub" / "known_hosts"  # neither file nor directory exists yet
    t = sim.connect(known_hosts=str(fresh), host_key_policy="accept-new")
    assert t.run(["echo", "ok"]).stdout == "ok\n"
    t.close()
    assert fresh.read_text() == known_hosts_line("127.0.0.1", sim.port, sim.host_key)
    assert oct(os.stat(fresh).st_mode & 0o777) == oct(0o600)
    strict = sim.connect(known_hosts=str(fresh))
    assert strict.run(["echo", "again"]).stdout == "again\n"


def test_unknown_policy_is_refused(sim: Sim) -> None:
    with pytest.raises(ValueError, match="auto-add"):
        sim.connect(host_key_policy="auto-add")


def test_wrong_key_or_user_is_an_authentication_error(sim: Sim) -> None:
    other = sim.tmp / "other_key"
    write_client_key(other)
    with pytest.raises(AuthenticationError, match=r"refused every key for user 'alice'") as caught:
        sim.connect(key_file=str(other))
    assert caught.value.host and "127.0.0.1" in caught.value.host
    with pytest.raises(AuthenticationError, match="'mallory'"):
        sim.connect(user="mallory")


def _write_config(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_ssh_config_alias_is_honoured(sim: Sim) -> None:
    config = _write_config(sim.tmp / "ssh_config", f"""
Host simcluster
    HostName 127.0.0.1
    Port {sim.port}
    User alice
    IdentityFile {sim.key_file}
    IdentitiesOnly yes
    UserKnownHostsFile {sim.known_hosts}
""")
    t = sim.connect(host="simcluster", port=None, user=None, key_file=None, known_hosts=None,
                    use_ssh_config=True, ssh_config_path=config)
    assert t.run(["sh", "-c", 'echo "$USER@$SIM_NAME"']).stdout == "alice@main\n"
    assert t.host is not None and "simcluster" in t.host
    ignored = resolve_endpoint("simcluster", use_ssh_config=False)
    assert ignored.hostname == "simcluster" and ignored.port == 22


def test_explicit_arguments_win_over_the_config(tmp_path: Path) -> None:
    config = _write_config(tmp_path / "c", "Host h\n  HostName real.example\n  Port 2200\n  User u\n"
                           "  IdentityFile ~/k1\n  ProxyJump j1,ju@j2:2022\n")
    ep = resolve_endpoint("h", 2300, "me", "/keys/k0", "/keys/kh", ssh_config_path=config)
    assert (ep.hostname, ep.port, ep.user) == ("real.example", 2300, "me")
    assert ep.key_files == ("/keys/k0", os.path.expanduser("~/k1"))
    assert ep.known_hosts_files == ("/keys/kh",)
    assert ep.jump is not None and (ep.jump.hostname, ep.jump.port, ep.jump.user) == ("j2", 2022, "ju")
    assert ep.jump.jump is not None and ep.jump.jump.hostname == "j1" and ep.jump.jump.jump is None
    assert parse_jump("ssh://bob@[::1]:2022") == ("bob", "::1", 2022)
    with pytest.raises(ConfigError, match="port"):
        parse_jump("host:notaport")
    with pytest.raises(ConfigError, match="invalid host"):
        resolve_endpoint("bad host", use_ssh_config=False)


def test_proxy_jump_through_a_second_server(sim: Sim) -> None:
    jump, _ = make_server(sim.tmp, "jump", sim.key)
    try:
        with open(sim.known_hosts, "a") as handle:
            handle.write(known_hosts_line("127.0.0.1", jump.port, jump.host_key))
        config = _write_config(sim.tmp / "ssh_config", f"""
Host target
    HostName 127.0.0.1
    Port {sim.port}
    ProxyJump alice@127.0.0.1:{jump.port}
Host *
    User alice
    IdentityFile {sim.key_file}
    IdentitiesOnly yes
    UserKnownHostsFile {sim.known_hosts}
""")
        t = sim.connect(host="target", port=None, user=None, key_file=None, known_hosts=None,
                        use_ssh_config=True, ssh_config_path=config)
        assert t.run(["sh", "-c", 'echo "$SIM_NAME"']).stdout == "main\n"  # ran on the target
        assert jump.connection_count == 1 and sim.server.connection_count == 1
        t.put_files({"via-jump": b"x"})
        assert (sim.home / "via-jump").read_bytes() == b"x"
        # losing the jump host's link is healed too
        jump.drop_connections()
        assert t.run(["echo", "healed"], retry_safe=True).stdout == "healed\n"
        t.close()
    finally:
        jump.stop()


RELAY = """
import os, selectors, socket, sys
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])))
sel = selectors.DefaultSelector()
sel.register(sock, selectors.EVENT_READ)
sel.register(0, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj is sock:
            data = sock.recv(65536)
            if not data:
                sys.exit(0)
            os.write(1, data)
        else:
            data = os.read(0, 65536)
            if not data:
                sys.exit(0)
            sock.sendall(data)
"""


def test_proxy_command_is_used_when_configured(sim: Sim) -> None:
    relay = sim.tmp / "relay.py"
    relay.write_text(RELAY)
    marker = sim.tmp / "relay-used"
    config = _write_config(sim.tmp / "ssh_config", f"""
Host viaproxy
    HostName 127.0.0.1
    Port {sim.port}
    User alice
    IdentityFile {sim.key_file}
    IdentitiesOnly yes
    UserKnownHostsFile {sim.known_hosts}
    ProxyCommand sh -c 'touch {marker}; exec {sys.executable} {relay} %h %p'
""")
    t = sim.connect(host="viaproxy", port=None, user=None, key_file=None, known_hosts=None,
                    use_ssh_config=True, ssh_config_path=config)
    assert t.run(["echo", "proxied"]).stdout == "proxied\n"
    assert marker.exists()
