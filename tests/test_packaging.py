"""The installed project: one import namespace, a command reference that matches the commands."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

from replies.cli import main
from replies.cli.reference import reference

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_installs_beside_packages_named_db_and_cli(tmp_path):
    """Only `replies` is added to an environment, so packages of its own named db or cli still import."""
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    wheel, = (tmp_path / "dist").glob("replies-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"replies", wheel.name.split("-")[0] + "-" +
                                                      wheel.name.split("-")[1] + ".dist-info"}
    for data in ("replies/codebooks/lean_nhs.yaml", "replies/emulator/data/"):
        assert any(name.startswith(data) for name in names), data
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
    assert named == set(main.commands), sorted(set(main.commands) ^ named)


def test_the_settings_table_is_made_from_the_declared_settings():
    from replies.cli.config import settings_table
    from replies.cli.reference import TABLE_START, with_settings_table

    page = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert TABLE_START in page
    assert page == with_settings_table(page, settings_table()), \
        "docs/settings.md's table is out of date: run `python scripts/cli_reference.py`"
