"""`replies review` driven as a user would: the real program in a pseudo-terminal (pexpect)."""

from __future__ import annotations

import json
import os
import re
import signal
import sys

import pytest

from tests.helpers import rows

pexpect = pytest.importorskip("pexpect")



def review(db, *args, reviewer="ann"):
    env = {**os.environ, "REPLIES_DB": str(db), "TERM": "xterm"}
    return pexpect.spawn(sys.executable, ["-m", "replies", "review", "--reviewer", reviewer, *args], env=env,
                         encoding="utf-8", timeout=30, dimensions=(60, 110))


def shown(child, position: int) -> dict:
    """Wait for the screen of reply `position` and return which reply it shows (by its header line)."""
    child.expect(rf"Reply {position} of (\d+)")
    child.expect(r"\n@(\S+) · (\w+) · ")
    return {"author": child.match.group(1), "platform": child.match.group(2)}


def test_review_saves_each_decision_and_reopens_where_it_stopped(classified):
    uncertainty = rows(classified, "select p.platform, p.id, r.author_handle, min(abs(p.score - p.threshold)) as u"
                                   " from predictions p join replies r using (platform, id) group by 1, 2"
                                   " order by u, r.created_at, r.id")
    total = len(uncertainty)
    child = review(classified)
    first = shown(child, 1)
    assert (first["platform"], first["author"]) == (uncertainty[0]["platform"], uncertainty[0]["author_handle"])
    child.expect("a accept")
    child.send("?")
    child.expect("toggle category")
    child.send("1")
    child.send("a")
    second = shown(child, 2)
    assert (second["platform"], second["author"]) == (uncertainty[1]["platform"], uncertainty[1]["author_handle"])
    child.send("x")
    child.send("n")
    child.expect("Note")
    child.sendline("irony, I think")
    child.expect("Note: irony, I think")
    child.send("a")
    shown(child, 3)
    child.send("s")
    shown(child, 4)
    child.send("b")
    shown(child, 3)
    child.send("b")
    shown(child, 2)
    child.expect("you reviewed this reply before")
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    gold = {(r["platform"], r["id"]): r for r in rows(classified, "select * from gold_labels")}
    assert set(gold) == {(u["platform"], u["id"]) for u in uncertainty[:2]}
    first_key = (uncertainty[0]["platform"], uncertainty[0]["id"])
    suggested = {r["category"] for r in rows(classified, "select category from predictions where platform = ?"
                                             " and id = ? and predicted = 1", first_key)}
    assert set(json.loads(gold[first_key]["labels"])) == suggested ^ {"workforce_protectionism"}
    second_row = gold[(uncertainty[1]["platform"], uncertainty[1]["id"])]
    assert json.loads(second_row["labels"]) == [] and second_row["note"] == "irony, I think"
    assert all(r["reviewer"] == "ann" and r["created_at"] for r in gold.values())

    assert queue_length(classified) == total - 2  # reopening carries on: reviewed replies are not offered
    assert queue_length(classified, reviewer="bob") == total  # a second reviewer labels independently


def queue_length(db, *args, reviewer="ann") -> int:
    """Open the review, read how many replies it offers, and quit."""
    child = review(db, *args, reviewer=reviewer)
    child.expect(r"Reply 1 of (\d+) ")
    offered = int(child.match.group(1))
    child.send("q")
    child.expect(pexpect.EOF)
    return offered


@pytest.mark.parametrize("interrupt", ["ctrl-c key", "SIGINT"])
def test_ctrl_c_keeps_what_was_accepted(classified, interrupt):
    child = review(classified, "--order", "newest")
    shown(child, 1)
    child.send("a")
    shown(child, 2)
    child.expect("a accept")
    child.send("3")
    child.expect(r"\[x\]\s+3 ")
    if interrupt == "SIGINT":
        child.kill(signal.SIGINT)
    else:
        child.send("\x03")  # what the terminal sends in raw mode
    child.expect("1 reply coded and saved")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    newest = rows(classified, "select platform, id from replies where status = 'ok' order by created_at desc, id desc"
                              " limit 1")[0]
    saved = rows(classified, "select platform, id from gold_labels")
    assert saved == [newest]


