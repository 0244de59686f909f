"""The troubleshooting page has a section for every error class, so a new one without docs fails."""

from __future__ import annotations

import inspect
import re

import docs_snippets as snippets

import clustrix.errors

PAGE = snippets.DOCS / "troubleshooting.md"


def documented_classes() -> list[str]:
    """The exception and warning classes of :mod:`clustrix.errors`."""
    return sorted(
        name for name, obj in vars(clustrix.errors).items()
        if inspect.isclass(obj) and obj.__module__ == clustrix.errors.__name__
        and issubclass(obj, (clustrix.errors.ClustrixError, clustrix.errors.ClustrixWarning))
    )


def headings() -> dict[str, str]:
    """``{class name: section text}`` for every ``### `Name``` heading of the page."""
    text = PAGE.read_text(encoding="utf-8")
    parts = re.split(r"^###\s+`(\w+)`\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_the_error_tree_is_not_empty() -> None:
    found = documented_classes()
    assert "ClustrixError" in found and "JobLostError" in found and len(found) >= 25


def test_every_error_class_has_a_section() -> None:
    missing = [name for name in documented_classes() if name not in headings()]
    assert missing == [], f"add a '### `Name`' section to docs/troubleshooting.md for: {missing}"


def test_every_section_names_a_real_class() -> None:
    stale = [name for name in headings() if name not in documented_classes()]
    assert stale == [], f"docs/troubleshooting.md has sections for classes that do not exist: {stale}"


def test_every_section_says_what_it_means_and_what_to_do() -> None:
    thin = [name for name, body in headings().items()
            if "**What it means**" not in body or "**What to do**" not in body]
    assert thin == []
