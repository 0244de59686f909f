"""``mkdocs build --strict`` passes: every page, link, anchor and API cross-reference resolves.

The build runs into a temporary directory (the checkout stays clean) with the same command the
README gives. mkdocs, mkdocs-material and mkdocstrings[python] come with the ``test`` extra.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import docs_snippets as snippets

BUILD_TIMEOUT_S = 600


def build(site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=snippets.ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
                          check=False, env=_env())


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["NO_MKDOCS_2_WARNING"] = "1"  # Material's banner about its successor, not our problem
    return env


def test_strict_build_passes(tmp_path: Path) -> None:
    site = tmp_path / "site"
    done = build(site)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr}\n{done.stdout}"
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Clustrix" in home
    # The API pages were generated from the docstrings, not left empty.
    api = (site / "api" / "api" / "index.html").read_text(encoding="utf-8")
    assert 'id="clustrix.api.executor.ClusterExecutor"' in api
    errors = (site / "api" / "errors" / "index.html").read_text(encoding="utf-8")
    assert 'id="clustrix.errors.JobLostError"' in errors
    # Every page of the nav was built.
    for page in snippets.pages():
        rel = page.relative_to(snippets.DOCS).with_suffix("")
        out = site / (rel.parent if rel.name == "index" else rel) / "index.html"
        assert out.is_file(), f"{page} was not built ({out} missing)"


def test_a_broken_reference_fails_the_build(tmp_path: Path) -> None:
    """The strict build is a real check: a dangling cross-reference or link makes it fail."""
    import shutil

    copy = tmp_path / "repo"
    shutil.copytree(snippets.DOCS, copy / "docs")
    shutil.copy(snippets.ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    for package in ("clustrix", "clustrix_sim", "pytest_clustrix"):
        (copy / package).symlink_to(snippets.ROOT / package)
    page = copy / "docs" / "design.md"
    page.write_text(page.read_text() + "\nSee [the thing][clustrix.errors.NoSuchError].\n")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=copy, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False,
                          env=_env())
    assert done.returncode != 0
    assert "clustrix.errors.NoSuchError" in done.stderr


def test_the_home_page_screenshot_is_kept_small() -> None:
    """``docs/images/home.png``: the built home page rendered by headless Chromium (see the
    README's docs command; regenerate with ``chromium --headless --no-sandbox
    --screenshot=docs/images/home.png --window-size=1280,900 file://<site>/index.html``)."""
    shot = snippets.DOCS / "images" / "home.png"
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) < 300 * 1024
