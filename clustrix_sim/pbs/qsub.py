"""``qsub``: parse options and ``#PBS`` directives like the real tool, submit, print the job id.

Directives are the ``#PBS`` lines before the first executable line (blank and ``#`` lines are
skipped; ``-C``/``$PBS_DPREFIX`` change the prefix); each is split into words like a shell
line and parsed with the command's own options. The command line wins over directives; ``-l``
resources merge key by key. Success prints ``<seq>.<server>`` (``<seq>[].<server>`` for an
array); ``-z`` prints nothing. A failure prints ``qsub: <message>`` and exits
``pbs_errno & 0xFF`` (``Unknown queue`` 170, ``Job violates queue and/or server resource
limits`` 188), or 2 after the usage text for a malformed option value.
"""

from __future__ import annotations

import getopt
import os
import shlex
import sys

from clustrix_sim.pbs.dialect import PBSPRO, Dialect
from clustrix_sim.pbs.qsub_values import USAGE_RC, BadValue

__all__ = ["main"]

PBS_OPTS = "a:A:c:C:e:fhIj:J:k:l:m:M:N:o:p:P:q:r:R:S:u:v:VW:Xz"
TORQUE_OPTS = "a:A:b:c:C:d:D:e:fF:hIj:k:K:l:L:m:M:nN:o:p:P:q:r:S:t:T:u:v:Vw:W:Xxz"

USAGE = """usage: qsub [-a date_time] [-A account_string] [-c interval]
\t[-C directive_prefix] [-e path] [-f ] [-h ] [-I [-X]] [-j oe|eo] [-J X-Y[:Z]]
\t[-k keep] [-l resource_list] [-m mail_options] [-M user_list]
\t[-N jobname] [-o path] [-p priority] [-P project] [-q queue] [-r y|n]
\t[-R o|e|oe] [-S path] [-u user_list] [-W otherattributes=value...]
\t[-v variable_list] [-V ] [-z] [script | -- command [arg1 ...]]
       qsub --version
"""

REFUSALS = {
    "invalid_partition": ("Unknown queue", 15018),
    "time_limit": ("Job violates queue and/or server resource limits", 15036),
    "node_config_unavailable": ("Job violates queue and/or server resource limits", 15036),
    "memory_unavailable": ("Job violates queue and/or server resource limits", 15036),
    "node_count": ("Job violates queue and/or server resource limits", 15036),
    "gres": ("Job violates queue and/or server resource limits", 15036),
    "array_spec": ("Array job exceeds server or queue size limit", 15107),
    "dependency": ("Unknown Job Id", 15001),
}


def _usage_error(message: str) -> int:
    sys.stderr.write(f"qsub: {message}\n{USAGE}")
    return USAGE_RC


def read_script(path: str | None) -> tuple[str, str]:
    """(text, default job name): the file, or standard input (``STDIN``)."""
    if path is None:
        return sys.stdin.read(), "STDIN"
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        return fh.read(), os.path.basename(path)


def directive_args(script: str, prefix: str) -> list[str]:
    """The words of every ``#PBS`` directive before the first executable line."""
    words: list[str] = []
    for k, line in enumerate(script.splitlines()):
        stripped = line.strip()
        if k == 0 and stripped.startswith("#!"):
            continue
        if not stripped:
            continue
        if line.startswith(prefix) and (len(line) == len(prefix) or line[len(prefix)].isspace()):
            try:
                words += shlex.split(line[len(prefix):])
            except ValueError:
                words += line[len(prefix):].split()
            continue
        if stripped.startswith("#"):
            continue
        break
    return words


def main(argv: list[str], dialect: Dialect = PBSPRO) -> int:
    if argv == ["--version"]:
        sys.stdout.write(f"pbs_version = {dialect.version}\n" if dialect.name != "torque"
                         else f"Version: {dialect.version}\n")
        return 0
    spec = TORQUE_OPTS if dialect.name == "torque" else PBS_OPTS
    try:
        cli, rest = getopt.getopt(argv, spec)
    except getopt.GetoptError as exc:
        return _usage_error(f"invalid option -- '{exc.opt}'")
    cli_keys = {k for k, _ in cli}
    script_path = rest[0] if rest and rest[0] != "--" else None
    try:
        script, default_name = read_script(script_path)
    except OSError as exc:
        sys.stderr.write(f"qsub: could not open script file {script_path}: {exc.strerror}\n")
        return 1
    prefix = dict(cli).get("-C") or os.environ.get("PBS_DPREFIX") or "#PBS"
    try:
        from_script, leftover = getopt.getopt(directive_args(script, prefix), spec)
    except getopt.GetoptError as exc:
        return _usage_error(f"directive error: invalid option -- '{exc.opt}'")
    if leftover:
        return _usage_error(f"directive error: {' '.join(leftover)}")
    # the command line wins: directives for options it also gives are dropped (-l and -v merge)
    merged = [(k, v) for k, v in from_script if k not in cli_keys or k in ("-l", "-v")] + cli
    from clustrix_sim.pbs.qsub_build import build_request

    try:
        request, quiet = build_request(merged, dialect=dialect, script=script, default_name=default_name,
                                       script_args=rest[1:] if script_path else [], argv=argv)
    except BadValue as exc:
        if exc.errno == USAGE_RC:
            return _usage_error(exc.message)
        sys.stderr.write(f"qsub: {exc.message}\n")
        return exc.errno & 0xFF
    return _submit(request, quiet, dialect)


def _submit(request: dict, quiet: bool, dialect: Dialect) -> int:
    from clustrix_sim.controller import protocol
    from clustrix_sim.pbs.common import call

    try:
        result = call("submit", "qsub", {"request": request})
    except protocol.RequestRefused as exc:
        message, errno = REFUSALS.get(exc.kind, (exc.message or exc.kind, 15004))
        if exc.kind == "dependency":
            message = f"{message} {exc.message}".strip()
        sys.stderr.write(f"qsub: {message}\n")
        return errno & 0xFF
    seq = int(result["job_id"])
    server = request["flavor_options"]["server"]
    if not quiet:
        bracket = "[]" if request.get("array_indices") is not None else ""
        sys.stdout.write(f"{seq}{bracket}.{server}\n")
    return 0
