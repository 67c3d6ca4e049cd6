"""One writer for every tabular output: a table on a terminal, or CSV, TSV, JSON, NL-JSON.

CSV and TSV cells that a spreadsheet would run as formulas get a leading apostrophe (export.spreadsheet)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

import click
from tabulate import tabulate

from replies.export.spreadsheet import SafeWriter

FORMATS = ("table", "csv", "tsv", "json", "nl")


def output_options(fn):
    """Adds --csv/--tsv/--json/--nl (default: a table) to a command, as `fmt`."""
    for flag, help_text in (("nl", "newline-delimited JSON"), ("json", "a JSON array"),
                            ("tsv", "tab-separated values"), ("csv", "comma-separated values")):
        fn = click.option(f"--{flag}", "fmt", flag_value=flag, help=f"Output {help_text}.")(fn)
    return click.option("--table", "fmt", flag_value="table", default=True, hidden=True)(fn)


def write_rows(rows: Iterable[dict], fmt: str = "table", out=None) -> None:
    """Stream `rows` to stdout (or `out`) in `fmt`."""
    out = out or sys.stdout
    rows = iter(rows)
    if fmt == "nl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "json":
        out.write("[")
        for i, row in enumerate(rows):
            out.write((",\n " if i else "") + json.dumps(row, ensure_ascii=False))
        out.write("]\n")
    elif fmt in ("csv", "tsv"):
        first = next(rows, None)
        if first is None:
            return
        writer = SafeWriter(out, dialect="excel-tab" if fmt == "tsv" else "excel")
        writer.writerow(list(first))
        writer.writerow(first.values())
        writer.writerows(row.values() for row in rows)
    else:
        data = list(rows)
        if data:
            out.write(tabulate(data, headers="keys") + "\n")
