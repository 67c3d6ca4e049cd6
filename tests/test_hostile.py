"""Hostile servers and hostile text (issue 10): what a stranger writes or a server sends never acts on a
terminal, a spreadsheet or a page."""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from replies.harvester.emulator import World
from replies.harvester.emulator.sample import post_url
from replies.text import visible
from tests.helpers import rows

CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"  # OSC 52: write the clipboard
TITLE = "\x1b]0;owned\x07"
CLEAR = "\x1b[2J\x1b[H"
HOSTILE_TEXT = f"Staffing{CLIPBOARD} is{TITLE} the{CLEAR} problem \u202etxet desrever\u202c\x9b31m"


def _acts(text: str) -> bool:
    return any(c in text for c in ("\x1b", "\x07", "\x9b", "\u202e"))


def test_a_hostile_server_and_hostile_replies(run, env, serve, tmp_path):
    now = datetime.now(timezone.utc) - timedelta(hours=2)
    world = World()
    root = world.add("mastodon", "asker", "Why is lean harder in the NHS?", now)
    world.add("mastodon", f"evil{TITLE}", HOSTILE_TEXT, now + timedelta(minutes=1), parent=root.id,
              likes="<img src=x onerror=alert(1)>")
    world.add("mastodon", "plain", "No backfill, so no time to improve anything.", now + timedelta(minutes=2),
              parent=root.id, likes=3)
    server = serve(world)
    harvested = run("harvest", post_url(server, root))
    assert not _acts(harvested.output + harvested.stderr)
    stored = {r["author_handle"].split("@")[0][:4]: r for r in rows(env["REPLIES_DB"], "select * from replies")}
    assert stored["evil"]["like_count"] is None and stored["plai"]["like_count"] == 3  # validated at the edge
    assert stored["evil"]["text"].startswith("Staffing\x1b]52")  # stored as written: it is evidence
    for command in (["search", "staffing"], ["query", "select author_handle, text from replies"], ["threads"]):
        out = run(*command)
        assert not _acts(out.output), command
    as_json = json.loads(run("query", "select text from replies order by id", "--json").output)
    assert HOSTILE_TEXT in [r["text"] for r in as_json]  # JSON escapes, and the text survives intact
    run("classify")
    page = tmp_path / "report.html"
    run("report", "--out", page)
    html = page.read_text()
    assert "<img" not in html and "\x1b" not in html and "<blockquote dir=auto>" in html


def test_csv_shows_controls_on_a_terminal_and_keeps_them_in_a_file():
    import csv
    import io

    from replies.cli.output import write_rows

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen, file = Terminal(), io.StringIO()
    for out in (screen, file):
        write_rows([{"text": HOSTILE_TEXT}], "csv", out)
    assert not _acts(screen.getvalue())
    assert list(csv.DictReader(io.StringIO(file.getvalue()))) == [{"text": HOSTILE_TEXT}]


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_visible_text_never_holds_a_control_character(text):
    shown = visible(text)
    assert not any((unicodedata.category(c) == "Cc" and c not in "\n\t") or 0x202A <= ord(c) <= 0x202E
                   or 0x2066 <= ord(c) <= 0x2069 for c in shown)
    flat = visible(text, keep_newlines=False)
    assert "\n" not in flat and "\t" not in flat
    if not any(unicodedata.category(c) == "Cc" or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069
               for c in text):
        assert flat == text  # ordinary text, emoji and Arabic included, is shown as it is
