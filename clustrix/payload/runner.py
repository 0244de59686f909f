"""The job side: ``python -m clustrix.runner JOB_DIR --task T --key-file F [--no-fsync]``.

Reads ``JOB_DIR/call.pkl``, checks its HMAC with the key in ``F`` before unpickling anything,
runs the call (``--task ""``) or every item of array chunk ``T`` in order, and writes
``result.pkl`` / ``result.T.pkl`` atomically (temp file, fsync, rename; mode 0600), signed, then
records its success in the job's exit-code sentinel (``exit_code`` / ``exit_code.T``).
``--no-fsync`` skips the fsyncs: the local backend passes it, because its job directories are
temporary and read on this machine right after the runner exits (page cache is coherent there).

Exit codes (the batch script records them in the ``exit_code`` sentinel):

====  ==========================================================================
0     a result file was written (even if the function raised: the exception
      travels in the result)
2     bad arguments (``--task`` not a number, task/payload kind mismatch)
3     payload missing, unreadable, truncated or not authenticated (or its list of
      shipped-code directories is, or names a directory that is gone)
4     key file missing, malformed or readable by others
5     the result could not be written (disk full, directory gone)
====  ==========================================================================

What the function prints goes both to the real stdout/stderr (so scheduler logs show it live)
and into the result; output that subprocesses write straight to the file descriptors only
reaches the logs. The user's local modules shipped with the job (``code.paths``, see
:mod:`clustrix.payload.code_paths`) go on ``sys.path`` before anything is unpickled. A function
that cannot be *loaded* here (its module is not importable on this
host) is reported like any exception the function raises: ``ModuleNotFoundError`` with a hint.

Start-up time matters (it is paid once per job, and per call by the local backend), so the
success path imports only the payload core (struct, pickle, CPython's own SHA-256: see
:mod:`clustrix.payload.mac`) and whatever the payload's own pickles import;
``tests/clustrix/payload/test_runner_imports.py`` checks that list. In
particular cloudpickle loads only when the payload holds a class (or other object cloudpickle
rebuilds) defined by value, or the result needs it: by-value functions are rebuilt without it
(:mod:`clustrix.payload.by_value`); ``traceback`` only when something raised, and ``clustrix.errors``
(``concurrent.futures``, ``logging``), ``typing``, ``dataclasses`` and ``threading`` never.
"""

from __future__ import annotations

import os
import sys
import time
from _thread import allocate_lock  # the lock ``threading.Lock`` is, without importing threading
from collections import deque  # already imported by ``-m`` (runpy -> contextlib)

TYPE_CHECKING = False  # not ``from typing import ...``: typing costs ~5 ms per job start
if TYPE_CHECKING:
    from typing import Any, TextIO

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_PAYLOAD = 3
EXIT_KEY = 4
EXIT_RESULT_WRITE = 5

CAPTURE_LIMIT_CHARS = 8 * 1024 * 1024
"""Per stream and call; beyond it the oldest output is dropped and a marker says how much."""

_USAGE = ("usage: python -m clustrix.runner JOB_DIR --task T --key-file FILE [--no-fsync]  "
          "(T empty = single job)")
_IMPORT_HINT = (
    "; functions defined at module level are pickled by reference, so their module must be "
    "importable on the execution host ({host}): install it there, put its directory on "
    "PYTHONPATH, or let clustrix ship it (your own modules are shipped unless ship_local_code is "
    "false; name others with ship_modules=[...]). Functions defined in __main__, lambdas and "
    "closures travel by value"
)


class _Tee:
    """A thread-safe stand-in for sys.stdout/sys.stderr: writes through and keeps a copy."""

    def __init__(self, real: TextIO | None, limit_chars: int = CAPTURE_LIMIT_CHARS):
        self._real = real
        self._limit = limit_chars
        self._lock = allocate_lock()
        self._parts: deque[str] = deque()
        self._size = 0
        self._dropped = 0

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            self._parts.append(text)
            self._size += len(text)
            while self._size > self._limit and len(self._parts) > 1:
                old = self._parts.popleft()
                self._size -= len(old)
                self._dropped += len(old)
            real = self._real
        if real is not None:
            try:
                real.write(text)
                if "\n" in text:  # keep scheduler logs live without flushing every character
                    real.flush()
            except (OSError, ValueError):  # a closed or broken log must not break the user's code
                pass
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._real is not None:
            try:
                self._real.flush()
            except (OSError, ValueError):
                pass

    def take(self) -> str:
        """Return what was captured since the last take, and start afresh."""
        with self._lock:
            text = "".join(self._parts)
            dropped = self._dropped
            self._parts.clear()
            self._size = 0
            self._dropped = 0
        if dropped:
            text = f"[clustrix: {dropped} earlier characters omitted; the job log has them all]\n" + text
        return text

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty, buffer...
        if self._real is None:
            raise AttributeError(name)
        return getattr(self._real, name)


