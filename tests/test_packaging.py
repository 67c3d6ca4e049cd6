"""The installed project: what the wheel holds, the wheel installed as users install it, one import namespace, a
command reference that matches the commands."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from replies.cli import commands, main
from replies.cli.reference import reference
from tests.helpers import source_modules

ROOT = Path(__file__).resolve().parent.parent


def wheel_modules(wheel: Path) -> set[str]:
    """The modules in a wheel, by dotted name (a package by its own name)."""
    return {name[:-3].replace("/", ".").removesuffix(".__init__") for name in zipfile.ZipFile(wheel).namelist()
            if name.endswith(".py")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built as a release is: from a copy of the files git tracks (or would), so nothing a developer's
    tree holds beside them (an old build/ folder, an ignored module) can reach it."""
    folder = tmp_path_factory.mktemp("wheel")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    tree = folder / "tree"
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(folder / "dist"), str(tree)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    found, = (folder / "dist").glob("replies-*.whl")
    return found


def test_the_wheel_holds_every_module_of_the_tree_and_its_data(wheel):
    modules = set(source_modules())
    assert {"replies.net.http", "replies.classifier.llm.run", "replies.cli"} <= modules
    assert wheel_modules(wheel) == modules, sorted(wheel_modules(wheel) ^ modules)
    names = zipfile.ZipFile(wheel).namelist()
    for data in ("replies/codebooks/lean_nhs.yaml", "replies/emulator/data/", "replies/web/templates/",
                 "replies/web/static/"):
        assert any(name.startswith(data) for name in names), data
    # the built-in platforms and methods are found through the wheel's own entry points, as a plugin's are
    points, = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(points).decode()
    assert "[replies.platforms]" in text and "x = replies.platforms.builtin.x:PLATFORM" in text
    assert "[replies.methods]" in text and "llm = replies.classifier.methods:Llm" in text


def test_the_wheel_check_sees_a_module_the_packages_miss(tmp_path):
    """The comparison itself: a subpackage left out of the wheel (what a hand-kept package list once did to
    replies.net) is reported."""
    modules = set(source_modules())
    partial = tmp_path / "replies-0-py3-none-any.whl"
    with zipfile.ZipFile(partial, "w") as out:
        for module in modules - {"replies.net.http"}:
            out.writestr(module.replace(".", "/") + ".py", "")  # a package as a module: the same name
    assert modules - wheel_modules(partial) == {"replies.net.http"}


@pytest.mark.slow
def test_the_wheel_installed_in_a_fresh_environment_runs_the_demo_outside_the_checkout(wheel, tmp_path):
    """Installed not editable into a new virtual environment (its libraries borrowed from this one's
    site-packages by a path file, so that torch is not installed again), every module imports with
    `python -I` and `replies demo` runs in a folder far from the source tree."""
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # a plain path line: this environment's libraries, but not its editable finder for the source tree
    # (only a site folder's own .pth files run it)
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                                "--no-index", "-q", str(wheel)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(away), "XDG_CONFIG_HOME": str(away / "config"),
           "LANG": "C.UTF-8"}
    modules = sorted(m for m in source_modules() if not m.endswith("__main__"))
    check = ("import importlib, sys\n"
             f"for name in {modules!r}:\n"
             "    module = importlib.import_module(name)\n"
             f"    assert module.__file__.startswith({str(site)!r}), (name, module.__file__)\n"
             "print(len(sys.modules))")
    imported = subprocess.run([python, "-I", "-c", check], capture_output=True, text=True, cwd=away, env=env)
    assert imported.returncode == 0, imported.stderr[-3000:]
    demo = subprocess.run([venv / "bin" / "replies", "demo", "--db", "demo.db"], capture_output=True, text=True,
                          cwd=away, env=env, timeout=600)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "Classified" in demo.stdout
    conn = sqlite3.connect(away / "demo.db")
    assert conn.execute("select count(*) from replies").fetchone()[0] > 150
    assert conn.execute("select count(*) from predictions").fetchone()[0] > 0
    conn.close()


def test_every_library_the_code_imports_is_a_declared_dependency():
    """A module imported by name (at the top or inside a function) comes from a distribution pyproject.toml
    asks for: a library that only arrives with another one can leave with it."""
    import ast
    from importlib.metadata import packages_distributions

    declared = {re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
                for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    providers = packages_distributions()
    folders = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"].values())
    undeclared = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                else:
                    continue
                for top in {name.split(".")[0] for name in names} - set(sys.stdlib_module_names) - {"replies"}:
                    if not {d.lower().replace("_", "-") for d in providers.get(top, [])} & declared:
                        undeclared.add(f"{top} ({path.relative_to(ROOT)})")
    assert not undeclared, sorted(undeclared)


def test_the_wheel_installs_beside_packages_named_db_and_cli(wheel, tmp_path):
    """Only `replies` is added to an environment, so packages of its own named db or cli still import."""
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"replies", wheel.name.split("-")[0] + "-" +
                                                      wheel.name.split("-")[1] + ".dist-info"}
    site = tmp_path / "site"
    for theirs in ("db", "cli"):
        (site / theirs).mkdir(parents=True)
        (site / theirs / "__init__.py").write_text(f"OWNER = 'theirs-{theirs}'\n")
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                                str(wheel)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    check = ("import db, cli, replies.db, replies.cli, replies.harvester.x, replies.codebook as c;"
             "print(db.OWNER, cli.OWNER, replies.db.__file__, c.load().name)")
    ran = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert ran.returncode == 0, ran.stderr
    their_db, their_cli, ours, codebook = ran.stdout.split()
    assert (their_db, their_cli, codebook) == ("theirs-db", "theirs-cli", "lean_nhs")
    assert ours.startswith(str(site / "replies" / "db"))


def test_the_command_reference_is_up_to_date():
    written = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert written == reference(main), "docs/cli.md is out of date: run `python scripts/cli_reference.py`"


def test_the_readme_names_every_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`replies ([a-z-]+)", section))
    assert named == set(commands()), sorted(set(commands()) ^ named)


def test_the_settings_table_is_made_from_the_declared_settings():
    from replies.cli.config import settings_table
    from replies.cli.reference import TABLE_START, with_settings_table

    page = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert TABLE_START in page
    assert page == with_settings_table(page, settings_table()), \
        "docs/settings.md's table is out of date: run `python scripts/cli_reference.py`"