def test_a_newcomer_reviews_fifty_replies_and_sees_them_in_stats(classified):
    from click.testing import CliRunner

    from replies.cli import main
    child = review(classified, "--order", "thread")
    total = rows(classified, "select count(*) as n from replies where status = 'ok' and text != ''")[0]["n"]
    for position in range(1, 51):
        child.expect(rf"Reply {position} of {total} ")
        child.expect("a accept")
        child.send("a")
    child.send("q")
    child.expect("50 replies reviewed by ann")
    child.expect(pexpect.EOF)
    first_fifty = rows(classified, "select platform, id from replies where status = 'ok' and text != ''"
                                   " order by platform, thread_id, created_at, id limit 50")
    reviewed = rows(classified, "select platform, id from gold_labels order by platform, id")
    assert sorted(map(tuple, map(dict.values, reviewed))) == sorted(map(tuple, map(dict.values, first_fifty)))
    stats = json.loads(CliRunner().invoke(main, ["stats", "--json", "--db", str(classified)]).output)
    assert stats["reviewed"] == 50
    for category in stats["categories"]:  # accepted as suggested: gold agrees with the predictions
        assert category["gold"] == category["both_agree"]
    assert sum(c["gold"] for c in stats["categories"]) > 0


def test_category_filter_offers_only_that_category(classified):
    money = rows(classified, "select count(*) as n from predictions where category = 'money' and predicted = 1")
    assert queue_length(classified, "--category", "money") == money[0]["n"]


def test_review_refuses_without_a_terminal_and_checks_its_options(cli, classified):
    result = cli("review", code=1)
    assert "needs a terminal" in result.stderr
    child = review(classified, "--category", "flat_tyres")
    child.expect("unknown category 'flat_tyres' for codebook lean_nhs")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1


def test_a_hostile_reply_cannot_drive_the_reviewers_terminal(classified):
    """Escape sequences in a reply (clipboard write, window title) are shown as text, never sent as such."""
    import sqlite3

    hostile = "Staffing\x1b]52;c;cm0gLXJmIH4=\x07 is the problem\x1b]0;owned\x07 \u202eokay"
    conn = sqlite3.connect(classified)
    conn.execute("update replies set text = ?, author_handle = ? where id = (select id from replies where status = "
                 "'ok' order by created_at desc, id desc limit 1)", [hostile, "mallory\x1b[2J"])
    conn.commit()
    conn.close()
    child = review(classified, "--order", "newest")
    assert shown(child, 1)["author"] == "mallory\\x1b[2J"
    child.expect("a accept")
    screen = child.before
    child.send("q")
    child.expect(pexpect.EOF)
    assert "Staffing\\x1b]52;c;" in screen and "\\u202eokay" in screen
    assert "\x1b]52" not in screen and "\x1b]0;" not in screen and "\u202e" not in screen


def test_a_content_warning_is_shown_above_the_reply(classified):
    """A Mastodon content warning (`spoiler_text`) is part of what the author wrote: the reviewer sees it."""
    import sqlite3

    conn = sqlite3.connect(classified)
    conn.execute("update replies set spoiler_text = ? where id = (select id from replies where status = 'ok'"
                 " order by created_at desc, id desc limit 1)", ["rota \x1b[31mrant"])
    conn.commit()
    conn.close()
    child = review(classified, "--order", "newest")
    shown(child, 1)
    child.expect("a accept")
    screen = child.before
    child.send("q")
    child.expect(pexpect.EOF)
    assert "CW: rota \\x1b[31mrant" in screen


def test_keys_typed_at_once_are_taken_one_by_one_and_reopening_counts_what_was_saved(classified):
    """'xa' arriving together is clear-then-accept, not an unknown key 'xa'; a reopened review says how many
    decisions this reviewer saved before, not '0 saved'."""
    child = review(classified, "--blind")
    shown(child, 1)
    child.send("xa")  # one write: the terminal hands both keys over together
    shown(child, 2)
    child.send("1a")
    shown(child, 3)
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    assert "Unknown key" not in (child.before or "")
    saved = rows(classified, "select labels from gold_labels where reviewer = 'ann' order by created_at")
    assert [json.loads(r["labels"]) for r in saved][0] == []  # x cleared, a accepted: no category
    again = review(classified)
    again.expect(r"0 saved now, 2 in all")
    again.send("q")
    again.expect(pexpect.EOF)


def test_blind_review_hides_the_models_suggestion(classified):
    """With --blind the categories show no scores and nothing is marked as suggested (the sample's queue is
    blind by default; any queue can be)."""
    seen = review(classified)
    seen.expect("Reply 1 of")
    seen.expect("a accept")
    with_model = seen.before
    seen.send("q")
    seen.expect(pexpect.EOF)
    child = review(classified, "--blind")
    child.expect(r"Reply 1 of \d+ [^\n]* · blind")
    child.expect("a accept")
    blind = child.before
    child.send("q")
    child.expect(pexpect.EOF)
    assert re.search(r"0\.\d\d", with_model) and not re.search(r"0\.\d\d", blind)


