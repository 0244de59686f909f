"""SimSSHServer against real SSH clients (paramiko's, and OpenSSH's when installed)."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path

import paramiko
import pytest

from clustrix_sim.ssh.keys import (
    known_hosts_line,
    load_private_key,
    new_ed25519_key,
    new_host_key,
    public_key_line,
    write_client_key,
    write_known_hosts,
)
from clustrix_sim.ssh.server import SimSSHServer

DEADLINE_S = 30.0


@pytest.fixture()
def env(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    client_key = write_client_key(tmp_path / "id_ed25519")
    host_key = new_host_key()
    server = SimSSHServer([client_key], host_key, {"PATH": os.environ["PATH"], "SIM_VAR": "sim value"},
                          str(home), "alice")
    server.start()
    known_hosts = write_known_hosts(tmp_path / "known_hosts", [("127.0.0.1", server.port, host_key)])
    yield {"server": server, "home": home, "key": client_key, "key_file": tmp_path / "id_ed25519",
           "known_hosts": known_hosts, "host_key": host_key, "tmp": tmp_path}
    server.stop()


def _client(env: dict, user: str = "alice", key: paramiko.PKey | None = None) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(env["known_hosts"]))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect("127.0.0.1", env["server"].port, username=user, pkey=key or env["key"],
                   allow_agent=False, look_for_keys=False, timeout=DEADLINE_S)
    return client


def _run(client: paramiko.SSHClient, command: str, stdin: bytes | None = None):
    chan = client.get_transport().open_session(timeout=DEADLINE_S)
    chan.settimeout(DEADLINE_S)
    chan.exec_command(command)
    if stdin is not None:
        chan.sendall(stdin)
    chan.shutdown_write()
    out, err = chan.makefile("rb"), chan.makefile_stderr("rb")
    data_out, data_err = out.read(), err.read()  # fine for small outputs only
    assert chan.status_event.wait(DEADLINE_S)
    code = chan.recv_exit_status()
    chan.close()
    return code, data_out, data_err


def _wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_keys_files_modes_and_formats(tmp_path: Path) -> None:
    key = write_client_key(tmp_path / "k")
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o600
    assert (tmp_path / "k").read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    pub = (tmp_path / "k.pub").read_text()
    assert pub.startswith("ssh-ed25519 ") and key.get_base64() in pub
    assert load_private_key(tmp_path / "k") == key
    assert public_key_line(key, "") == f"ssh-ed25519 {key.get_base64()}"
    assert known_hosts_line("127.0.0.1", 2222, key).startswith("[127.0.0.1]:2222 ssh-ed25519 ")
    assert known_hosts_line("h", 22, key).startswith("h ssh-ed25519 ")
    with pytest.raises(ValueError, match="invalid port"):
        known_hosts_line("h", 0, key)
    kh = write_known_hosts(tmp_path / "kh", [("127.0.0.1", 2022, key)])
    assert stat.S_IMODE(os.stat(kh).st_mode) == 0o600
    hosts = paramiko.HostKeys(str(kh))
    assert hosts.lookup("[127.0.0.1]:2022")["ssh-ed25519"] == key


def test_refuses_non_loopback_bind(tmp_path: Path) -> None:
    server = SimSSHServer([new_ed25519_key()], new_host_key(), {}, str(tmp_path), "u", bind="0.0.0.0")
    with pytest.raises(ValueError, match="refusing to bind"):
        server.start()
    with pytest.raises(ValueError, match="refusing to bind"):
        SimSSHServer([new_ed25519_key()], new_host_key(), {}, str(tmp_path), "u", bind="10.1.2.3").start()


def test_exec_exit_code_streams_env_and_cwd(env: dict) -> None:
    client = _client(env)
    try:
        code, out, err = _run(client, 'echo "$SIM_VAR|$HOME|$USER|$(pwd)"; echo oops >&2; exit 7')
        home = str(env["home"])
        assert code == 7
        assert out.decode() == f"sim value|{home}|alice|{home}\n"
        assert err == b"oops\n"
        code, out, _ = _run(client, "cat; echo done", stdin=b"line1\nline2\n")
        assert (code, out) == (0, b"line1\nline2\ndone\n")
        code, _, _ = _run(client, "kill -9 $$")
        assert code == 128 + 9
    finally:
        client.close()


def test_env_request_honoured(env: dict) -> None:
    client = _client(env)
    try:
        chan = client.get_transport().open_session(timeout=DEADLINE_S)
        chan.settimeout(DEADLINE_S)
        chan.update_environment({"FROM_CLIENT": "yes"})
        chan.exec_command('printf %s "$FROM_CLIENT"')
        assert chan.makefile("rb").read() == b"yes"
        assert chan.recv_exit_status() == 0
    finally:
        client.close()


def test_shell_request_runs_sh_on_the_channel(env: dict) -> None:
    client = _client(env)
    try:
        chan = client.invoke_shell()
        chan.settimeout(DEADLINE_S)
        chan.sendall(b"echo from-shell; exit 3\n")
        assert chan.makefile("rb").read() == b"from-shell\n"
        assert chan.recv_exit_status() == 3
    finally:
        client.close()


def test_auth_refused_for_wrong_key_wrong_user_and_password(env: dict) -> None:
    with pytest.raises(paramiko.AuthenticationException):
        _client(env, key=new_ed25519_key())
    with pytest.raises(paramiko.AuthenticationException):
        _client(env, user="mallory")
    client = paramiko.SSHClient()
    client.load_host_keys(str(env["known_hosts"]))
    with pytest.raises(paramiko.AuthenticationException):
        client.connect("127.0.0.1", env["server"].port, username="alice", password="pw",
                       allow_agent=False, look_for_keys=False, timeout=DEADLINE_S)
    client.close()


def test_sftp_real_filesystem(env: dict) -> None:
    client = _client(env)
    try:
        sftp = client.open_sftp()
        assert sftp.normalize(".") == os.path.realpath(env["home"])
        sftp.mkdir("d", 0o700)
        assert stat.S_IMODE(os.stat(env["home"] / "d").st_mode) == 0o700
        with sftp.open("d/f", "wb") as handle:
            handle.chmod(0o600)
            handle.write(b"payload")
        assert (env["home"] / "d" / "f").read_bytes() == b"payload"
        absolute = str(env["tmp"] / "abs.txt")
        with sftp.open(absolute, "wb") as handle:
            handle.write(b"abs")
        assert Path(absolute).read_bytes() == b"abs"
        assert sftp.stat("d/f").st_size == 7
        assert sftp.listdir("d") == ["f"]
        sftp.symlink("f", "d/link")
        assert sftp.readlink("d/link") == "f"
        assert stat.S_ISLNK(sftp.lstat("d/link").st_mode)
        with sftp.open("d/g", "wb") as handle:
            handle.write(b"g")
        sftp.posix_rename("d/g", "d/f")  # replaces
        assert sftp.open("d/f").read() == b"g"
        with pytest.raises(OSError):
            sftp.rename("d/link", "d/f")  # v3 rename refuses to replace
        with pytest.raises(FileNotFoundError):
            sftp.stat("d/missing")
        with pytest.raises(FileNotFoundError):
            sftp.open("nope/x", "wb")
        sftp.chmod("d/f", 0o640)
        assert stat.S_IMODE(os.stat(env["home"] / "d" / "f").st_mode) == 0o640
        sftp.remove("d/f")
        sftp.remove("d/link")
        sftp.rmdir("d")
        assert not (env["home"] / "d").exists()
        sftp.close()
    finally:
        client.close()


def test_large_output_on_both_streams(env: dict) -> None:
    client = _client(env)
    try:
        chan = client.get_transport().open_session(timeout=DEADLINE_S)
        chan.settimeout(DEADLINE_S)
        # 6 MB to each stream, interleaved; reading only one stream would stall the command
        chan.exec_command("head -c 6000000 /dev/zero | tr '\\0' o & head -c 6000000 /dev/zero | "
                          "tr '\\0' e >&2; wait")
        chan.shutdown_write()
        out = bytearray()
        err = bytearray()
        deadline = time.monotonic() + DEADLINE_S
        while not (chan.exit_status_ready() and chan.eof_received):
            assert time.monotonic() < deadline, "command did not finish"
            while chan.recv_ready():
                out += chan.recv(65536)
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            time.sleep(0.001)
        while chan.recv_ready():
            out += chan.recv(65536)
        while chan.recv_stderr_ready():
            err += chan.recv_stderr(65536)
        assert chan.recv_exit_status() == 0
        assert len(out) == 6_000_000 and set(out) == {ord("o")}
        assert len(err) == 6_000_000 and set(err) == {ord("e")}
    finally:
        client.close()


def _pid_gone(pid: int) -> bool:
    """True once ``pid`` is dead; a zombie counts (an orphan waits for PID 1 to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def test_closed_channel_and_dropped_connection_kill_the_process_group(env: dict) -> None:
    server: SimSSHServer = env["server"]
    for how in ("close-channel", "drop"):
        client = _client(env)
        pidfile = env["home"] / f"{how}.pid"
        chan = client.get_transport().open_session(timeout=DEADLINE_S)
        chan.exec_command(f"sleep 300 & echo $! > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; wait")
        _wait_until(pidfile.exists, "pid file")
        child = int(pidfile.read_text())
        assert server.connection_count >= 1
        if how == "drop":
            assert server.drop_connections() >= 1
        else:
            chan.close()
        _wait_until(lambda child=child: _pid_gone(child), f"sleep {child} to be killed ({how})")
        client.close()
    _wait_until(lambda: server.connection_count == 0, "connections to close")


def test_many_connections_and_channels(env: dict) -> None:
    clients = [_client(env) for _ in range(4)]
    try:
        assert env["server"].connection_count == 4
        channels = []
        for i, client in enumerate(clients):
            for j in range(5):
                chan = client.get_transport().open_session(timeout=DEADLINE_S)
                chan.settimeout(DEADLINE_S)
                chan.exec_command(f"sleep 0.2; echo {i}-{j}")
                channels.append((f"{i}-{j}\n".encode(), chan))
        for expected, chan in channels:
            assert chan.makefile("rb").read() == expected
            assert chan.recv_exit_status() == 0
    finally:
        for client in clients:
            client.close()


def test_proxy_jump_forwarding_only_to_loopback(env: dict, tmp_path: Path) -> None:
    jump = SimSSHServer([env["key"]], new_host_key(), {}, str(env["home"]), "alice").start()
    try:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.get_host_keys().add(f"[127.0.0.1]:{jump.port}", jump.host_key.get_name(), jump.host_key)
        client.connect("127.0.0.1", jump.port, username="alice", pkey=env["key"], allow_agent=False,
                       look_for_keys=False, timeout=DEADLINE_S)
        tunnel = client.get_transport().open_channel(
            "direct-tcpip", ("127.0.0.1", env["server"].port), ("127.0.0.1", 0), timeout=DEADLINE_S)
        inner = paramiko.SSHClient()
        inner.load_host_keys(str(env["known_hosts"]))
        inner.connect("127.0.0.1", env["server"].port, username="alice", pkey=env["key"], sock=tunnel,
                      allow_agent=False, look_for_keys=False, timeout=DEADLINE_S)
        assert _run(inner, "echo through")[1] == b"through\n"
        inner.close()
        with pytest.raises(paramiko.ChannelException):
            client.get_transport().open_channel("direct-tcpip", ("192.0.2.1", 22), ("127.0.0.1", 0),
                                                timeout=DEADLINE_S)
        client.close()
    finally:
        jump.stop()


@pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH client not installed")
def test_openssh_client_interoperates(env: dict) -> None:
    result = subprocess.run(
        ["ssh", "-F", "/dev/null", "-p", str(env["server"].port), "-i", str(env["key_file"]),
         "-o", f"UserKnownHostsFile={env['known_hosts']}", "-o", "StrictHostKeyChecking=yes",
         "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "alice@127.0.0.1",
         "echo out; echo err >&2; exit 4"],
        capture_output=True, text=True, timeout=DEADLINE_S)
    assert (result.returncode, result.stdout, result.stderr) == (4, "out\n", "err\n")


def test_module_entry_point_runs_a_server(env: dict, tmp_path: Path) -> None:
    host_key_file = tmp_path / "host_key"
    from clustrix_sim.ssh.keys import write_host_key

    host_key = write_host_key(host_key_file)
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [os.sys.executable, "-m", "clustrix_sim.ssh", "--home", str(env["home"]), "--env-json",
         '{"PATH": "/usr/bin:/bin", "X": "1"}', "--authorized-key", f"{env['key_file']}.pub",
         "--host-key", str(host_key_file), "--user", "alice", "--port-file", str(port_file),
         "--log-file", str(tmp_path / "sshd.log")])
    try:
        _wait_until(port_file.exists, "port file")
        port = int(port_file.read_text())
        client = paramiko.SSHClient()
        client.get_host_keys().add(f"[127.0.0.1]:{port}", host_key.get_name(), host_key)
        client.connect("127.0.0.1", port, username="alice", pkey=env["key"], allow_agent=False,
                       look_for_keys=False, timeout=DEADLINE_S)
        assert _run(client, 'echo "$X"') == (0, b"1\n", b"")
        client.close()
    finally:
        proc.terminate()
        assert proc.wait(DEADLINE_S) == 0
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
