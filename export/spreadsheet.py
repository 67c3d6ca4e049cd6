"""CSV cells a spreadsheet shows as text: a reply that starts with = + - @ is not run as a formula.

Spreadsheet programs evaluate a cell whose text starts with =, +, - or @ (and, in some, a tab or a
carriage return) as a formula, so a reply such as `=HYPERLINK("http://evil", "click")` would become a live
link or worse when a colleague opens the export. Such cells get a leading apostrophe, the usual
neutralisation (OWASP's "CSV injection"); numbers are left alone.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: Any) -> Any:
    """`value`, with a leading apostrophe if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer whose text cells are `formula_safe` (unless `escape` is False)."""

    def __init__(self, handle: IO[str], *, escape: bool = True, **options):
        self.writer = csv.writer(handle, **options)
        self.escape = escape

    def writerow(self, row: Iterable) -> None:
        self.writer.writerow([formula_safe(v) for v in row] if self.escape else row)

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)
