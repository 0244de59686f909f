"""SSHTransport.run against a real SSH server: output, exit codes, stdin, quoting, timeouts,
concurrency, pooling, dropped connections."""

from __future__ import annotations

import threading

import pytest
from transport_helpers import DEADLINE_S, HOSTILE, Sim, pid_gone, wait_until

from clustrix.config.profile import Profile
from clustrix.errors import CommandError, CommandTimeoutError, ConnectionLostError, TransportError
from clustrix.transports import LocalTransport, transport_for
from clustrix.transports.ssh import SSHTransport
from clustrix.transports.ssh_pool import POOL


def test_exit_codes_and_separate_streams(sim: Sim) -> None:
    t = sim.connect()
    done = t.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
    assert done.argv == ("sh", "-c", "echo out; echo err >&2; exit 3")
    assert t.run(["true"]).returncode == 0 and t.run(["false"]).returncode == 1
    missing = t.run(["no-such-command-xyz"])
    assert missing.returncode == 127 and "no-such-command-xyz" in missing.stderr
    with pytest.raises(CommandError, match=r"exited 3 on alice@127\.0\.0\.1.*err.*try again"):
        done.check("try again")
    assert t.run(["sh", "-c", 'echo "$SIM_NAME|$PWD"']).stdout == f"main|{sim.home}\n"


def test_stdin_bytes_and_text(sim: Sim) -> None:
    t = sim.connect()
    assert t.run(["cat"], stdin=b"\x00bin\xff").stdout == "\x00bin\ufffd"
    assert t.run(["wc", "-l"], stdin="1\n2\n3\n").stdout.strip() == "3"
    assert t.run(["cat"]).stdout == ""  # no stdin: EOF at once, not a hang
    big = b"x" * 3_000_000
    assert t.run(["wc", "-c"], stdin=big).stdout.strip() == str(len(big))


def test_megabytes_on_both_streams_do_not_deadlock(sim: Sim) -> None:
    t = sim.connect()
    script = ("head -c 6000000 /dev/zero | tr '\\0' o & head -c 5500000 /dev/zero | tr '\\0' e >&2;"
              " wait")
    done = t.run(["sh", "-c", script], timeout_s=DEADLINE_S)
    assert done.returncode == 0
    assert len(done.stdout) == 6_000_000 and set(done.stdout) == {"o"}
    assert len(done.stderr) == 5_500_000 and set(done.stderr) == {"e"}


def test_hostile_argv_is_passed_verbatim_and_executes_nothing(sim: Sim) -> None:
    t = sim.connect()
    done = t.run(["printf", "%s\\0", *HOSTILE])
    assert done.returncode == 0
    assert done.stdout.split("\0")[:-1] == HOSTILE
    assert not (sim.home / "MARKER").exists()
    done = t.run(["touch", "; touch MARKER2 #"])
    assert done.returncode == 0 and (sim.home / "; touch MARKER2 #").exists()
    assert not (sim.home / "MARKER2").exists()


def test_bad_argv_is_refused_before_sending(sim: Sim) -> None:
    t = sim.connect()
    with pytest.raises(TypeError, match="single string"):
        t.run("echo hi")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        t.run([])
    with pytest.raises(ValueError, match="NUL"):
        t.run(["echo", "a\0b"])


def test_timeout_kills_the_remote_command(sim: Sim) -> None:
    t = sim.connect()
    pidfile = sim.home / "pid"
    with pytest.raises(CommandTimeoutError) as caught:
        t.run(["sh", "-c", f"echo $$ > {pidfile}.tmp && mv {pidfile}.tmp {pidfile} && exec sleep 300"],
              timeout_s=1.0)
    message = str(caught.value)
    assert "alice@127.0.0.1" in message and "sleep 300" in message and "1 s" in message
    assert caught.value.host == t.host
    pid = int(pidfile.read_text())
    wait_until(lambda: pid_gone(pid), "the timed-out command to be killed")
    assert t.run(["echo", "still usable"]).stdout == "still usable\n"


