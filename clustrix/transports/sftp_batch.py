"""Pipelined SFTP: many requests in flight, one wait for their answers, instead of one wait each.

SFTP lets a client send requests without waiting, and a server must answer them as if it had
handled them one at a time in the order sent (draft-ietf-secsh-filexfer-02, section 6.1). Over a
link with 20 ms of latency a file written the obvious way (open, chmod, write, close, rename:
each answered before the next is sent) costs 100 ms, a file read 80 ms, and the reads of a poll
tick grow with the number of jobs. Here every step that does not need an earlier answer is sent
in the same *batch*:

- :func:`write_files` — batch 1: ``mkdir`` + ``setstat`` of the directories to create, and an
  exclusive ``open`` of every temporary file (mode 0600 from creation); batch 2: per file
  ``fsetstat`` (exact mode, before any byte), the writes, ``close`` and ``posix-rename`` into
  place. Two round trips for a whole job directory, key included.
- :func:`read_files` — batch 1: ``open`` of every path (a missing file answers "no such file");
  batch 2: ``fstat`` and a first ``read`` of each; the rest of a file larger than one read, and
  every ``close``, go in a third batch only when needed. Two round trips for any number of small
  files.
- :func:`lstat_paths` — every ``lstat`` in one batch.

Only a failure costs more: a missing parent directory falls back to creating it step by step
(:func:`clustrix.transports.sftp_ops.makedirs`) and retries once.

Requests and answers go through paramiko's ``SFTPClient`` request machinery (``_async_request``
and ``_read_response``, which its own pipelined file writes and prefetching use): each answer is
routed to the :class:`Pipeline` that sent the request. The amount in flight is bounded (bytes and
requests) to keep memory and the server's queue small.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import paramiko
from paramiko.message import Message
from paramiko.sftp import (
    CMD_ATTRS,
    CMD_CLOSE,
    CMD_DATA,
    CMD_EXTENDED,
    CMD_FSETSTAT,
    CMD_FSTAT,
    CMD_HANDLE,
    CMD_LSTAT,
    CMD_MKDIR,
    CMD_OPEN,
    CMD_READ,
    CMD_REMOVE,
    CMD_SETSTAT,
    CMD_STATUS,
    CMD_WRITE,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_EXCL,
    SFTP_FLAG_READ,
    SFTP_FLAG_WRITE,
)
from paramiko.sftp_attr import SFTPAttributes
from paramiko.sftp_client import int64

from clustrix.errors import TransportError
from clustrix.transports.base import FileStat

CHUNK_BYTES = 32 * 1024
"""Bytes per read or write request (what every SFTP server accepts)."""
MAX_IN_FLIGHT = 1024
"""Requests outstanding at once (a probe of a 500-task array sends 1,000 opens in one batch)."""
MAX_IN_FLIGHT_BYTES = 4 * 1024 * 1024
"""Bytes of write requests outstanding at once. Answers need no bound of their own: the SSH
channel window (2 MB) already caps what the server may send before we read it, and requests
other than writes are tens of bytes, so neither side can stall the other."""


class Pipeline:
    """Sends requests without waiting; :meth:`answer` waits for one. One thread at a time.

    paramiko routes each answer to the object that sent the request (``_async_response``), so
    answers can arrive in any order and none is lost while another is awaited.
    """

    def __init__(self, sftp: paramiko.SFTPClient):
        self.sftp = sftp
        self._got: dict[int, tuple[int, Message]] = {}
        self._pending: dict[int, int] = {}  # request number -> bytes it accounts for
        self._forgotten: set[int] = set()
        self._bytes = 0

    def _async_response(self, t: int, msg: Message, num: int) -> None:  # called by paramiko
        self._bytes -= self._pending.pop(num, 0)
        if num in self._forgotten:
            self._forgotten.discard(num)
        else:
            self._got[num] = (t, msg)

    def send(self, t: int, *args: Any) -> int:
        size = sum(len(a) for a in args if isinstance(a, (bytes, bytearray, memoryview)))
        while self._pending and (len(self._pending) >= MAX_IN_FLIGHT or self._bytes + size > MAX_IN_FLIGHT_BYTES):
            self.sftp._read_response()  # one packet, routed to its request's owner
        num = self.sftp._async_request(self, t, *args)
        self._pending[num] = size
        self._bytes += size
        return num

    def answer(self, num: int) -> tuple[int, Message]:
        while num not in self._got:
            self.sftp._read_response()  # one packet (ours, or an earlier request's, e.g. a close)
        return self._got.pop(num)

    def status(self, num: int) -> None:
        """Wait for a status answer; raise its error (``FileNotFoundError``, ``PermissionError``...)."""
        t, msg = self.answer(num)
        if t != CMD_STATUS:
            raise TransportError(f"unexpected SFTP answer type {t} to a request that expects a status")
        self.sftp._convert_status(msg)

    def handle(self, num: int) -> bytes:
        t, msg = self.answer(num)
        if t == CMD_STATUS:
            self.sftp._convert_status(msg)
        if t != CMD_HANDLE:
            raise TransportError(f"unexpected SFTP answer type {t} to open")
        return msg.get_binary()

    def attrs(self, num: int) -> SFTPAttributes:
        t, msg = self.answer(num)
        if t == CMD_STATUS:
            self.sftp._convert_status(msg)
        if t != CMD_ATTRS:
            raise TransportError(f"unexpected SFTP answer type {t} to stat")
        return SFTPAttributes._from_msg(msg)

    def data(self, num: int) -> bytes | None:
        """The bytes a read returned; None at end of file."""
        t, msg = self.answer(num)
        if t == CMD_STATUS:
            try:
                self.sftp._convert_status(msg)
            except EOFError:
                return None
        if t != CMD_DATA:
            raise TransportError(f"unexpected SFTP answer type {t} to read")
        return msg.get_binary()

    def forget(self, num: int) -> None:
        """An answer nobody waits for (a read handle's close): dropped whenever it arrives."""
        if self._got.pop(num, None) is None:
            self._forgotten.add(num)


def _mode_attrs(mode: int) -> SFTPAttributes:
    attrs = SFTPAttributes()
    attrs.st_mode = mode
    return attrs


def _quietly(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception:  # best effort clean-up on a path that already failed
        pass


def write_files(sftp: paramiko.SFTPClient, files: Mapping[str, bytes], mode: int, *,
                dirs: Sequence[str] = (), dir_mode: int = 0o700, host: str | None = None) -> None:
    """Create ``dirs`` (``dir_mode``, parents must exist) and write ``files`` atomically.

    Two round trips; see the module docstring. Raises ``FileNotFoundError`` when a parent of a
    directory or file does not exist (the caller creates it and calls again), ``OSError`` for
    other refusals.
    """
    pipe = Pipeline(sftp)
    made = [(d, pipe.send(CMD_MKDIR, d, _mode_attrs(dir_mode)), pipe.send(CMD_SETSTAT, d, _mode_attrs(dir_mode)))
            for d in dirs]
    flags = SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_EXCL
    opened: list[tuple[str, str, bytes, int]] = []
    for target, data in files.items():
        directory, name = posixpath.split(target)
        tmp = posixpath.join(directory, f".{name}.tmp-{os.urandom(6).hex()}")
        opened.append((target, tmp, data, pipe.send(CMD_OPEN, tmp, flags, _mode_attrs(mode))))
    # Batch 1 answered. A directory that exists already is accepted if it is one (as mkdir -p
    # would); it got ``dir_mode`` like a new one.
    problem: BaseException | None = None
    existing: list[str] = []
    for d, mk, chmod in made:
        try:
            pipe.status(mk)
        except FileNotFoundError as exc:
            problem = problem or exc
        except OSError:
            existing.append(d)  # SFTP v3 reports "exists" as a plain failure; checked below
        try:
            pipe.status(chmod)
        except OSError as exc:
            problem = problem or exc
    handles: list[tuple[str, str, bytes, bytes]] = []
    for target, tmp, data, num in opened:
        try:
            handles.append((target, tmp, data, pipe.handle(num)))
        except OSError as exc:
            problem = problem or exc
    if problem is None and existing:  # rare (a fresh job directory never exists): one more trip
        for d, num in [(d, pipe.send(CMD_LSTAT, d)) for d in existing]:
            if not stat.S_ISDIR(pipe.attrs(num).st_mode or 0):
                problem = problem or TransportError(f"cannot create directory {d!r}: a file of that name exists",
                                                    host=host)
    if problem is not None:
        for _target, tmp, _data, handle in handles:
            pipe.forget(pipe.send(CMD_CLOSE, handle))
            pipe.forget(pipe.send(CMD_REMOVE, tmp))
        raise problem
    # Batch 2: exact mode before any byte, the content, close, rename into place.
    steps: list[tuple[str, str, list[int]]] = []
    for target, tmp, data, handle in handles:
        nums = [pipe.send(CMD_FSETSTAT, handle, _mode_attrs(mode))]
        view = memoryview(data)
        for offset in range(0, len(view), CHUNK_BYTES):
            nums.append(pipe.send(CMD_WRITE, handle, int64(offset), view[offset:offset + CHUNK_BYTES].tobytes()))
        nums.append(pipe.send(CMD_CLOSE, handle))
        nums.append(pipe.send(CMD_EXTENDED, "posix-rename@openssh.com", tmp, target))
        steps.append((target, tmp, nums))
    for _target, tmp, nums in steps:
        try:
            for num in nums:
                pipe.status(num)
        except OSError as exc:
            problem = problem or exc
            _quietly(sftp.remove, tmp)
    if problem is not None:
        raise problem


def read_files(sftp: paramiko.SFTPClient, paths: Iterable[str]) -> dict[str, bytes | None]:
    """Read whole files (None for a missing one) in two round trips when each fits one read."""
    pipe = Pipeline(sftp)
    wanted = list(dict.fromkeys(paths))
    opens = [(path, pipe.send(CMD_OPEN, path, SFTP_FLAG_READ, SFTPAttributes())) for path in wanted]
    out: dict[str, bytes | None] = {}
    handles: list[tuple[str, bytes]] = []
    try:
        for path, num in opens:
            try:
                handles.append((path, pipe.handle(num)))
            except FileNotFoundError:
                out[path] = None
        firsts = [(path, handle, pipe.send(CMD_FSTAT, handle), pipe.send(CMD_READ, handle, int64(0), CHUNK_BYTES))
                  for path, handle in handles]
        got = [(path, handle, pipe.attrs(fstat).st_size or 0, bytearray(pipe.data(first) or b""))
               for path, handle, fstat, first in firsts]
        # Batch 3, only sent: the rest of files larger than one read, and every close (a read
        # handle's close changes nothing, so nobody waits for it); waited for only for a rest.
        rests: list[tuple[str, bytearray, list[int]]] = []
        for path, handle, size, blob in got:
            rests.append((path, blob, [pipe.send(CMD_READ, handle, int64(offset), CHUNK_BYTES)
                                       for offset in range(len(blob), size, CHUNK_BYTES)]))
        for _path, handle in handles:
            pipe.forget(pipe.send(CMD_CLOSE, handle))
        handles = []
        for path, blob, more in rests:
            for num in more:
                chunk = pipe.data(num)
                if chunk is None:
                    break  # the file shrank since fstat (a log being rewritten): what we have is it
                blob.extend(chunk)
            out[path] = bytes(blob)
    except OSError:
        for _path, handle in handles:  # a refused read (permissions): release the server's handles
            _quietly(lambda h: pipe.forget(pipe.send(CMD_CLOSE, h)), handle)
        raise
    return {path: out[path] for path in wanted}


def lstat_paths(sftp: paramiko.SFTPClient, paths: Iterable[str]) -> dict[str, FileStat | None]:
    """``lstat`` every path in one round trip; None for a missing one."""
    pipe = Pipeline(sftp)
    nums = [(path, pipe.send(CMD_LSTAT, path)) for path in dict.fromkeys(paths)]
    out: dict[str, FileStat | None] = {}
    for path, num in nums:
        try:
            attrs = pipe.attrs(num)
        except FileNotFoundError:
            out[path] = None
            continue
        if attrs.st_mode is None or attrs.st_uid is None:
            raise TransportError(f"the SFTP server did not report the mode and owner of {path!r}")
        out[path] = FileStat(attrs.st_mode, attrs.st_uid)
    return out
