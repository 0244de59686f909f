"""``qstat -f`` writers: the text layout (``prt_attr``), ``-F dsv`` and ``-F json``.

Text: each attribute is ``    name[.resource] = value``; the value is split on commas and the
pieces printed while ``len(piece) + column < limit`` (78 in PBS Pro, 77 in Torque); otherwise
``\\n\\t`` starts a continuation line (not before the first piece) and a piece still too long
is broken every ``limit`` columns. The comma is printed without moving the column count, and
empty pieces vanish (``strtok``), exactly like the C. Non-printing characters other than
newline and tab print as ``^X``. Times print as ``ctime()`` text.

JSON: the writer of OpenPBS before cJSON (``src/lib/Libcmds/pbs_json.c``, 22.05/23.06):
four-space indents, ``"key":value`` with no space, resources and ``Variable_List`` as nested
objects, and a value that ``strtod`` reads whole (and that does not start with ``0`` unless
below 1) printed bare as a number -- verbatim, which is why real qstat prints invalid JSON
for values like ``inf`` or ``1e5x``. Strings escape ``\\b \\f \\n \\r \\t``, add a backslash
before a ``"`` not already preceded by one, and drop the backslash of ``\\,`` and ``\\'``.
"""

from __future__ import annotations

import re
import time

from clustrix_sim.pbs.attributes import TIME_ATTRS

__all__ = ["ctime", "full_text", "json_text", "dsv_text", "show_nonprint"]

_STRTOD_RE = re.compile(
    r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|0[xX][0-9a-fA-F]+|inf(?:inity)?|nan)",
    re.IGNORECASE)


def ctime(epoch: str | float) -> str:
    """``ctime()`` without its newline: ``Mon Jan  6 10:00:00 2025``."""
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(int(float(epoch))))


def show_nonprint(text: str) -> str:
    out = []
    for ch in text:
        code = ord(ch)
        if ch in "\n\t" or code >= 32 and code != 127:
            out.append(ch)
        else:
            out.append("^" + chr(code ^ 0x40))
    return "".join(out)


def _value(name: str, value: str) -> str:
    return ctime(value) if name in TIME_ATTRS else value


def prt_attr(name: str, resource: str | None, value: str, limit: int) -> str:
    """One attribute in the wrapped text layout, without its final newline."""
    head = f"    {name}" + (f".{resource}" if resource else "") + " = "
    start = len(name) + 7 + (len(resource) + 1 if resource else 0)
    out = [head]
    pieces = [p for p in value.split(",") if p]
    first = True
    for k, piece in enumerate(pieces):
        if len(piece) + start < limit:
            out.append(show_nonprint(piece))
            start += len(piece)
        else:
            if not first:
                out.append("\n\t")
                start = 9
            for ch in piece:
                out.append(show_nonprint(ch))
                start += 1
                if start > limit:
                    start = 8
                    out.append("\n\t")
        if k + 1 < len(pieces):
            first = False
            out.append(",")
    return "".join(out)


def full_text(jobs: list[tuple[str, list]], limit: int, *, one_line: bool = False) -> str:
    """``qstat -f``: ``Job Id: <id>``, one attribute per line, a blank line after each job.
    ``one_line`` is ``-w`` (PBS Pro): no wrapping, newlines shown as ``\\n``."""
    out: list[str] = []
    for job_id, attrs in jobs:
        out.append(f"Job Id: {job_id}\n")
        for name, resource, value in attrs:
            value = _value(name, value)
            if one_line:
                shown = value.replace("\n", "\\n").replace("\f", "\\f")
                out.append(f"    {name}" + (f".{resource}" if resource else "") + f" = {shown}\n")
            else:
                out.append(prt_attr(name, resource, value, limit) + "\n")
        out.append("\n")
    return "".join(out)


def dsv_text(jobs: list[tuple[str, list]], delimiter: str = "|") -> str:
    """``qstat -f -F dsv``: ``Job Id: <id>|name=value|...`` one job per line; a delimiter
    inside a value is escaped with ``\\`` and newlines print as ``\\n``."""
    lines = []
    for job_id, attrs in jobs:
        fields = [f"Job Id: {job_id}"]
        for name, resource, value in attrs:
            shown = _value(name, value).replace(delimiter, "\\" + delimiter)
            shown = show_nonprint(shown.replace("\n", "\\n").replace("\f", "\\f"))
            fields.append((f"{name}.{resource}" if resource else name) + f"={shown}")
        lines.append(delimiter.join(fields) + "\n")
    return "".join(lines)


def _is_number(value: str) -> bool:
    if not value.strip():
        return False
    m = _STRTOD_RE.match(value)
    if not m or value[m.end():].strip():
        return False
    try:
        number = float(value.strip()) if not value.strip().lower().startswith(("0x", "+0x", "-0x")) \
            else float(int(value.strip(), 16))
    except ValueError:
        number = 0.0
    return value[0] != "0" or number < 1


def _escape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "\b\f\n\r\t":
            out.append({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif ch == '"':
            if i == 0 or text[i - 1] != "\\":
                out.append("\\")
            out.append(ch)
        elif ch == "\\":
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if nxt in ("'", ","):
                out.append(nxt)
                i += 1
            else:
                out.append(ch + nxt)
                i += 1
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _pair(indent: int, key: str, value: str) -> str:
    shown = value if _is_number(value) else '"' + show_nonprint(_escape(value)) + '"'
    return f"{' ' * indent}\"{key}\":{shown}"


def _variable_pairs(value: str) -> list[tuple[str, str | None]]:
    """``Variable_List`` split like qstat does: on unescaped commas, then at the first ``=``;
    a name without ``=`` has no value (the old writer then prints nothing for it)."""
    pairs: list[tuple[str, str | None]] = []
    i = 0
    while i < len(value):
        key, val, seen_eq = [], [], False
        while i < len(value) and value[i] != ",":
            if value[i] == "\\" and i + 1 < len(value) and value[i + 1] == ",":
                i += 1
            if not seen_eq and value[i] == "=":
                seen_eq = True
            else:
                (val if seen_eq else key).append(value[i])
            i += 1
        pairs.append(("".join(key), "".join(val) if seen_eq else None))
        i += 1
    return pairs


def json_text(jobs: list[tuple[str, list]], *, timestamp: int, version: str, server: str) -> str:
    """``qstat -f -F json``; no ``Jobs`` key when nothing matched."""
    lines = [f'    "timestamp":{timestamp}', f'    "pbs_version":"{version}"', f'    "pbs_server":"{server}"']
    if jobs:
        job_blocks = []
        for job_id, attrs in jobs:
            items: list[str] = []
            k = 0
            while k < len(attrs):
                name, resource, value = attrs[k]
                if resource is not None:
                    inner = []
                    while k < len(attrs) and attrs[k][0] == name and attrs[k][1] is not None:
                        inner.append(_pair(16, attrs[k][1], _value(name, attrs[k][2])))
                        k += 1
                    items.append(f'            "{name}":{{\n' + ",\n".join(inner) + "\n            }")
                    continue
                if name == "Variable_List":
                    inner = [_pair(16, key, val) for key, val in _variable_pairs(value) if val is not None]
                    items.append(f'            "{name}":{{\n' + ",\n".join(inner) + "\n            }")
                else:
                    items.append(_pair(12, name, _value(name, value)))
                k += 1
            job_blocks.append(f'        "{job_id}":{{\n' + ",\n".join(items) + "\n        }")
        lines.append('    "Jobs":{\n' + ",\n".join(job_blocks) + "\n    }")
    return "{\n" + ",\n".join(lines) + "\n}\n"