def test_many_threads_share_one_pooled_connection(sim: Sim) -> None:
    first = sim.connect()
    second = sim.connect()  # same (host, port, user): the same connection
    results: dict[tuple[int, int], str] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        transport = first if n % 2 else second
        try:
            for i in range(5):
                results[(n, i)] = transport.run(["sh", "-c", f"sleep 0.05; echo {n}-{i}"]).stdout
        except BaseException as exc:  # reported below, with the thread's failure
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_S * 2)
    assert not errors, errors
    assert results == {(n, i): f"{n}-{i}\n" for n in range(16) for i in range(5)}
    assert sim.server.connection_count == 1


def test_close_releases_the_pooled_connection(sim: Sim) -> None:
    a = sim.connect()
    b = sim.connect()
    a.run(["true"])
    a.close()
    a.close()  # idempotent
    assert b.run(["echo", "b"]).stdout == "b\n"  # b still holds the connection
    with pytest.raises(TransportError, match="closed"):
        a.run(["true"])
    b.close()
    wait_until(lambda: sim.server.connection_count == 0, "the server to see the connection close")
    c = sim.connect()
    assert c.run(["echo", "c"]).stdout == "c\n"


def test_drop_mid_command_raises_unless_retry_safe(sim: Sim) -> None:
    t = sim.connect(reconnect_backoff_s=0.05)
    pidfile = sim.home / "pid"
    caught: list[BaseException] = []

    def submit() -> None:
        try:
            t.run(["sh", "-c", f"echo $$ > {pidfile}.tmp && mv {pidfile}.tmp {pidfile}; sleep 300"])
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=submit)
    thread.start()
    wait_until(pidfile.exists, "the command to start")
    assert sim.server.drop_connections() == 1
    thread.join(DEADLINE_S)
    assert not thread.is_alive()
    assert len(caught) == 1 and isinstance(caught[0], ConnectionLostError)
    assert "may or may not have run" in str(caught[0]) and "retry_safe" in str(caught[0])
    # the next command reconnects transparently
    assert t.run(["echo", "after"], retry_safe=True).stdout == "after\n"
    assert sim.server.connection_count == 1


def test_drop_mid_command_reruns_a_retry_safe_command(sim: Sim) -> None:
    t = sim.connect(reconnect_backoff_s=0.05)
    runs = sim.home / "runs"
    script = (f"echo $$ >> {runs}; if [ $(wc -l < {runs}) -lt 2 ]; then sleep 300; fi; "
              "echo finished")
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(
        t.run(["sh", "-c", script], retry_safe=True)))
    thread.start()
    wait_until(runs.exists, "the first run to start")
    sim.server.drop_connections()
    thread.join(DEADLINE_S)
    assert not thread.is_alive()
    assert result and result[0].stdout == "finished\n"  # type: ignore[attr-defined]
    assert len(runs.read_text().split()) == 2


def test_idle_drop_reconnects_even_for_unsafe_commands(sim: Sim) -> None:
    t = sim.connect(reconnect_backoff_s=0.05)
    t.run(["true"])
    sim.server.drop_connections()
    # the command was never sent on the dead link, so running it on a new one is safe
    assert t.run(["echo", "again"]).stdout == "again\n"


def test_server_gone_for_good_gives_connection_lost(sim: Sim) -> None:
    t = sim.connect(reconnect_attempts=2, reconnect_backoff_s=0.05)
    t.run(["true"])
    sim.server.stop()
    with pytest.raises(ConnectionLostError, match="reconnect attempts failed"):
        t.run(["true"], retry_safe=True)


def test_connect_to_closed_port_fails_fast(sim: Sim) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    with pytest.raises(TransportError, match="cannot connect"):
        sim.connect(port=free_port)
    # the failed endpoint is not left in the pool
    assert all(port != free_port for _, port, _ in POOL.keys())


def test_transport_for_profile(sim: Sim) -> None:
    assert isinstance(transport_for(Profile()), LocalTransport)
    profile = Profile.from_mapping({
        "backend": "slurm", "host": "127.0.0.1", "port": sim.port, "user": "alice",
        "key_file": str(sim.key_file), "known_hosts": str(sim.known_hosts),
        "use_ssh_config": False, "command_timeout_s": 5,
    })
    transport = transport_for(profile)
    try:
        assert isinstance(transport, SSHTransport)
        assert transport.command_timeout_s == 5
        assert transport.run(["echo", "profile"]).stdout == "profile\n"
    finally:
        transport.close()
