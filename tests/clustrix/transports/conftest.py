"""Fixtures: a real SSH server (clustrix_sim's SimSSHServer) in the test process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from transport_helpers import Sim, make_server

from clustrix_sim.ssh.keys import write_client_key, write_known_hosts


@pytest.fixture()
def sim(tmp_path: Path) -> Iterator[Sim]:
    client_key = write_client_key(tmp_path / "id_ed25519")
    server, home = make_server(tmp_path, "main", client_key)
    known_hosts = write_known_hosts(tmp_path / "known_hosts",
                                    [("127.0.0.1", server.port, server.host_key)])
    state = Sim(server, home, tmp_path / "id_ed25519", client_key, known_hosts, server.host_key,
                tmp_path)
    try:
        yield state
    finally:
        for transport in state.opened:
            transport.close()
        server.stop()
