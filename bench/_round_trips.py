"""Counting network round trips of clustrix's SSH transport, per thread, for the benches.

A *round trip* is a wait for the server after sending something: over SFTP, every switch from
sending requests to reading their answers counts one (pipelined requests sent back to back and
then answered together cost one round trip, a request answered before the next is sent costs one
each). Commands (``transport.run``) are counted separately: paramiko spends three round trips on
each (open a channel, start the command, wait for it to end), whatever the command does.

:class:`RoundTripCounter` patches paramiko's SFTP packet functions for the duration of a ``with``
block (process-wide, so start it before the client threads you want counted) and wraps one
transport's ``run``. Counts are kept per thread name, so the caller's submission can be told from
the poller thread's result probes.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

COMMAND_ROUND_TRIPS = 3
"""What one command costs paramiko: channel open, exec request, the command's end."""


class RoundTripCounter:
    """SFTP round trips, SFTP requests and commands, by thread name. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sftp_round_trips: Counter[str] = Counter()
        self.sftp_requests: Counter[str] = Counter()
        self.commands: Counter[str] = Counter()
        self._sent: dict[int, bool] = {}  # id(sftp client) -> last packet was a send

    def reset(self) -> None:
        with self._lock:
            self.sftp_round_trips.clear()
            self.sftp_requests.clear()
            self.commands.clear()

    def total(self, thread_prefix: str = "") -> int:
        """Round trips (SFTP + 3 per command) of threads whose name starts with ``thread_prefix``."""
        with self._lock:
            sftp = sum(v for k, v in self.sftp_round_trips.items() if k.startswith(thread_prefix))
            cmds = sum(v for k, v in self.commands.items() if k.startswith(thread_prefix))
        return sftp + COMMAND_ROUND_TRIPS * cmds

    def of(self, thread_prefix: str) -> tuple[int, int, int]:
        """``(sftp round trips, sftp requests, commands)`` of threads named ``thread_prefix*``."""
        with self._lock:
            pick = lambda c: sum(v for k, v in c.items() if k.startswith(thread_prefix))  # noqa: E731
            return pick(self.sftp_round_trips), pick(self.sftp_requests), pick(self.commands)

    def _on_send(self, client: Any) -> None:
        name = threading.current_thread().name
        with self._lock:
            self.sftp_requests[name] += 1
            self._sent[id(client)] = True

    def _on_read(self, client: Any) -> None:
        name = threading.current_thread().name
        with self._lock:
            if self._sent.get(id(client)):
                self.sftp_round_trips[name] += 1
                self._sent[id(client)] = False

    @contextlib.contextmanager
    def counting(self, transport: Any = None) -> Iterator[RoundTripCounter]:
        """Count paramiko SFTP traffic (all clients) and ``transport.run`` while the block runs."""
        from paramiko.sftp import BaseSFTP
        from paramiko.sftp_client import SFTPClient

        counter = self
        send, read = BaseSFTP._send_packet, BaseSFTP._read_packet

        def counting_send(self: Any, t: Any, packet: Any) -> Any:
            if isinstance(self, SFTPClient):  # a server in this process is not the client
                counter._on_send(self)
            return send(self, t, packet)

        def counting_read(self: Any) -> Any:
            if isinstance(self, SFTPClient):
                counter._on_read(self)
            return read(self)

        BaseSFTP._send_packet, BaseSFTP._read_packet = counting_send, counting_read  # type: ignore[method-assign]
        original_run = None
        if transport is not None:
            original_run = transport.run

            def run(argv: Any, *args: Any, **kwargs: Any) -> Any:
                with counter._lock:
                    counter.commands[threading.current_thread().name] += 1
                return original_run(argv, *args, **kwargs)

            transport.run = run
        try:
            yield self
        finally:
            BaseSFTP._send_packet, BaseSFTP._read_packet = send, read  # type: ignore[method-assign]
            if original_run is not None:
                transport.run = original_run
