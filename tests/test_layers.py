"""The layering contract: imports go one way, from the command line down to storage, and the features beside
each other never import one another. Read from the source (every import, those inside functions too), so the
contract holds for code paths no other test happens to run."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# lowest first: a module may import its own package and any package of a lower layer, nothing else
LAYERS = [
    ("the base error and the version", {"replies.errors", "replies"}),
    ("text, files, JSONL and setting declarations", {"replies.text", "replies.files", "replies.jsonl",
                                                   "replies.setting"}),
    ("storage", {"replies.db"}),
    ("shared layers: network rules and codebooks", {"replies.net", "replies.codebook"}),
    ("features, independent of each other", {"replies.harvester", "replies.classifier", "replies.estimate",
                                             "replies.export", "replies.review", "replies.emulator"}),
    ("the report", {"replies.report"}),
    ("the web page", {"replies.web"}),
    ("the command line", {"replies.cli"}),
    ("python -m replies", {"replies.__main__"}),
]


def _package_of(module: str) -> str:
    """The unit of the contract a module belongs to: the longest name in LAYERS it is, or lies under."""
    names = sorted((name for _, layer in LAYERS for name in layer), key=len, reverse=True)
    for name in names:
        if module == name or name != "replies" and module.startswith(name + "."):
            return name
    raise AssertionError(f"{module} belongs to no layer of the contract: add it to LAYERS")


def _layer(package: str) -> int:
    return next(n for n, (_, layer) in enumerate(LAYERS) if package in layer)


def _modules() -> dict[str, Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = config["package-dir"]
    found = {}
    for package in config["packages"]:
        top = next(p for p in sorted(folders, key=len, reverse=True) if package == p or package.startswith(p + "."))
        folder = ROOT / folders[top] / Path(*package[len(top):].strip(".").split(".")) if package != top \
            else ROOT / folders[top]
        for path in folder.glob("*.py"):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            found[name] = path
    return found


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    named = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            named.add(name)
            named |= {f"{name}.{alias.name}" for alias in node.names}  # `from replies import net`
    return {name for name in named if name == "replies" or name.startswith("replies.")}


def test_every_import_goes_down_the_layers():
    modules = _modules()
    assert "replies.db.schema" in modules and "replies.emulator.server" in modules
    broken = []
    for module, path in sorted(modules.items()):
        here = _package_of(module)
        for name in sorted(_imports(module, path)):
            if name not in modules and name.rsplit(".", 1)[0] in modules:
                name = name.rsplit(".", 1)[0]  # a name imported from a module, not a module
            if name not in modules:
                continue
            there = _package_of(name)
            if here == there or here.startswith(there + ".") or there == "replies" and name == "replies":
                continue
            if _layer(there) >= _layer(here):
                broken.append(f"{module} imports {name}: {LAYERS[_layer(here)][0]} may not use "
                              f"{LAYERS[_layer(there)][0]}")
    assert not broken, "\n".join(broken)


def test_the_contract_catches_a_feature_reaching_into_another(tmp_path):
    """The check itself: an import of the harvester from the classifier is reported."""
    fake = tmp_path / "llm.py"
    fake.write_text("from replies.harvester.settings import Settings\nfrom ..net import hosts\n")
    assert _imports("replies.classifier.llm", fake) == {"replies.harvester.settings",
                                                        "replies.harvester.settings.Settings",
                                                        "replies.net", "replies.net.hosts"}
    assert _layer(_package_of("replies.harvester.settings")) == _layer(_package_of("replies.classifier.llm"))
