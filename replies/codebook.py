"""Codebooks: YAML files naming the categories a reply can belong to.

    name: lean_nhs
    question: Why does lean seem harder in the NHS?
    categories:
      - id: money
        label: Money
        description: How funding flows works against improvement...
        examples: [short phrases that belong]
        counter_examples: [optional phrases that do not]

Validation errors name the file, the line and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

from replies import lazy
from replies.db.labels import codebook_content, last_used_codebook_hash, save_codebook
from replies.errors import RepliesError

yaml = lazy.module("yaml")  # loaded with the first codebook read, not by every command that names one

# the name of the Choices control that carries a codebook's categories in Label Studio, out and back in
LABELSTUDIO_CONTROL = "category"


class CodebookError(RepliesError):
    """The codebook file is missing or malformed (message names file and line)."""


class LabelError(RepliesError):
    """A label names an unknown category or reply, or a labels file is malformed."""


ID_RE = re.compile(r"[a-z][a-z0-9_]*")
DEFAULT_CODEBOOK = "lean_nhs"


@dataclass(frozen=True)
class Category:
    id: str
    label: str
    description: str
    examples: tuple[str, ...] = ()
    counter_examples: tuple[str, ...] = ()

    def texts(self) -> list[str]:
        """The texts that stand for this category: its description and examples."""
        return [self.description, *self.examples]


@dataclass(frozen=True)
class Codebook:
    name: str
    question: str
    categories: tuple[Category, ...]
    path: str = field(default="", compare=False)

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.categories]

    @cached_property
    def hash(self) -> str:
        """A short hash of the content (not the file), stored with every label it produced."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def as_dict(self) -> dict:
        return {"name": self.name, "question": self.question, "categories": [asdict(c) for c in self.categories]}

    @classmethod
    def from_dict(cls, content: dict, path: str = "") -> "Codebook":
        """The inverse of `as_dict` (for a codebook kept in the database, already validated)."""
        return cls(name=content["name"], question=content.get("question", ""), path=path, categories=tuple(
            Category(id=c["id"], label=c["label"], description=c["description"],
                     examples=tuple(c.get("examples", ())), counter_examples=tuple(c.get("counter_examples", ())))
            for c in content["categories"]))

    def remember(self, database) -> None:
        """Store this version in the database, so later commands find it without the file."""
        save_codebook(database, self.hash, self.name, self.as_dict())

    def category(self, category_id: str) -> Category:
        for c in self.categories:
            if c.id == category_id:
                return c
        raise KeyError(category_id)


def current(database, path: str | Path | None = None) -> Codebook:
    """The codebook at `path`; else the version `classify` last used on this database (kept in it);
    else the bundled default."""
    if path:
        return load(path)
    used = last_used(database)
    return Codebook.from_dict(used[1], path=f"(stored in the database, {used[0]})") if used else load()


def last_used(database) -> tuple[str, dict] | None:
    """The version `classify` last used on this database, as stored in it: (its hash, its content), else None.
    Reading it parses no YAML."""
    digest = last_used_codebook_hash(database)
    content = codebook_content(database, digest) if digest else None
    return (digest, content) if content else None


def default_path() -> Path:
    return Path(str(resources.files(__package__).joinpath(f"codebooks/{DEFAULT_CODEBOOK}.yaml")))


def bundled() -> dict[str, Path]:
    """The codebooks that ship with replies, by name (the file's name without .yaml)."""
    folder = default_path().parent
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


def locate(name_or_path: str | Path) -> Path:
    """A codebook file: the path given, or the bundled codebook of that name (`lean_nhs`). A file of that name
    in the working folder wins over a bundled one."""
    path = Path(name_or_path)
    if path.exists() or path.suffix in (".yaml", ".yml") or "/" in str(name_or_path):
        return path
    found = bundled().get(str(name_or_path))
    if found is None:
        raise CodebookError(f"no codebook file or bundled codebook called {str(name_or_path)!r} (bundled: "
                            f"{', '.join(bundled())}; `replies codebook template > mine.yaml` starts one)")
    return found


