"""The rules of ``docs_snippets`` catch what they claim to, on pages made up for the purpose."""

from __future__ import annotations

from pathlib import Path

import docs_snippets as snippets


def page(tmp_path: Path, text: str) -> list[snippets.Block]:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    path = docs / "page.md"
    path.write_text(text)
    original = snippets.DOCS
    snippets.DOCS = docs
    try:
        return snippets.blocks(path)
    finally:
        snippets.DOCS = original


GOOD = """\
# A page

```python
print("hi")
```

<!-- expected-output -->
```text
hi
```

<!-- not-run: needs a real cluster -->
```python
cluster_only()
```

<!-- pytest: --clustrix-backend=slurm-sim -->
```python
def test_x():
    pass
```
"""


def test_a_good_page_has_no_violations_and_runs_what_it_should(tmp_path: Path) -> None:
    found = page(tmp_path, GOOD)
    assert snippets.rule_violations(found) == []
    runs = snippets.runnable(found)
    assert [(b.line, e.line if e else None) for b, e in runs] == [(3, 8), (18, None)]
    assert runs[1][0].pytest_args == ["--clustrix-backend=slurm-sim"]
    assert found[2].not_run_reason == "needs a real cluster"


def test_each_way_around_the_rule_is_reported(tmp_path: Path) -> None:
    found = page(tmp_path, """\
```py
escaped = True
```

```
also_escaped = True
```

<!-- not-run: -->
```python
no_reason()
```

<!-- expected-output -->
```text
orphan output
```
""")
    problems = "\n".join(snippets.rule_violations(found))
    assert "fence 'py'" in problems
    assert "without a language" in problems
    assert "needs a reason" in problems
    assert "must follow a python block that runs" in problems


def test_an_unclosed_fence_is_an_error(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(AssertionError, match="never closed"):
        page(tmp_path, "```python\nprint(1)\n")