def _host() -> str:
    try:
        return os.uname().nodename
    except (AttributeError, OSError):
        return "?"


def _fail(code: int, message: str) -> int:
    print(f"clustrix.runner: {message}", file=sys.stderr, flush=True)
    return code


def _parse(argv: list[str]) -> tuple[str, int | None, str, bool] | str:
    """Parse by hand (argparse costs startup time).

    Return ``(job_dir, task, key_file, durable)`` or an error message.
    """
    job_dir = None
    task = key_file = None
    durable = True
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--no-fsync":
            durable, i = False, i + 1
        elif arg in ("--task", "--key-file"):
            if i + 1 >= len(argv):
                return f"{arg} needs a value"
            if arg == "--task":
                task = argv[i + 1]
            else:
                key_file = argv[i + 1]
            i += 2
        elif arg.startswith("--task="):
            task, i = arg.partition("=")[2], i + 1
        elif arg.startswith("--key-file="):
            key_file, i = arg.partition("=")[2], i + 1
        elif arg.startswith("-") and arg != "-":
            return f"unknown option {arg!r}"
        elif job_dir is None:
            job_dir, i = arg, i + 1
        else:
            return f"unexpected argument {arg!r}"
    if job_dir is None:
        return "JOB_DIR is missing"
    if task is None:
        return "--task is missing (pass --task '' for a single job)"
    if not key_file:
        return "--key-file is missing"
    task = task.strip()
    if task == "":
        return job_dir, None, key_file, durable
    if not task.isdigit():
        return f"--task must be a task index (0, 1, ...) or empty, got {task!r}"
    return job_dir, int(task), key_file, durable


def _format_remote_tb(exc: BaseException, code_file: str | None) -> str:
    import traceback  # ~10 ms (linecache, tokenize, re): only when the function raised

    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next  # drop the runner's own frame: the user's code starts below it
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    if code_file:  # cloudpickle blanks the file name of by-value code; put the client's back
        text = text.replace('File "<dynamic-code>"', f'File "{code_file}"')
    return text


def _run_one(fn: Any, args: tuple, kwargs: dict, out: _Tee, err: _Tee, code_file: str | None) -> Any:
    from clustrix.payload.codec import ResultEnvelope
    from clustrix.payload.result import exception_envelope

    out.take(), err.take()
    started = time.time()
    try:
        value = fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt travel too
        tb_text = _format_remote_tb(exc, code_file)
        sys.stdout.flush(), sys.stderr.flush()
        return exception_envelope(exc, tb_text, stdout=out.take(), stderr=err.take(), host=_host(),
                                  pid=os.getpid(), started=started, ended=time.time())
    sys.stdout.flush(), sys.stderr.flush()
    return ResultEnvelope(ok=True, value=value, stdout=out.take(), stderr=err.take(), host=_host(),
                          pid=os.getpid(), started=started, ended=time.time())


def _load_failure(exc: BaseException, what: str, count: int, started: float) -> list[Any]:
    """Envelopes for items whose function or arguments could not be unpickled here."""
    import traceback

    from clustrix.payload.result import exception_envelope

    if isinstance(exc, ImportError):
        hint = _IMPORT_HINT.format(host=_host())
        try:
            exc.args = (f"{exc.args[0] if exc.args else exc}{hint}", *exc.args[1:])
        except Exception:  # noqa: BLE001 - some exception types forbid changing args
            pass
    tb_text = f"while loading the {what} on {_host()}:\n" + "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__)
    )
    env = exception_envelope(exc, tb_text, host=_host(), pid=os.getpid(), started=started, ended=time.time())
    return [env] * count


