"""The code blocks of the documentation pages, and the rules that keep them executable.

Every fenced ``python`` block on a page under ``docs/`` is run by ``test_examples.py``, unless the
line right above its fence says why it cannot be (a real cluster, a Docker engine...)::

    <!-- not-run: needs a real cluster -->

A python block preceded by ``<!-- pytest: ARGS -->`` is a test module: it is saved as
``test_example.py`` and run with ``pytest ARGS``, which must pass at least one test.

A ``text`` block whose fence is preceded by ``<!-- expected-output -->`` is what the python
block before it prints, compared exactly. A ``yaml`` block with a top-level ``profiles`` key is a
clustrix configuration file and must load without a single problem. Python written under another
fence name (``py``, ``python3``, ``pycon``...) or under none would escape all this, so both are
refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

PYTHON = "python"
PYTHON_ALIASES = frozenset({"py", "python3", "py3", "pycon", "ipython", "pyi", "python-repl"})
NOT_RUN_RE = re.compile(r"^<!--\s*not-run:\s*(?P<reason>.*?)\s*-->$")
PYTEST_RE = re.compile(r"^<!--\s*pytest:?(?P<args>.*?)-->$")
EXPECTED_RE = re.compile(r"^<!--\s*expected-output\s*-->$")
_FENCE_RE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: str
    """Path relative to ``docs/``."""
    line: int
    """1-based line of the opening fence."""
    lang: str
    code: str
    marker: str
    """The HTML comment on the line right above the fence, or ``""``."""

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"

    @property
    def not_run_reason(self) -> str | None:
        m = NOT_RUN_RE.match(self.marker)
        return m.group("reason") if m else None

    @property
    def pytest_args(self) -> list[str] | None:
        """The pytest arguments of a block marked ``<!-- pytest: ARGS -->``, else None."""
        m = PYTEST_RE.match(self.marker)
        return m.group("args").split() if m else None

    @property
    def is_expected_output(self) -> bool:
        return bool(EXPECTED_RE.match(self.marker))


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def blocks(path: Path) -> list[Block]:
    """Every fenced block of the page at ``path``, in order."""
    page = path.relative_to(DOCS).as_posix()
    lines = path.read_text(encoding="utf-8").split("\n")
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE_RE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent = m.group("fence"), len(m.group("indent"))
        info = m.group("info").strip()
        lang = info.split()[0].lstrip(".{").rstrip("}").lower() if info else ""
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not re.match(rf"^\s*{re.escape(fence)}\s*$", lines[j]):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        if j == len(lines):
            raise AssertionError(f"docs/{page}:{i + 1}: code fence {fence!r} is never closed")
        marker = lines[i - 1].strip() if i > 0 else ""
        found.append(Block(page, i + 1, lang, "\n".join(body) + "\n", marker))
        i = j + 1
    return found


def all_blocks() -> list[Block]:
    return [b for path in pages() for b in blocks(path)]


def runnable(found: list[Block]) -> list[tuple[Block, Block | None]]:
    """Each python block to run, with the expected-output block that follows it (if any)."""
    out: list[tuple[Block, Block | None]] = []
    for n, block in enumerate(found):
        if block.lang != PYTHON or block.not_run_reason is not None:
            continue
        nxt = found[n + 1] if n + 1 < len(found) else None
        expected = nxt if nxt is not None and nxt.page == block.page and nxt.is_expected_output else None
        out.append((block, expected))
    return out


def rule_violations(found: list[Block]) -> list[str]:
    """What breaks the rules in the module docstring, one line each (empty when all is well)."""
    problems = []
    for n, block in enumerate(found):
        if not block.lang:
            problems.append(f"{block.where}: a code fence without a language; name it (python runs, "
                            "text/sh/yaml do not)")
        if block.lang in PYTHON_ALIASES:
            problems.append(f"{block.where}: fence '{block.lang}': write 'python' so the block runs "
                            "(or mark it <!-- not-run: REASON -->)")
        reason = block.not_run_reason
        if block.marker.startswith("<!--") and "not-run" in block.marker and not reason:
            problems.append(f"{block.where}: a not-run marker needs a reason: <!-- not-run: REASON -->")
        if reason is not None and block.lang != PYTHON:
            problems.append(f"{block.where}: not-run marks a '{block.lang}' block; only python blocks run")
        if block.is_expected_output:
            before = found[n - 1] if n > 0 else None
            if block.lang != "text":
                problems.append(f"{block.where}: expected output goes in a 'text' block")
            if before is None or before.page != block.page or before.lang != PYTHON \
                    or before.not_run_reason is not None:
                problems.append(f"{block.where}: expected output must follow a python block that runs")
    return problems
