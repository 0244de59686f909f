"""The docs' griffe extension rewrites the reStructuredText in docstrings as Markdown."""

from __future__ import annotations

import importlib.util

import docs_snippets as snippets

_spec = importlib.util.spec_from_file_location("rst_roles", snippets.DOCS / "hooks" / "rst_roles.py")
assert _spec is not None and _spec.loader is not None
rst_roles = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rst_roles)
to_markdown = rst_roles.to_markdown


def test_roles_to_our_packages_become_optional_references() -> None:
    out = to_markdown("A :class:`~clustrix.spec.JobSpec` and :func:`clustrix.api.attach.attach`.")
    assert out == ('A <autoref identifier="clustrix.spec.JobSpec" optional><code>JobSpec</code></autoref> and '
                   '<autoref identifier="clustrix.api.attach.attach" optional>'
                   '<code>clustrix.api.attach.attach</code></autoref>.')


def test_other_roles_become_code() -> None:
    assert to_markdown(":meth:`JobStatus.unreadable` and :mod:`json`") == \
        "<code>JobStatus.unreadable</code> and <code>json</code>"
    assert to_markdown(":func:`parse <clustrix.x.parse>`") == \
        '<autoref identifier="clustrix.x.parse" optional><code>parse</code></autoref>'


def test_literal_block_markers() -> None:
    assert to_markdown("Example::\n\n    code\n") == "Example:\n\n    code\n"
    assert to_markdown("::\n\n    code\n") == "\n\n    code\n"


def test_simple_table_with_overflowing_cells() -> None:
    table = (
        "=====  ====  =====\n"
        "name   kind  truth\n"
        "=====  ====  =====\n"
        ":func:`long_name` :class:`Kind`  the ``x`` (a | b)\n"
        "short  k     ``tuple[A, ...]``\n"
        "=====  ====  =====\n"
        "after\n"
    )
    assert to_markdown(table).split("\n") == [
        "| name | kind | truth |",
        "|---|---|---|",
        "| <code>long_name</code> | <code>Kind</code> | the ``x`` (a \\| b) |",
        "| short | k | ``tuple[A, ...]`` |",
        "after",
        "",
    ]


def test_relative_roles_resolve_against_the_docstring_module() -> None:
    assert to_markdown(":func:`sacct_outputs`", "clustrix_sim.strategies") == (
        '<autoref identifier="clustrix_sim.strategies.sacct_outputs" optional>'
        "<code>sacct_outputs</code></autoref>")
    assert to_markdown(":mod:`json`", None) == "<code>json</code>"
