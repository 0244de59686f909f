"""A griffe extension: the reStructuredText bits of clustrix's docstrings, as Markdown.

The docstrings are written for humans reading the source and use a little reStructuredText:
roles (``:class:`~clustrix.spec.JobSpec```), literal blocks introduced by ``::`` and, once, a
simple table. mkdocstrings renders docstrings as Markdown, where those would show as raw text, so
this extension rewrites them when griffe loads each object (the source files stay as they are):

- a role becomes inline code; when its target is a name in one of the three packages (fully
  qualified, or relative to the docstring's module) it also becomes an *optional* cross-reference (a link when that object is documented
  on some page, plain code otherwise, never a broken link);
- a paragraph ending in ``::`` ends in ``:`` (the indented block after it is already a Markdown
  code block);
- a simple table (``===== =====`` borders) becomes a Markdown table.

Wired in ``mkdocs.yml`` (``extensions: [docs/hooks/rst_roles.py:RstRoles]``) and tested in
``tests/docs/test_rst_roles.py``.
"""

from __future__ import annotations

import html
import re
from itertools import pairwise
from typing import Any

import griffe

PACKAGES = ("clustrix", "clustrix_sim", "pytest_clustrix")

_ROLE_RE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj|const):`(?P<target>[^`]+)`")
_TOKEN_RE = re.compile(r":[\w:]+:`[^`]*`|``[^`]*``|\S+")
_BORDER_RE = re.compile(r"^(?P<indent> *)=+(?: +=+)+ *$")


def _role(match: re.Match[str], module: str | None = None) -> str:
    target = match.group("target").strip()
    explicit = re.fullmatch(r"(?P<title>.+?)\s*<(?P<ref>[^>]+)>", target)
    if explicit:
        title, ref = explicit.group("title"), explicit.group("ref")
    else:
        ref = target.lstrip("~")
        title = ref.rsplit(".", 1)[-1] if target.startswith("~") else ref
    ref = ref.lstrip("~.")
    code = f"<code>{html.escape(title)}</code>"
    if module and ref.split(".", 1)[0] not in PACKAGES and re.fullmatch(r"[A-Za-z_][\w.]*", ref):
        ref = f"{module}.{ref}"  # relative to the module whose docstring this is
    if "." in ref and ref.split(".", 1)[0] in PACKAGES and re.fullmatch(r"[\w.]+", ref):
        return f'<autoref identifier="{ref}" optional>{code}</autoref>'
    return code


def _table(lines: list[str]) -> list[str] | None:
    """A simple reStructuredText table (border, header, border, rows, border) as Markdown."""
    border = _BORDER_RE.match(lines[0])
    if border is None:
        return None
    indent = len(border.group("indent"))
    spans = [(m.start(), m.end()) for m in re.finditer(r"=+", lines[0])]
    closing = [i for i, line in enumerate(lines) if line.strip() and line.strip() == lines[0].strip()]
    if len(closing) < 3:
        return None

    def cells(line: str) -> list[str]:
        # A cell may overflow its column (the source is read by people, not docutils): a
        # column boundary that falls inside a role, a code span or a word moves past its end.
        tokens = [m.span() for m in _TOKEN_RE.finditer(line)]
        cuts: list[int] = []
        shift = 0  # an overflowing cell pushes the rest of its row to the right
        for nominal, _end in spans[1:]:
            start = max([nominal + shift, *cuts[-1:]])
            for t_start, t_end in tokens:
                if t_start < start < t_end:
                    start = t_end
            shift = start - nominal
            cuts.append(start)
        bounds = [spans[0][0], *cuts, len(line)]
        return [line[a:b].strip().replace("|", "\\|") for a, b in pairwise(bounds)]

    header = cells(lines[1])
    body = [cells(line) for line in lines[closing[1] + 1:closing[2]] if line.strip()]
    pad = " " * indent
    table = [pad + "| " + " | ".join(header) + " |", pad + "|" + "---|" * len(header)]
    table += [pad + "| " + " | ".join(row) + " |" for row in body]
    return table + lines[closing[2] + 1:]


def to_markdown(text: str, module: str | None = None) -> str:
    """The docstring ``text`` with the reStructuredText described above rewritten.

    ``module`` is the dotted path of the module the docstring belongs to: a role naming an
    object relative to it (``:func:`parse_status```) refers to ``module.parse_status``.
    """
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if _BORDER_RE.match(lines[i]):
            block_end = i
            borders = 0
            while block_end < len(lines) and lines[block_end].strip():
                borders += bool(_BORDER_RE.match(lines[block_end]))
                block_end += 1
            converted = _table(lines[i:block_end]) if borders >= 3 else None
            if converted is not None:
                out.extend(converted)
                i = block_end
                continue
        out.append(lines[i])
        i += 1
    text = "\n".join(out)
    text = re.sub(r"^[ \t]*::[ \t]*$", "", text, flags=re.MULTILINE)
    text = re.sub(r"(\S)::[ \t]*$", r"\1:", text, flags=re.MULTILINE)
    return _ROLE_RE.sub(lambda m: _role(m, module), text)


class RstRoles(griffe.Extension):
    """Rewrite every loaded docstring with :func:`to_markdown`."""

    def on_instance(self, *, node: Any, obj: griffe.Object, agent: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            module = obj.module.path if obj.module is not None else None
            obj.docstring.value = to_markdown(obj.docstring.value, module)