def _execute(opened: Any, task: int | None) -> list[Any]:
    from clustrix.payload.codec import ArrayPayload

    out = _Tee(sys.stdout)
    err = _Tee(sys.stderr)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    try:
        started = time.time()
        if isinstance(opened, ArrayPayload):
            assert task is not None
            try:
                fn = opened.load_fn()
                items = opened.load_chunk(task)
            except Exception as exc:  # noqa: BLE001 - reported to the client, not a crash
                return _load_failure(exc, f"function or chunk {task}", opened.chunk_sizes[task], started)
            return [_run_one(fn, args, kwargs, out, err, opened.code_file) for args, kwargs in items]
        try:
            call = opened.load_call()
        except Exception as exc:  # noqa: BLE001
            return _load_failure(exc, "function call", 1, started)
        return [_run_one(call.fn, call.args, call.kwargs, out, err, opened.code_file)]
    finally:
        sys.stdout, sys.stderr = saved


def main(argv: list[str] | None = None) -> int:
    """Run one job or array task; return the process exit code (see the module docstring)."""
    parsed = _parse(list(sys.argv[1:] if argv is None else argv))
    if isinstance(parsed, str):
        return _fail(EXIT_USAGE, f"{parsed}\n{_USAGE}")
    job_dir, task, key_file, durable = parsed

    from clustrix.payload.codec import ArrayPayload, atomic_write, dump_result, load_payload
    from clustrix.payload.format import is_payload_error, read_key_file

    try:
        key = read_key_file(key_file)
    except Exception as exc:  # noqa: BLE001 - KeyFileError, checked without importing errors first
        if not is_payload_error(exc):
            raise
        return _fail(EXIT_KEY, str(exc))
    payload_path = os.path.join(job_dir, "call.pkl")
    try:
        with open(payload_path, "rb") as fh:
            blob = fh.read()
    except OSError as exc:
        return _fail(EXIT_PAYLOAD, f"cannot read the payload {payload_path}: {exc}")
    try:
        opened = load_payload(blob, key)
    except Exception as exc:  # noqa: BLE001 - PayloadError (see above)
        if not is_payload_error(exc):
            raise
        return _fail(EXIT_PAYLOAD, f"{payload_path}: {exc}")

    if isinstance(opened, ArrayPayload):
        if task is None:
            return _fail(EXIT_USAGE, f"{payload_path} is an array payload; pass --task 0..{opened.num_chunks - 1}")
        if task >= opened.num_chunks:
            return _fail(EXIT_USAGE, f"--task {task} is out of range; this array has tasks 0..{opened.num_chunks - 1}")
    elif task is not None:
        return _fail(EXIT_USAGE, f"{payload_path} holds a single call; pass --task '' (got --task {task})")

    # Mirror the client's import roots (its script directory and cwd) where they exist here, in
    # front, as they were there; the job directory (our cwd, sys.path[0] under -m) holds no code.
    for entry in reversed(opened.sys_path):
        if entry not in sys.path and os.path.isdir(entry):
            sys.path.insert(0, entry)
    # The user's own modules, shipped with the job (see clustrix.payload.code_paths), go in front
    # of those: the code as it was at submission wins over any copy on this host.
    if os.path.exists(os.path.join(job_dir, "code.paths")):  # only then pay for the import
        from clustrix.payload.code_paths import add_shipped_code

        try:
            add_shipped_code(job_dir, key)
        except Exception as exc:  # noqa: BLE001 - PayloadError (see above)
            if not is_payload_error(exc):
                raise
            return _fail(EXIT_PAYLOAD, str(exc))

    envelopes = _execute(opened, task)
    result_name = "result.pkl" if task is None else f"result.{task}.pkl"
    try:
        atomic_write(os.path.join(job_dir, result_name),
                     dump_result(envelopes, key, binding=opened.binding, task=task), durable=durable)
    except OSError as exc:
        return _fail(EXIT_RESULT_WRITE, f"cannot write {os.path.join(job_dir, result_name)}: {exc}")
    _record_success(job_dir, task)
    return EXIT_OK


def _record_success(job_dir: str, task: int | None) -> None:
    """Write exit code 0 to the job's sentinel (``JobPaths.sentinel``), as the batch script would.

    The script records the runner's exit code after it returns, with ``printf`` and ``mv``; that
    ``mv`` is a process per job (~2.5 ms of CPU, a tenth of a trivial task). So on success the
    runner writes it here, and the script writes it only when the runner failed or left none
    (an older runner, or this write failing: it is never an error, the result is written).
    """
    from clustrix.payload.codec import atomic_write

    name = "exit_code" if task is None else f"exit_code.{task}"
    try:  # not durable: the script's own sentinel is not fsynced either; the result is
        atomic_write(os.path.join(job_dir, name), b"0\n", mode=0o644, durable=False)
    except OSError:
        pass


if __name__ == "__main__":
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    sys.exit(code)
