"""Where clustrix keeps its own files on the client: the user data directory.

Layout (``$XDG_DATA_HOME`` defaults to ``~/.local/share``)::

    $XDG_DATA_HOME/clustrix/            mode 0700
        ledger.sqlite3                  the job ledger (override: $CLUSTRIX_LEDGER)
        keys/<profile>-<digest>.key     one HMAC key per profile target, mode 0600

``$CLUSTRIX_DATA_DIR`` overrides the whole directory (tests use it so they never touch the user's
real ledger or keys).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def data_dir(*, create: bool = True) -> Path:
    """The clustrix data directory, created 0700 on first use."""
    override = os.environ.get("CLUSTRIX_DATA_DIR")
    if override:
        path = Path(override).expanduser()
    else:
        base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
        path = Path(base).expanduser() / "clustrix"
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def ledger_path() -> Path:
    """The ledger database: ``$CLUSTRIX_LEDGER`` if set, else ``<data_dir>/ledger.sqlite3``."""
    override = os.environ.get("CLUSTRIX_LEDGER")
    if override:
        path = Path(override).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
    return data_dir() / "ledger.sqlite3"


def key_path(profile_name: str, target: str) -> Path:
    """The local HMAC key file for one profile target.

    ``target`` identifies where the key is also stored remotely (backend, user, host, port,
    remote_dir); a digest of it is part of the file name so two profiles with the same name but
    different clusters never share (and overwrite) a key.
    """
    digest = hashlib.sha256(target.encode("utf-8")).hexdigest()[:16]
    safe = _SAFE_NAME.sub("_", profile_name).strip("._") or "profile"
    keys = data_dir() / "keys"
    keys.mkdir(parents=True, exist_ok=True, mode=0o700)
    return keys / f"{safe}-{digest}.key"
