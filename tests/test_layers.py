"""The import contract: every `replies.*` import names something that exists, and imports go one way, from the
command line down to storage, with the features beside each other never importing one another.

Read from the source, file by file below the folders pyproject.toml maps into the namespace (not from any list
of packages), every import included: at the top, inside functions, relative or absolute. So the contract holds
for code paths no other test happens to run, and for a package nobody remembered to list."""

from __future__ import annotations

import ast
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import source_modules as modules

ROOT = Path(__file__).resolve().parent.parent

# lowest first: a module may import its own package and any package of a lower layer, nothing else
LAYERS = [
    ("the base error and the version", {"replies.errors", "replies"}),
    ("text, files, JSONL, lazy modules and setting declarations", {"replies.text", "replies.files", "replies.jsonl",
                                                                 "replies.lazy", "replies.setting",
                                                                 "replies.plugins"}),
    ("storage", {"replies.db"}),
    ("shared layers: network rules and codebooks", {"replies.net", "replies.codebook"}),
    ("the platforms' declarations and their registry", {"replies.platforms"}),
    ("features, independent of each other", {"replies.harvester", "replies.classifier", "replies.estimate",
                                             "replies.export", "replies.review", "replies.emulator"}),
    ("the report", {"replies.report"}),
    ("the web page", {"replies.web"}),
    ("the command line", {"replies.cli"}),
    ("python -m replies", {"replies.__main__"}),
]


@dataclass(frozen=True)
class Import:
    """One name an import statement asks for: `module` must be a module; `attribute`, where given (`from
    module import attribute`), a name that module binds or a submodule of it."""

    module: str
    attribute: str | None
    line: int


def imports(module: str, path: Path) -> list[Import]:
    """What `module` (read from `path`) imports from the `replies` namespace, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found += [Import(name, None if alias.name == "*" else alias.name, node.lineno) for alias in node.names]
    return [i for i in found if i.module == "replies" or i.module.startswith("replies.")]


def bound_names(path: Path) -> set[str] | None:
    """The names a module binds at its top level (in `if` and `try` blocks too); None when it defines a module
    `__getattr__`, which may answer any name."""
    names: set[str] = set()

    def visit(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            elif isinstance(node, ast.If):
                visit(node.body), visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body), visit(node.orelse), visit(node.finalbody)
                for handler in node.handlers:
                    visit(handler.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return None if "__getattr__" in names else names


def package_of(module: str) -> str:
    """The unit of the contract a module belongs to: the longest name in LAYERS it is, or lies under."""
    names = sorted((name for _, layer in LAYERS for name in layer), key=len, reverse=True)
    for name in names:
        if module == name or name != "replies" and module.startswith(name + "."):
            return name
    raise AssertionError(f"{module} belongs to no layer of the contract: add it to LAYERS")


def layer(package: str) -> int:
    return next(n for n, (_, names) in enumerate(LAYERS) if package in names)


def unresolved(root: Path = ROOT) -> list[str]:
    """Each `replies.*` import that names no module, or a name its module does not bind."""
    found, problems = modules(root), []
    for module, path in sorted(found.items()):
        for i in imports(module, path):
            where = f"{path.relative_to(root)}:{i.line}"
            if i.module not in found:
                problems.append(f"{where} imports {i.module}, which does not exist")
            elif i.attribute is not None and f"{i.module}.{i.attribute}" not in found:
                names = bound_names(found[i.module])
                if names is not None and i.attribute not in names:
                    problems.append(f"{where} imports {i.attribute} from {i.module}, which has no such name")
    return problems


def upward(root: Path = ROOT) -> list[str]:
    """Each import of a package from the same layer or a higher one."""
    found, problems = modules(root), []
    for module, path in sorted(found.items()):
        here = package_of(module)
        for i in imports(module, path):
            name = f"{i.module}.{i.attribute}" if f"{i.module}.{i.attribute}" in found else i.module
            if name not in found:
                continue  # reported by unresolved()
            there = package_of(name)
            if here == there or here.startswith(there + ".") or there == "replies" and name == "replies":
                continue
            if layer(there) >= layer(here):
                problems.append(f"{path.relative_to(root)}:{i.line}: {module} imports {name}: "
                                f"{LAYERS[layer(here)][0]} may not use {LAYERS[layer(there)][0]}")
    return problems


def test_every_module_of_the_tree_is_read():
    found = modules()
    assert {"replies.db.schema", "replies.emulator.server", "replies.net.http", "replies.classifier.llm.run",
            "replies.web.views", "replies.cli"} <= set(found)
    for module in found:
        package_of(module)  # each belongs to a layer


def test_every_import_names_something_that_exists():
    problems = unresolved()
    assert not problems, "\n".join(problems)


def test_every_import_goes_down_the_layers():
    problems = upward()
    assert not problems, "\n".join(problems)


def test_the_contract_fails_on_a_planted_upward_import_and_a_broken_one(tmp_path):
    """The check itself, on a copy of the tree: an upward import in the network layer (a package no list named),
    a relative import of a module that does not exist (inside a function), and a name its module lacks."""
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    for folder in set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
                      .values()):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    assert not unresolved(tmp_path) and not upward(tmp_path)
    with open(tmp_path / "replies" / "net" / "hosts.py", "a") as out:
        out.write("\n\ndef planted():\n    from replies.harvester import run\n    return run\n")
    with open(tmp_path / "classifier" / "llm" / "run.py", "a") as out:
        out.write("\n\ndef planted():\n    from .no_such_module import Thing\n    return Thing\n")
    with open(tmp_path / "classifier" / "llm" / "client.py", "a") as out:
        out.write("\nfrom replies.net.http import NoSuchName  # noqa\n")
    broken = unresolved(tmp_path)
    assert any("replies.classifier.llm.no_such_module, which does not exist" in p for p in broken), broken
    assert any("imports NoSuchName from replies.net.http, which has no such name" in p for p in broken), broken
    assert len(broken) == 2, broken
    wrong_way = upward(tmp_path)
    assert len(wrong_way) == 1 and "replies.net.hosts imports replies.harvester.run" in wrong_way[0], wrong_way


def test_every_entry_point_and_every_path_a_declaration_names_exists_in_its_layer():
    """The contract extended to what is named by text, not imported: the entry points pyproject.toml
    registers (each platform's declaration in replies.platforms, each method a class in replies.classifier),
    and the code each built-in platform's declaration names (its Source in replies.harvester, its API
    emulator in replies.emulator), each a module of the tree that binds the name."""
    found = modules()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    wanted = {"replies.platforms": "replies.platforms", "replies.methods": "replies.classifier"}
    named = [(group, value) for group, points in project.items() for value in points.values()]
    assert {group for group, _ in named} == set(wanted) and len(named) == 11

    from replies import platforms

    named += [("source", p.source) for p in platforms.registered().values()]
    named += [("emulator", p.emulator + ":handle") for p in platforms.registered().values()]
    named += [("emulator", p.emulator + ":serves") for p in platforms.registered().values()]
    wanted.update({"source": "replies.harvester", "emulator": "replies.emulator"})
    problems = []
    for group, value in named:
        module, _, attribute = value.partition(":")
        if module not in found:
            problems.append(f"{group}: {value} names no module of the tree")
        elif package_of(module) != wanted[group]:
            problems.append(f"{group}: {value} lies in {package_of(module)}, not {wanted[group]}")
        elif attribute not in (bound_names(found[module]) or {attribute}):
            problems.append(f"{group}: {module} binds no {attribute}")
    assert not problems, "\n".join(problems)
