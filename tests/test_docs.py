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


def test_help_texts_and_code_point_to_documentation_that_exists():
    """Every `docs/PAGE.md` a command's help or the code names is a page; none points to a README section (the
    README is one screen: what was there moved to docs/), only to the README itself."""
    readme_sections = set(re.findall(r"^## (.+)$", (ROOT / "README.md").read_text(encoding="utf-8"), re.M))
    texts = {"docs/cli.md": (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")}
    for folder in ("replies", "harvester", "classifier", "db", "estimate", "export", "report", "review", "web",
                   "cli", "emulator", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            texts[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    wrong = []
    for name, text in texts.items():
        flat = re.sub(r"\s+", " ", text)  # a help text wraps across lines
        wrong += [f"{name}: {page}" for page in re.findall(r"docs/[A-Za-z0-9_.-]+\.md", flat)
                  if not (ROOT / page).exists()]
        for section in re.findall(r"\(README(?:\.md)?, ([^)]+)\)", flat):
            if section not in readme_sections:
                wrong.append(f"{name}: README section {section!r} does not exist")
        wrong += [f"{name}: points to the README for something docs/ holds" for _ in re.findall(r"\(README\)", flat)]
    assert not wrong, wrong


def test_package_docstrings_name_what_the_package_holds():
    """A package that lists its modules in its docstring lists all of them, and the namespace's docstring names
    every part pyproject.toml maps into it: a reader finds behaviour by these, so they must stay true."""
    import ast
    import tomllib

    def docstring(path: Path) -> str:
        return re.sub(r"\s+", " ", ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "")

    missing = []
    for folder in ("replies/net", "db", "web/views", "classifier/llm"):
        text = docstring(ROOT / folder / "__init__.py")
        for module in sorted((ROOT / folder).glob("*.py")):
            if module.stem != "__init__" and f"`{module.stem}`" not in text:
                missing.append(f"{folder}/__init__.py does not name `{module.stem}`")
    top = docstring(ROOT / "replies" / "__init__.py")
    parts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for part in [p for p in parts if p != "replies"] + ["replies.net", "replies.codebook", "replies.errors"]:
        if f"`{part}`" not in top:
            missing.append(f"replies/__init__.py does not name `{part}`")
    assert not missing, missing


@pytest.mark.slow
def test_the_python_api_example_runs_as_written(tmp_path):
    """docs/python-api.md's example, run as a reader would paste it: harvest from the emulator, classify,
    sample, code and estimate, all from Python; its printed figures are what the page's calls return."""
    page = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    code, = re.findall(r"```python\n(.*?)```", page, re.S)
    (tmp_path / "example.py").write_text(code, encoding="utf-8")
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("harvest: 0 [('x', ") and "('bluesky', " in lines[0] and "('mastodon', " in lines[0]
    assert lines[1].startswith("classified: ") and int(lines[1].split()[1]) > 100
    shares = [line.split() for line in lines[2:9]]
    assert [row[0] for row in shares] == ["workforce_protectionism", "policy", "money", "time_resources",
                                          "healthcare_different", "lean_misconceptions", "leadership"]
    for _, estimate, low, _, high in shares:  # "16.4%  10.3% to 25.0%": the estimate inside its interval
        assert float(low.rstrip("%")) <= float(estimate.rstrip("%")) <= float(high.rstrip("%"))
    assert lines[9].startswith("Sample sample-") and "40 of 40 members coded" in lines[9]
    assert any(line.startswith("Shares of the ") for line in lines[10:])
