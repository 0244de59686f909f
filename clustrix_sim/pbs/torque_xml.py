"""Torque's ``qstat -x``: the full job attributes as one line of XML (``MXMLToXString``).

``<?xml version="1.0"?>`` on its own line, then ``<Data><Job><Job_Id>..</Job_Id>...</Job>
</Data>`` on one line; resources nest (``<Resource_List><nodes>1:ppn=4</nodes>...``) and text
is escaped for XML. Times stay epoch seconds (only the text layout converts them).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

__all__ = ["xml_text"]


def xml_text(jobs: list) -> str:
    parts = ["<Data>"]
    for job_id, attrs in jobs:
        parts.append(f"<Job><Job_Id>{escape(job_id)}</Job_Id>")
        k = 0
        while k < len(attrs):
            name, resource, value = attrs[k]
            if resource is None:
                parts.append(f"<{name}>{escape(value)}</{name}>")
                k += 1
                continue
            parts.append(f"<{name}>")
            while k < len(attrs) and attrs[k][0] == name and attrs[k][1] is not None:
                parts.append(f"<{attrs[k][1]}>{escape(attrs[k][2])}</{attrs[k][1]}>")
                k += 1
            parts.append(f"</{name}>")
        parts.append("</Job>")
    parts.append("</Data>")
    return '<?xml version="1.0"?>\n' + "".join(parts) + "\n"
