"""Bad input never gives a traceback: hypothesis throws arbitrary text at the parsers and loaders."""

from __future__ import annotations

import json
import string

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replies.cli import main
from replies.codebook import CodebookError, load
from replies.errors import ConfigurationError
from replies.harvester.errors import UnrecognisedURL
from replies.platforms import parse

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
url_parts = st.sampled_from(["https://", "http://", "at://", "x.com/", "twitter.com/", "bsky.app/profile/",
                             "/status/", "/post/", "/@", "did:plc:abc", "/app.bsky.feed.post/", "mastodon.social",
                             "123", "3kabc", "?", "#", "%", " ", "\n", "é", ".", "/", "@", ":"])
urls = st.one_of(st.text(), st.lists(url_parts, max_size=10).map("".join))


@FUZZ
@given(urls)
def test_url_parser_accepts_or_explains(url):
    try:
        platform, ref = parse(url)
    except UnrecognisedURL as exc:
        assert "not a post URL" in str(exc)
    else:
        assert platform in ("x", "bluesky", "mastodon") and all(ref)


yaml_bits = st.sampled_from(["name: a\n", "question: q\n", "categories:\n", "  - id: money\n", "    label: M\n",
                             "    description: d\n", "    examples: [a, b]\n", "  - id: money\n", "  - id: Bad Id\n",
                             "    counter_examples: x\n", "- ", ": ", "{", "[", "'", "\t", "    extra: 1\n", "null\n"])


@FUZZ
@given(st.one_of(st.text(), st.lists(yaml_bits, max_size=14).map("".join), st.binary()))
def test_codebook_loader_accepts_or_names_the_line(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cb") / "book.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    try:
        book = load(path)
    except CodebookError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert book.categories and len(set(book.ids)) == len(book.ids)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                               st.sampled_from(["platform", "id", "labels", "data", "reply_id", "annotations",
                                                "result", "value", "choices", "from_name", "type", "category",
                                                "completed_by", "codebook", "text"]), inner, max_size=5),
                           max_leaves=12)


def cli_refuses_cleanly(*args, success: str = "replies labelled"):
    """The command either succeeds (saying `success`) or fails with a one-line error, never a traceback."""
    result = CliRunner().invoke(main, list(args))
    if result.exit_code == 0:
        assert success in result.output or "replies labelled" in result.output, result.output
    else:
        assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def label_db(tmp_path_factory):
    from replies import db
    path = tmp_path_factory.mktemp("labels") / "replies.db"
    database = db.open_db(path)
    db.upsert_thread(database, {"platform": "x", "id": "0", "text": "q"})
    db.store_replies(database, [{"platform": "x", "id": "1", "thread_id": "0", "kind": "reply", "status": "ok",
                                 "text": "money"}])
    return path


@FUZZ
@given(st.lists(json_values, max_size=4), st.sampled_from(["jsonl", "csv", "labelstudio"]))
def test_label_importers_accept_or_explain(label_db, tmp_path_factory, items, fmt):
    folder = tmp_path_factory.mktemp("in")
    if fmt == "jsonl":
        path = folder / "labels.jsonl"
        path.write_text("\n".join(json.dumps(i) for i in items))
    elif fmt == "csv":
        path = folder / "labels.csv"
        path.write_text("platform,id,labels\n" + "\n".join(",".join(map(str, i if isinstance(i, list) else [i]))
                                                            for i in items))
    else:
        path = folder / "export.json"
        path.write_text(json.dumps(items))
    cli_refuses_cleanly("import-labels", str(path), "--format", fmt, "--db", str(label_db))


@FUZZ
@given(st.lists(st.one_of(json_values.map(json.dumps), st.text(alphabet=string.printable, max_size=40)), max_size=4))
def test_twarc_importer_accepts_or_explains(label_db, tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("twarc") / "tweets.jsonl"
    path.write_text("\n".join(lines))
    cli_refuses_cleanly("import", str(path), "--db", str(label_db), success="tweets read")


@FUZZ
@given(st.text(max_size=60))
def test_config_reader_accepts_or_explains(tmp_path_factory, text):
    from replies.cli.config import read_config

    path = tmp_path_factory.mktemp("conf") / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    try:
        values = read_config(path)
    except ConfigurationError as exc:
        assert str(path) in str(exc)
    else:
        assert all(isinstance(v, str) for v in values.values())
