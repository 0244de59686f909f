"""Run the simulated login node's SSH server as its own process until SIGTERM/SIGINT.

    python -m clustrix_sim.ssh --home DIR --authorized-key KEY.pub --host-key HOST_KEY
                               [--env-json JSON|@FILE] [--user U] [--bind 127.0.0.1] [--port N]
                               [--port-file FILE] [--log-file FILE]

The port is written to ``--port-file`` (atomically) once the server listens, so a parent can wait
for it. The controller does not use this: it runs :class:`~clustrix_sim.ssh.server.SimSSHServer`
in its own process.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import logging
import os
import signal
import threading

import paramiko

from clustrix_sim.ssh.keys import write_private_file
from clustrix_sim.ssh.server import SimSSHServer


def load_authorized_keys(path: str) -> list[paramiko.PKey]:
    """Keys from an authorized_keys/.pub file (one ``type base64 [comment]`` per line) or a
    private key file."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if "PRIVATE KEY" in text:
        return [paramiko.PKey.from_path(path)]
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) < 2:
            raise ValueError(f"{path}:{number}: expected 'TYPE BASE64 [comment]', got {line!r}")
        keys.append(paramiko.PKey.from_type_string(fields[0], base64.b64decode(fields[1])))
    return keys


def main(argv: list[str] | None = None) -> int:
    """Run a SimSSHServer until SIGTERM/SIGINT; write the port to ``--port-file`` once listening."""
    parser = argparse.ArgumentParser(prog="python -m clustrix_sim.ssh", description=__doc__.split("\n")[0])
    parser.add_argument("--home", required=True, help="login directory (cwd of commands, SFTP base)")
    parser.add_argument("--env-json", help="JSON object (or @file) with the commands' environment")
    parser.add_argument("--authorized-key", action="append", required=True,
                        help="public key / authorized_keys file (or private key); repeatable")
    parser.add_argument("--host-key", required=True, help="host private key file (OpenSSH format)")
    parser.add_argument("--user", default=getpass.getuser())
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the listening port here (atomically)")
    parser.add_argument("--log-file", help="append the server log here")
    args = parser.parse_args(argv)

    if args.log_file:
        handler = logging.FileHandler(args.log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logging.getLogger("clustrix_sim.ssh").addHandler(handler)
        logging.getLogger("clustrix_sim.ssh").setLevel(logging.INFO)
    env: dict[str, str] = dict(os.environ)
    if args.env_json:
        raw = args.env_json
        if raw.startswith("@"):
            with open(raw[1:], encoding="utf-8") as handle:
                raw = handle.read()
        env = json.loads(raw)
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            parser.error("--env-json must be a JSON object of string values")
    keys = [key for path in args.authorized_key for key in load_authorized_keys(path)]
    server = SimSSHServer(keys, paramiko.PKey.from_path(args.host_key), env, args.home, args.user,
                          bind=args.bind, port=args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    if args.port_file:
        write_private_file(args.port_file, f"{server.port}\n", 0o644)
    try:
        while not stop.wait(3600):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
