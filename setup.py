"""The packages of the `replies` namespace, found from the folders pyproject.toml maps into it.

pyproject.toml's [tool.setuptools.package-dir] says which folder each top-level part of the namespace lives in
(`replies.harvester` in `harvester/`); every folder below one of them that holds an `__init__.py` is a package
of the wheel. No hand-kept list: a new subpackage is packaged the day its folder exists.
"""

import tomllib
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent


def mapped_packages() -> list[str]:
    """Every package under the folders that package-dir maps into the namespace, with its dotted name."""
    folders = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    found = set()
    for package, folder in folders.items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            parts = init.parent.relative_to(ROOT / folder).parts
            if "__pycache__" in parts:
                continue
            name = ".".join((package, *parts))
            # a folder mapped on its own (replies.harvester -> harvester/) wins over the same name reached
            # from a folder above it
            if not any(name == other or name.startswith(other + ".") for other in folders
                       if other != package and other.startswith(package + ".")):
                found.add(name)
    return sorted(found)


setup(packages=mapped_packages())
