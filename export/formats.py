"""Writers for each export format, and `export_dataset`, which streams the records into one of them."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from replies.codebook import Codebook
from replies.db.times import parse_iso
from replies.db.versions import Reader, differences
from replies.files import atomic_file, atomic_folder

from .errors import ExportError, ExportUsageError
from .labelstudio import labelstudio_config, write_labelstudio
from .records import (
    FIELDS,
    category_columns,
    csv_rows,
    final_label_keys,
    final_labels,
    jsonl_lines,
    jsonl_records,
    read_under,
)
from .split import assign
from .spreadsheet import SafeWriter


def write_jsonl(records: Iterable[dict], out: IO[str]) -> int:
    n = 0
    for n, record in enumerate(records, start=1):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return n


# the CSV's columns before the per-category ones: the JSONL fields, with `coded` (1 where a human coded the
# reply, even with no category, 0 where nobody did) beside `gold`, which is empty in both cases
CSV_FIELDS = (*FIELDS[:FIELDS.index("gold") + 1], "coded", *FIELDS[FIELDS.index("gold") + 1:])


def csv_header(codebook: Codebook, extra: Iterable[str] = ()) -> list[str]:
    """The CSV's (and Parquet's) columns: `CSV_FIELDS`, any extra field (`split`), `gold_<id>` per category,
    then `model_<id>` per category."""
    return [*CSV_FIELDS, *extra, *(f"gold_{c}" for c in codebook.ids), *(f"model_{c}" for c in codebook.ids)]


def _peek(records: Iterable[dict]) -> tuple[list[str], Iterator[dict]]:
    """The fields beyond the JSONL contract (such as `split`) that the records carry, read from the
    first record, and all the records still to iterate."""
    records = iter(records)
    first = next(records, None)
    if first is None:
        return [], iter(())
    return [k for k in first if k not in FIELDS], itertools.chain([first], records)


def write_csv(records: Iterable[dict], out: IO[str], codebook: Codebook, formula_escape: bool = True) -> int:
    """The JSONL fields (lists joined with ';', scores as JSON), `coded`, then 0/1 columns per category:
    `gold_<id>` a human's code (empty where nobody coded the reply) and `model_<id>` the model's tag; text
    that a spreadsheet would run as a formula is neutralised unless `formula_escape` is False."""
    extra, records = _peek(records)
    writer = SafeWriter(out, escape=formula_escape)
    writer.writerow(csv_header(codebook, extra))
    n = 0
    for n, record in enumerate(records, start=1):
        writer.writerow([
            *(_csv_value(name, record) for name in CSV_FIELDS),
            *(record[name] for name in extra),
            *category_columns(codebook.ids, record["labels"], record["gold"], bool(record["scores"])),
        ])
    return n


def csv_text(rows: Iterable[list], codebook: Codebook, formula_escape: bool = True,
             chunk: int = 500) -> Iterator[str]:
    """The CSV export's header and `csv_rows`, as text `chunk` rows at a time: for a file, or for a download
    that streams (`replies serve`)."""
    buffer = io.StringIO()
    writer = SafeWriter(buffer, escape=formula_escape)
    writer.writerow(csv_header(codebook))
    for n, row in enumerate(rows, start=1):
        writer.writerow(row)
        if n % chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _csv_value(name: str, record: dict):
    if name == "coded":
        return int(record["gold"] is not None)
    value = record[name]
    if name == "scores":
        return json.dumps(value, separators=(",", ":"))  # as the fast path (SQLite) writes it
    if name in ("labels", "gold", "samples"):
        return "" if value is None else ";".join(value)
    return "" if value is None else value


def write_parquet(records: Iterable[dict], path: Path, codebook: Codebook, batch: int = 10_000) -> int:
    """The CSV's columns, typed: created_at a UTC timestamp, labels, gold and samples lists of strings (gold
    null where nobody coded the reply), scores a struct of float per category, coded a boolean, gold_<id> and
    model_<id> small integers (null where the CSV's cell is empty); written in row groups so memory stays flat."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    string = pa.string()
    scores_type = pa.struct([(cid, pa.float32()) for cid in codebook.ids]) if codebook.ids \
        else pa.struct([("none", pa.float32())])
    types = {"depth": pa.int32(), "created_at": pa.timestamp("ms", tz="UTC"), "labels": pa.list_(string),
             "scores": scores_type, "gold": pa.list_(string), "coded": pa.bool_(), "samples": pa.list_(string)}
    extra, records = _peek(records)
    names = csv_header(codebook, extra)
    categories = names[len(names) - 2 * len(codebook.ids):]
    schema = pa.schema([(name, pa.int8() if name in categories else types.get(name, string)) for name in names],
                       metadata={"codebook": codebook.name, "codebook_hash": codebook.hash or ""})
    n = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        chunk: list[dict] = []

        def flush():
            columns = {name: [r.get(name) for r in chunk] for name in CSV_FIELDS + tuple(extra)}
            columns["coded"] = [r["gold"] is not None for r in chunk]
            for i, values in enumerate(zip(*(category_columns(codebook.ids, r["labels"], r["gold"],
                                                               bool(r["scores"])) for r in chunk))):
                columns[categories[i]] = [None if v == "" else v for v in values]
            if not chunk:
                columns.update({name: [] for name in categories})
            columns["created_at"] = [_timestamp(v) for v in columns["created_at"]]
            columns["scores"] = [{cid: s.get(cid) for cid in codebook.ids} for s in columns["scores"]] \
                if codebook.ids else [None] * len(chunk)
            writer.write_table(pa.table(columns, schema=schema))
            chunk.clear()

        for n, record in enumerate(records, start=1):
            chunk.append(record)
            if len(chunk) >= batch:
                flush()
        if chunk or n == 0:
            flush()
    return n


def _timestamp(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


def write_hf(records: Iterable[dict], folder: Path, codebook: Codebook, about: dict,
             order: Iterable[str] = ()) -> dict[str, int]:
    """One JSONL file per split (train.jsonl without --split) and a dataset card (README.md); returns
    counts per split, in `order` (the --split order) where given."""
    handles: dict[str, IO[str]] = {}
    counts: dict[str, int] = {}
    per_category: dict[str, dict[str, int]] = {}
    try:
        for record in records:
            split = record.get("split") or "train"
            if split not in handles:
                handles[split] = (folder / f"{split}.jsonl").open("w", encoding="utf-8")
            handles[split].write(json.dumps(record, ensure_ascii=False) + "\n")
            counts[split] = counts.get(split, 0) + 1
            for cid in final_labels(record):
                per_category.setdefault(cid, {}).setdefault(split, 0)
                per_category[cid][split] += 1
    finally:
        for handle in handles.values():
            handle.close()
    rank = {name: i for i, name in enumerate(order)}
    counts = dict(sorted(counts.items(), key=lambda item: rank.get(item[0], len(rank))))
    (folder / "README.md").write_text(dataset_card(codebook, counts, per_category, about), encoding="utf-8")
    return counts


def dataset_card(codebook: Codebook, counts: dict[str, int], per_category: dict[str, dict[str, int]],
                 about: dict) -> str:
    splits = list(counts)
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split in splits:
        lines += [f"  - split: {split}", f"    path: {split}.jsonl"]
    lines += ["task_categories:", "- text-classification", "size_categories:", f"- {_size_category(sum(counts.values()))}", "---", ""]
    lines += [f"# {codebook.name}: replies labelled with a codebook", ""]
    if codebook.question:
        lines += [f"Question: {codebook.question}", ""]
    lines += ["## How it was collected", "",
              f"Replies and quotes to {about.get('threads', 'the question posts')} were harvested with "
              f"`replies` {about.get('tool_version', '')} and tagged by {about.get('method') or 'no model'}"
              f"{' (' + about['model'] + ')' if about.get('model') else ''}. `labels` holds the model's "
              "categories, `scores` its score per category, and `gold` the categories a human reviewer gave "
              "(null where nobody reviewed the reply). Splits are stratified by category "
              f"(seed {about.get('seed', 0)}).", ""]
    if about.get("pseudonymized"):
        lines += ["Authors and @mentions are replaced by salted pseudonyms, reply ids by salted tokens, and "
                  "URLs removed" + (", links in the text too" if about.get("strip_links") else "") + ".", ""]
    lines += ["## Codebook", "", f"Version (hash) `{codebook.hash}`.", "", "| id | label | description |",
              "|---|---|---|"]
    for category in codebook.categories:
        lines.append(f"| `{category.id}` | {_cell(category.label)} | {_cell(category.description)} |")
    lines += ["", "## Counts", "", "| category | " + " | ".join(splits) + " |",
              "|---|" + "---|" * len(splits)]
    lines.append("| **replies** | " + " | ".join(str(counts[s]) for s in splits) + " |")
    for cid in codebook.ids:
        row = per_category.get(cid, {})
        lines.append(f"| `{cid}` | " + " | ".join(str(row.get(s, 0)) for s in splits) + " |")
    lines += ["", "Counts per category use the reviewed labels where present, else the predicted ones.", "",
              "## Loading", "", "```python", "from datasets import load_dataset",
              "data = load_dataset(\"json\", data_files={" +
              ", ".join(f'"{s}": "{s}.jsonl"' for s in splits) + "})", "```", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return name
    return "100K<n<1M"


FORMATS = ("jsonl", "csv", "parquet", "labelstudio", "hf")
STREAMABLE = ("jsonl", "csv", "labelstudio")


def check_request(fmt: str, out: str | Path | None) -> None:
    """Refuse a format that does not exist, or a file format asked for on standard output (ExportUsageError);
    the CLI asks before it opens the database, export_dataset again for library callers."""
    if fmt not in FORMATS:
        raise ExportUsageError(f"unknown --format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if out is None and fmt not in STREAMABLE:
        raise ExportUsageError(f"--format {fmt} writes a {'folder' if fmt == 'hf' else 'binary file'}: give --out")


def export_dataset(db, fmt: str, out: str | Path | None, codebook: Codebook, *, stdout: IO[str] | None = None,
                   thread: tuple[str, str] | None = None, gold_only: bool = False,
                   split: dict[str, float] | None = None, seed: int = 0, pseudonymizer=None,
                   model: str | None = None, about: dict | None = None,
                   formula_escape: bool = True) -> dict[str, int]:
    """Write the export; returns counts per split (key 'all' without --split). Nothing is left at `out`
    unless the whole export succeeds. CSV cells that a spreadsheet would run as formulas are neutralised
    unless `formula_escape` is False."""
    check_request(fmt, out)
    # codes given under another version of the codebook are read under this one (the slower path)
    translate = bool(differences(db, codebook.name, codebook.hash, codebook.ids))

    def records() -> Iterator[dict]:
        rows = jsonl_records(db, codebook, thread=thread, gold_only=gold_only)
        if translate:
            rows = read_under(rows, Reader(db, codebook.hash, codebook.ids))
        for record in rows:
            if assigned is not None:
                record["split"] = assigned.get((record["platform"], record["id"]))
            yield pseudonymizer.record(record) if pseudonymizer else record

    assigned = None
    if split:
        assigned = assign(final_label_keys(db, codebook, thread=thread, gold_only=gold_only), split, seed,
                          codebook.ids)
    counts: dict[str, int] = {}

    def counted(items: Iterable, split_of=lambda item: "all") -> Iterator:
        for item in items:
            name = split_of(item) or "all"
            counts[name] = counts.get(name, 0) + 1
            yield item

    def counted_records() -> Iterator[dict]:
        return counted(records(), lambda record: record.get("split"))

    about = {**(about or {}), "seed": seed}
    if fmt == "hf":
        with atomic_folder(out, error=ExportError) as folder:
            write_hf(counted_records(), folder, codebook, about, order=split or ())
        return counts
    if fmt == "parquet":
        with atomic_file(out, "wb", error=ExportError) as handle:
            handle.close()
            write_parquet(counted_records(), Path(handle.name), codebook)
        return counts
    plain = not split and not pseudonymizer and not translate
    if fmt == "jsonl" and plain:  # the fast path: SQLite writes the JSON
        lines = jsonl_lines(db, codebook, thread=thread, gold_only=gold_only)
        write = lambda handle: handle.writelines(line + "\n" for line in counted(lines))
    elif fmt == "csv" and plain:  # the fast path for CSV: SQLite builds most of each row
        rows = csv_rows(db, codebook, thread=thread, gold_only=gold_only)
        write = lambda handle: handle.writelines(csv_text(counted(rows), codebook, formula_escape))
    else:
        writer = {"jsonl": write_jsonl,
                  "csv": lambda rows, h: write_csv(rows, h, codebook, formula_escape),
                  "labelstudio": lambda rows, h: write_labelstudio(rows, h, codebook, model)}[fmt]
        write = lambda handle: writer(counted_records(), handle)
    if out is None:
        write(stdout)
        return counts
    with atomic_file(out, error=ExportError) as handle:
        write(handle)
    if fmt == "labelstudio":
        with atomic_file(Path(out).with_suffix(".label-config.xml"), error=ExportError) as handle:
            handle.write(labelstudio_config(codebook))
    return counts