def test_going_back_counts_a_reply_once_and_the_screen_holds_the_chain_the_definitions_and_what_was_saved(
        classified):
    """Back then accept again is one reply reviewed, not two; a deep reply shows every post above it, not only
    its parent; ? shows what each category means; accepting nothing marked says it recorded 'no category'."""
    queue = rows(classified, "select id, parent_id, author_handle from replies where platform = 'mastodon' and "
                             "status = 'ok' and text != '' order by platform, thread_id, created_at, id")
    parents = {r["id"]: r["parent_id"] for r in queue}
    authors = {r["id"]: r["author_handle"] for r in queue}

    def above(reply_id: str) -> list[str]:
        """The authors of the replies above `reply_id`, nearest first."""
        chain = []
        while parents.get(reply_id) in parents:
            reply_id = parents[reply_id]
            chain.append(authors[reply_id])
        return chain

    position, deep = max(enumerate(r["id"] for r in queue[:40]), key=lambda item: len(above(item[1])))
    assert len(above(deep)) >= 4
    child = review(classified, "--order", "thread", "--thread", f"mastodon:{queue[0]['id'].split('/')[0]}/"
                   + rows(classified, "select thread_id from replies where id = ?", (deep,))[0]["thread_id"]
                   .rsplit("/", 1)[1])
    for at in range(1, position + 1):
        shown(child, at)
        child.send("s")
    child.expect(rf"Reply {position + 1} of")
    child.expect("a accept")
    screen = child.before
    assert f"\n@{authors[deep]} · mastodon · " in screen.replace("\r", "")
    child.send("q")
    child.expect(pexpect.EOF)
    nearest = above(deep)[:6]
    lines = [line for line in screen.splitlines() if "↳" in line]
    assert [re.search(r"↳ (?:in reply to )?@(\S+):", line).group(1) for line in lines] == nearest[::-1]
    if len(above(deep)) > 6:
        assert f"… {len(above(deep)) - 6} more replies above" in screen

    child = review(classified, "--order", "thread")
    shown(child, 1)
    child.expect("a accept")
    child.send("x")  # nothing marked
    child.send("a")
    shown(child, 2)
    child.expect("Saved: no category applies to reply 1")
    child.send("b")
    shown(child, 1)
    child.send("a")
    shown(child, 2)
    child.send("?")
    child.expect("Categories:")
    child.expect(r"1  Workforce protectionism: ")
    child.expect(r"7  ")
    child.send("q")
    child.expect("1 reply reviewed by ann")
    child.expect(pexpect.EOF)
    assert rows(classified, "select count(*) as n from gold_labels")[0]["n"] == 1


def test_a_review_session_is_a_state_machine_usable_from_python(classified):
    """The session `replies review` drives, driven by keys from Python: toggles, a note, back, accept, the
    notice after an empty decision, the end of the queue; every decision saved as it is made."""
    from replies.codebook import load
    from replies.db import open_db
    from replies.review.queue import review_queue
    from replies.review.session import Session, Step

    database = open_db(classified)
    book = load()
    queue = review_queue(database, codebook=book.name, codebook_hash=book.hash, reviewer="py", order="newest",
                         thread=None, category=None, unreviewed=True, sample=None, blind=True)[:3]
    session = Session(database, book, "py", queue, blind=True)
    assert session.chosen == set() and session.position == 0 and session.loads == 1  # blind: nothing marked
    assert session.press("b").message == "This is the first reply."
    session.press("1")
    session.press("3")
    session.press("1")
    assert session.chosen == {book.ids[2]}
    assert session.press("n").ask == "note"
    session.set_note("  cites a board paper  ")
    session.press("a")
    assert session.position == 1 and session.take_notice() == ""
    session.press("x")
    session.press("\r")  # nothing marked: saved as "no category applies", said once on the next screen
    assert session.take_notice().startswith("Saved: no category applies to reply 2 (@")
    assert session.take_notice() == ""
    assert session.press("?") == Step("help")
    assert session.press("b") == Step()
    assert session.position == 1 and session.chosen == set()  # back on reply 2, its saved decision shown
    session.press("2")
    session.press("a")  # reply 2 coded again: still one reply saved for it
    assert session.press("z").message == "Unknown key 'z': press ? for the keys."
    session.press("s")
    assert session.done and not session.quit and session.saved == 2
    saved = {(r["id"]): (json.loads(r["labels"]), r["note"]) for r in rows(
        classified, "select id, labels, note from gold_current where reviewer = 'py'")}
    assert saved == {queue[0][1]: ([book.ids[2]], "cites a board paper"), queue[1][1]: ([book.ids[1]], None)}
