"""One writer for every tabular output: a table on a terminal, or CSV, TSV, JSON, NL-JSON.

CSV and TSV cells that a spreadsheet would run as formulas get a leading apostrophe (export.spreadsheet)."""

from __future__ import annotations

import base64
import json
import shutil
import sys
from collections.abc import Iterable, Sequence

import click

from replies.export.spreadsheet import SafeWriter
from replies.text import json_visible, visible

FORMATS = ("table", "csv", "tsv", "json", "nl")


def output_options(fn):
    """Adds --csv/--tsv/--json/--nl (default: a table) to a command, as `fmt`."""
    for flag, help_text in (("nl", "newline-delimited JSON"), ("json", "a JSON array"),
                            ("tsv", "tab-separated values"), ("csv", "comma-separated values")):
        fn = click.option(f"--{flag}", "fmt", flag_value=flag, help=f"Output {help_text}.")(fn)
    return click.option("--table", "fmt", flag_value="table", default=True, hidden=True)(fn)


def write_rows(rows: Iterable[dict], fmt: str = "table", out=None, short: dict[str, str] | None = None,
               on_terminal: Sequence[str] | None = None, uncut: Sequence[str] = ()) -> None:
    """Stream `rows` to stdout (or `out`) in `fmt`. Text from replies never acts on a terminal: a table
    (and CSV or TSV on a terminal) shows control characters as escapes, and JSON escapes them. A table on a
    terminal fits its width (cutting any column but the `uncut` ones), holds only the `on_terminal` columns
    where given, and heads them by `short` names where given."""
    out = out or sys.stdout
    rows = iter(rows)
    if fmt == "nl":
        for row in rows:
            out.write(_json(row) + "\n")
    elif fmt == "json":
        out.write("[")
        for i, row in enumerate(rows):
            out.write((",\n " if i else "") + _json(row))
        out.write("]\n")
    elif fmt in ("csv", "tsv"):
        first = next(rows, None)
        if first is None:
            return
        shown = (lambda values: [_shown(v, True) for v in values]) if is_terminal(out) else list
        writer = SafeWriter(out, dialect="excel-tab" if fmt == "tsv" else "excel")
        writer.writerow(list(first))
        writer.writerow(shown(first.values()))
        writer.writerows(shown(row.values()) for row in rows)
    else:
        data = [{k: _shown(v, False) for k, v in row.items()} for row in rows]
        if data:
            if is_terminal(out):  # a table on a terminal fits its width; in a file or pipe it is whole
                if on_terminal:
                    data = [{k: row.get(k) for k in on_terminal} for row in data]
                if short:
                    data = [{short.get(k, k): v for k, v in row.items()} for row in data]
                data = fit_to_width(data, shutil.get_terminal_size().columns,
                                    {short.get(c, c) if short else c for c in uncut})
            out.write(_table(data) + "\n")


def _table(data: list[dict]) -> str:
    """tabulate's plain table, each column as wide as its widest cell or heading (tabulate would add 2 to a
    heading; a terminal has no room for it)."""
    import tabulate as tabulate_module  # only output that is a table pays for it

    padding, tabulate_module.MIN_PADDING = tabulate_module.MIN_PADDING, 0
    try:
        return tabulate_module.tabulate(data, headers="keys")
    finally:
        tabulate_module.MIN_PADDING = padding


MIN_COLUMN = 10  # a column is never cut narrower than this (or its heading)
GAP = 2  # tabulate's space between columns


def fit_to_width(rows: list[dict], width: int, uncut: set[str] = frozenset()) -> list[dict]:
    """`rows` with their longest text cut (ending in an ellipsis) so the table fits in `width` characters: the
    widest column gives way first, down to the next widest, and so on; numbers and the `uncut` columns (a
    reference to copy) are never cut. A table that cannot fit even so is left at its narrowest."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    widths = {c: max([len(str(c))] + [len(str(row.get(c, ""))) for row in rows]) for c in columns}
    floor = {c: max(len(str(c)), MIN_COLUMN) for c in columns}
    excess = sum(widths.values()) + GAP * (len(columns) - 1) - width
    while excess > 0:
        cuttable = [c for c in columns if widths[c] > floor[c] and c not in uncut
                    and any(isinstance(row.get(c), str) for row in rows)]
        if not cuttable:
            break
        widest = max(cuttable, key=lambda c: widths[c])
        others = [widths[c] for c in cuttable if c != widest]
        target = max(floor[widest], widths[widest] - excess, max(others, default=0))
        if target == widths[widest]:  # tied with the next widest: take one from it and go round again
            target -= 1
        excess -= widths[widest] - target
        widths[widest] = target
    return [{c: _cut(value, widths[c]) for c, value in row.items()} for row in rows]


def _cut(value, width: int):
    if isinstance(value, str) and len(value) > width:
        return value[:width - 1] + "…"
    return value


def _shown(value, keep_newlines: bool):
    return visible(value, keep_newlines=keep_newlines) if isinstance(value, str) else value


def _json(row: dict) -> str:
    """JSON with C1 controls and bidirectional overrides escaped too (json escapes only C0 itself)."""
    return json_visible(json.dumps(row, ensure_ascii=False, default=_blob))


def _blob(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "base64:" + base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


def is_terminal(out) -> bool:
    """Whether `out` is a terminal a person reads (not a file or a pipe)."""
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


class TerminalSafe:
    """Standard output as a terminal should get it: every control character and bidirectional override a
    reply carries is shown as an escape instead of acting (JSON text gets JSON's own escapes, so it still
    decodes to the same values). Files and pipes get the text as it is; this wraps a terminal only."""

    def __init__(self, out, *, json_text: bool):
        self.out, self.json_text = out, json_text

    def write(self, text: str) -> int:
        shown = json_visible(text) if self.json_text else visible(text.replace("\r\n", "\n"))
        self.out.write(shown)
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self.out, name)


def terminal_safe(out, *, json_text: bool):
    """`out` wrapped in TerminalSafe when it is a terminal, else `out` itself."""
    return TerminalSafe(out, json_text=json_text) if is_terminal(out) else out
