"""The getting-started page's table of profile keys names every key a profile accepts."""

from __future__ import annotations

import re
from dataclasses import fields

import docs_snippets as snippets

from clustrix.config.profile import Profile

PAGE = snippets.DOCS / "getting-started.md"
NOT_KEYS = {"name", "resources"}  # the profile's own name; resources are listed one by one


def table_keys() -> set[str]:
    """Every `key` in the first column of the page's key table."""
    text = PAGE.read_text(encoding="utf-8")
    table = text[text.index("| key | meaning |"):]
    table = table[:table.index("\n\n")]
    first_cells = [row.split("|")[1] for row in table.splitlines()[2:]]
    return {key for cell in first_cells for key in re.findall(r"`(\w+)`", cell)}


def test_every_profile_key_is_in_the_table():
    documented = table_keys()
    missing = sorted(f.name for f in fields(Profile) if f.name not in NOT_KEYS | documented)
    assert not missing, f"add these profile keys to the table in {PAGE.name}: {missing}"
    assert "poll_interval_s" in documented and "environment" in documented  # the table was found
