"""The documentation: a README of one screen, the rest in docs/ that mkdocs builds without a broken link."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_fits_one_screen_and_points_to_the_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    for page in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / page).exists(), page


def test_mkdocs_builds_every_page_strictly(tmp_path):
    if shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("mkdocs is not installed: install the project's test extra (pip install -e '.[test]')")
    built = subprocess.run([str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "-q",
                            "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
                           capture_output=True, text=True, cwd=ROOT)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "settings" / "index.html").exists()


def test_no_tracker_numbers_in_code_tests_or_docs():
    """Say what, not which issue: a number from a tracker outside the repository tells a reader nothing."""
    pattern = re.compile(r"\b[Ii]ssues? \d+|\bitem \d+ of")
    found = []
    for folder in ("replies", "harvester", "classifier", "db", "estimate", "export", "report", "review", "web",
                   "cli", "emulator", "scripts", "tests", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".md", ".sh", ".yaml", ".html") and "data" not in path.parts:
                text = path.read_text(encoding="utf-8", errors="replace")
                found += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in pattern.finditer(text)]
    found += [f"README.md: {m.group(0)}" for m in pattern.finditer((ROOT / "README.md").read_text())]
    assert not found, found