def load(path: str | Path | None = None) -> Codebook:
    """Read and validate a codebook: a file, or a bundled codebook by name; the default one when `path` is
    None."""
    path = locate(path) if path else default_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CodebookError(f"cannot read codebook {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise CodebookError(f"{path}: not UTF-8 text (byte {exc.start}); save the codebook as UTF-8 YAML") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise CodebookError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    _within_budget(node, path)
    return _Validator(path).codebook(node)


def _controls(text: str) -> bool:
    """Whether `text` holds a control character or a bidirectional override (what would act on a terminal)."""
    return any(ord(ch) < 32 or 0x7f <= ord(ch) < 0xa0 or "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069"
               for ch in text)


MAX_NODES = 20_000  # items of a codebook with every YAML alias written out; a real one has hundreds
MAX_CHARS = 2_000_000  # characters of text, likewise


def _within_budget(node, path: Path) -> None:
    """Refuse a codebook whose YAML anchors and aliases repeat content past a budget (a few KB of aliases can
    stand for gigabytes once the codebook is read, hashed and stored): its content is counted as it would be
    written out, without writing it out."""
    nodes = chars = 0
    stack = [node] if node is not None else []
    while stack:
        item = stack.pop()
        nodes += 1
        if isinstance(item, yaml.ScalarNode):
            chars += len(item.value)
        elif isinstance(item, yaml.SequenceNode):
            stack.extend(item.value)
        elif isinstance(item, yaml.MappingNode):
            for key, value in item.value:
                stack += (key, value)
        if nodes > MAX_NODES or chars > MAX_CHARS:
            raise CodebookError(f"{path}: the codebook stands for more than {MAX_NODES:,} items or {MAX_CHARS:,} "
                                "characters once its YAML aliases (*name) are written out; write the categories "
                                "out without repeating them through anchors")


class _Validator:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, node, message: str):
        line = node.start_mark.line + 1 if node is not None else 1
        raise CodebookError(f"{self.path}:{line}: {message}")

    def mapping(self, node, what: str) -> dict:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what} must be a mapping of keys to values")
        found: dict = {}
        first_line: dict[str, int] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                self.fail(key, f"a key of {what} must be a plain word, not a list or a mapping")
            if key.value in found:  # YAML loaders keep the last silently: which one was meant is unknown
                self.fail(key, f"duplicate key {key.value!r} in {what} (first on line {first_line[key.value]}): "
                               "keep one")
            found[key.value] = value
            first_line[key.value] = key.start_mark.line + 1
        return found

    def string(self, node, what: str, required: bool = True) -> str:
        if node is None:
            return ""
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            self.fail(node, f"{what} must be non-empty text")
        return str(node.value).strip()

    def strings(self, node, what: str) -> tuple[str, ...]:
        if node is None:
            return ()
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{what} must be a list of phrases")
        return tuple(self.string(item, f"each of {what}") for item in node.value)

    def codebook(self, node) -> Codebook:
        if node is None:
            raise CodebookError(f"{self.path}:1: the codebook is empty")
        top = self.mapping(node, "the codebook")
        for key in ("name", "categories"):
            if key not in top:
                self.fail(node, f"missing `{key}`")
        name = self.string(top["name"], "`name`")
        if _controls(name) or len(name) > 200:
            self.fail(top["name"], f"`name` {name[:40]!r} must be one line of at most 200 characters, with no "
                                   "control characters")
        question = self.string(top.get("question"), "`question`") if "question" in top else ""
        cats_node = top["categories"]
        if not isinstance(cats_node, yaml.SequenceNode) or not cats_node.value:
            self.fail(cats_node, "`categories` must be a non-empty list")
        seen: dict[str, int] = {}
        categories = []
        for item in cats_node.value:
            fields = self.mapping(item, "each category")
            for key in ("id", "label", "description"):
                if key not in fields:
                    self.fail(item, f"a category is missing `{key}`")
            cid = self.string(fields["id"], "`id`")
            if not ID_RE.fullmatch(cid):
                self.fail(fields["id"], f"category id {cid!r} must be lower-case letters, digits and _")
            if cid in seen:
                self.fail(fields["id"], f"duplicate category id {cid!r} (first on line {seen[cid]})")
            seen[cid] = fields["id"].start_mark.line + 1
            unknown = set(fields) - {"id", "label", "description", "examples", "counter_examples"}
            if unknown:
                self.fail(item, f"unknown key {sorted(unknown)[0]!r} in category {cid!r}")
            label = self.string(fields["label"], "`label`")
            if _controls(label) or len(label) > 200:  # it is shown on terminals, in tables and on pages
                self.fail(fields["label"], f"the label of {cid!r} must be one line of at most 200 characters, with "
                                           "no control characters")
            categories.append(Category(
                id=cid, label=label,
                description=self.string(fields["description"], "`description`"),
                examples=self.strings(fields.get("examples"), "`examples`"),
                counter_examples=self.strings(fields.get("counter_examples"), "`counter_examples`"),
            ))
        return Codebook(name=name, question=question, categories=tuple(categories), path=str(self.path))
