"""``qstat``: job status in the default table, the alternate layout, or in full (text, JSON, DSV).

Selection (OpenPBS ``qstat.c``): with ids, each is looked up on its own; an unknown one prints
``qstat: Unknown Job Id <id>`` (Torque: ``Unknown Job Id Error``) and exit code 153, a finished
one without ``-x``/``-H`` prints ``qstat: <id> Job has finished, use -x or -H to obtain
historical job information`` (35); the others still print and the exit code is the last
error's. Without ids every job is listed: PBS Pro hides finished ones unless ``-x``; Torque shows
completed jobs (``C``) until ``keep_completed`` passes. ``-x`` in Torque means XML, not history.
"""

from __future__ import annotations

import getopt
import sys

from clustrix_sim.pbs.dialect import PBSPRO, Dialect

__all__ = ["main"]

PBS_OPTS = "1aBfF:GHiJMnpQqrsSTtu:wxD:E"
TORQUE_OPTS = "1aBefGilMnQqRrstu:W:x"


def _usage(dialect: Dialect) -> str:
    if dialect.name == "torque":
        return ("usage: qstat [-f [-1]] [-W site_specific] [-x] [ job_identifier... | destination... ]\n"
                "       qstat [-a|-i|-r|-e] [-u user] [-n [-1]] [-s] [-t] [-G|-M] [-R] [job_id... | destination...]\n"
                "       qstat -Q [-f [-1]] [-W site_specific] [ destination... ]\n"
                "       qstat -q [-G|-M] [ destination... ]\n"
                "       qstat -B [-f [-1]] [-W site_specific] [ server_name... ]\n")
    return ("usage: \n"
            "qstat [-f] [-J] [-p] [-t] [-x] [-E] [-F format] [-D delim] [-w] [ job_identifier... | destination... ]\n"
            "qstat [-a|-i|-r|-H|-T] [-J] [-t] [-u user] [-n] [-s] [-G|-M] [-1] [-w] [ job_identifier... | destination... ]\n"
            "qstat -Q [-f] [-F format] [-D delim] [-w] [ destination... ]\n"
            "qstat -q [-G|-M] [ destination... ]\n"
            "qstat -B [-f] [-F format] [-D delim] [-w] [ server_name... ]\n"
            "qstat --version\n")


def main(argv: list[str], dialect: Dialect = PBSPRO) -> int:
    if argv == ["--version"]:
        sys.stdout.write(f"pbs_version = {dialect.version}\n" if dialect.name != "torque"
                         else f"Version: {dialect.version}\n")
        return 0
    try:
        opts, ids = getopt.getopt(argv, TORQUE_OPTS if dialect.name == "torque" else PBS_OPTS)
    except getopt.GetoptError as exc:
        sys.stderr.write(f"qstat: invalid option -- '{exc.opt}'\n" if "not recognized" in exc.msg
                         else f"qstat: option requires an argument -- '{exc.opt}'\n")
        sys.stderr.write(_usage(dialect))
        return 2
    flags = {k for k, _ in opts}
    values = dict(opts)
    fmt = values.get("-F", "").lower()
    if "-F" in flags and fmt not in ("json", "dsv"):
        sys.stderr.write("qstat: invalid output format\n" + _usage(dialect))
        return 2
    if fmt and "-f" not in flags:
        sys.stderr.write("qstat: -F option is only valid with -f option\n" + _usage(dialect))
        return 2
    from clustrix_sim.pbs.query import Query, run_query

    query = Query(
        ids=ids, full="-f" in flags, fmt=fmt or "text", delimiter=values.get("-D", "|"),
        history=dialect.has_history and ("-x" in flags or "-H" in flags),
        finished_only="-H" in flags, xml=dialect.name == "torque" and "-x" in flags,
        subjobs="-t" in flags, arrays_only="-J" in flags, user=values.get("-u"),
        alternate=bool({"-a", "-u", "-n", "-s", "-i", "-r"} & flags) and "-f" not in flags,
        nodes="-n" in flags, one_line="-1" in flags, wide="-w" in flags,
    )
    return run_query(query, dialect)
