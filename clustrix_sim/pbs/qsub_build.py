"""``qsub``'s parsed options (directives, then the command line) as an engine ``JobRequest``.

Decisions, each as the servers behave: the job runs in the submitter's home directory
(Torque: ``-d``/``-w`` change it), not where qsub ran; ``PBS_O_WORKDIR`` is where qsub ran.
``Variable_List`` holds the ``PBS_O_*`` variables, the ``-v`` ones and, with ``-V``, the whole
environment (values keep their raw newlines; commas are escaped ``\\,``). The job's process
environment is the submitter's, as a login shell on a node of the same machine would give it.
"""

from __future__ import annotations

import os
import platform
import pwd
import socket

from clustrix_sim.pbs.dialect import Dialect
from clustrix_sim.pbs.qsub_values import (
    PBSE_BADATVAL,
    BadValue,
    parse_array,
    parse_depend,
    parse_resources,
    parse_variables,
)

__all__ = ["build_request", "check_job_name"]

MAX_JOB_NAME = 236


def check_job_name(name: str, dialect: Dialect) -> None:
    """The server's job-name check at submission (OpenPBS 23 ``verify_value_jobname``: at most
    236 characters from ``[A-Za-z0-9_+.-]``, a digit first allowed); Torque accepts any
    printable name up to 256 characters."""
    if dialect.name == "torque":
        if not name or len(name) > 256 or any(not c.isprintable() for c in name):
            raise BadValue("illegal -N value")
        return
    if not name or len(name) > MAX_JOB_NAME or any(not (c.isascii() and c.isalnum()) and c not in "-_+."
                                                   for c in name):
        raise BadValue("Illegal attribute or resource value", PBSE_BADATVAL)


def _home(user: str) -> str:
    try:
        return pwd.getpwnam(user).pw_dir
    except KeyError:
        return os.environ.get("HOME", "/")


def _escape(value: str) -> str:
    return value.replace(",", "\\,")


def build_request(opts: list[tuple[str, str]], *, dialect: Dialect, script: str, default_name: str,
                  script_args: list[str], argv: list[str]) -> tuple[dict, bool]:
    """(JobRequest dict, quiet) from the merged options; raises BadValue."""
    from clustrix_sim.pbs.common import current_user, server_info

    user, uid = current_user()
    environ = dict(os.environ)
    cwd = os.getcwd()
    home = environ.get("HOME") or _home(user)
    values: dict[str, str] = {}
    resources: list[str] = []
    variables: list[tuple[str, str]] = []
    other_attrs: list[str] = []
    for key, value in opts:
        if key == "-l":
            resources.append(value)
        elif key == "-W":
            other_attrs.append(value)
        elif key == "-v":
            variables += parse_variables(value, environ)
        else:
            values[key] = value
    res = parse_resources(resources, select_allowed=dialect.name != "torque")
    name = values.get("-N", default_name)
    check_job_name(name, dialect)
    join = values.get("-j", "n")
    if join not in ("oe", "eo", "n"):
        raise BadValue("illegal -j value")
    rerun = values.get("-r", "y")
    if rerun not in ("y", "n"):
        raise BadValue("illegal -r value")
    info = server_info("qsub")
    server = info["server"]
    queue = (values.get("-q") or "").split("@")[0] or None
    host = socket.gethostname().split(".")[0]
    fields: dict = {}
    array_flag = f"-{dialect.array_option}"
    if array_flag in values:
        indices, limit = parse_array(values[array_flag], torque=dialect.name == "torque")
        fields.update(array_indices=indices, array_max_parallel=limit, array_text=values[array_flag])
    for item in other_attrs:
        key, _, rest = item.partition("=")
        if key == "depend":
            clauses = parse_depend(rest)
            fields.update(dependencies=clauses, dependency_text=rest)
    work_dir = home
    if dialect.name == "torque" and (values.get("-d") or values.get("-w")):
        work_dir = os.path.abspath(values.get("-d") or values.get("-w") or home)
    pbs_o = [("PBS_O_HOME", home), ("PBS_O_LANG", environ.get("LANG", "C")), ("PBS_O_LOGNAME", user),
             ("PBS_O_PATH", environ.get("PATH", "")), ("PBS_O_MAIL", environ.get("MAIL", f"/var/mail/{user}")),
             ("PBS_O_SHELL", environ.get("SHELL", "/bin/sh")), ("PBS_O_WORKDIR", cwd),
             ("PBS_O_SYSTEM", platform.system()), ("PBS_O_QUEUE", queue or info["default_partition"]),
             ("PBS_O_HOST", host)]
    exported = list(variables)
    if "-V" in values:
        exported = [(k, v) for k, v in environ.items() if not k.startswith("PBS_O_")] + exported
    variable_list = ",".join(f"{k}={_escape(v)}" for k, v in pbs_o + exported)
    job_env = dict(environ)
    job_env.update({k: v for k, v in pbs_o if v})
    job_env.update(dict(exported))
    options = {
        "server": server, "submit_dir": cwd, "home": home, "join": join,
        "output_path": values.get("-o"), "error_path": values.get("-e"), "variable_list": variable_list,
        "submit_args": " ".join(argv), "select_text": res.select_text, "nodes_text": res.nodes_text,
        "place": res.place, "mpiprocs": res.mpiprocs_per_node, "resources": res.raw,
        "project": values.get("-P"),
    }
    request = dict(
        script=script, name=name, user=user, uid=uid, work_dir=work_dir, script_args=list(script_args),
        partition=queue, account=values.get("-A"), nodes=res.nodes, ntasks=res.nodes,
        cpus_per_task=res.cpus_per_node, mem_mb=res.mem_mb_per_node, gpus=res.gpus_per_node * res.nodes,
        time_limit_s=res.time_limit_s, hold="-h" in values, requeue=rerun == "y", env=job_env,
        submit_host=host, flavor_options={k: v for k, v in options.items() if v is not None}, **fields,
    )
    return request, "-z" in values
