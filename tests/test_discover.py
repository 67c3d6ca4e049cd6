"""`replies discover`: themes from the replies, a draft codebook, and what a codebook leaves uncovered."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from replies import db
from replies.classifier.discover import discover, has_content
from replies.codebook import default_path, load
from tests.helpers import count
from tests.test_classify import load_dev


def test_a_newcomer_drafts_a_codebook_and_classifies_with_it(cli, classified, tmp_path):
    draft = tmp_path / "codebook.yaml"
    result = cli("discover", "--out", draft)
    assert "replies with content" in result.output and "left out" in result.output
    themes = [line for line in result.output.splitlines() if line.startswith("Theme ")]
    assert 2 <= len(themes) <= 8
    assert result.output.count("\n  - [") == 5 * len(themes)  # five typical replies quoted per theme
    content = yaml.safe_load(draft.read_text())
    assert [c["id"] for c in content["categories"]] == [line.split("id ")[1].rstrip(")") for line in themes]
    assert all(c["examples"] and c["description"].startswith("DRAFT") for c in content["categories"])
    for category in content["categories"]:  # a reply cross-posted on several platforms is one example
        texts = [" ".join(e.split()).casefold() for e in category["examples"]]
        assert len(set(texts)) == len(texts), category["id"]
    classified_with_draft = cli("classify", "--codebook", draft)
    assert "classified with zero-shot" in classified_with_draft.output
    assert count(classified, "select count(distinct codebook_hash) from predictions") == 2


def test_same_replies_and_seed_give_the_same_themes_and_a_new_reply_reshuffles_little(cli, classified):
    first, second = (json.loads(cli("discover", "--json", "--seed", "4").output) for _ in range(2))
    assert first == second
    database = db.open_db(classified)
    before = discover(database)  # recorded: the next run with these parameters starts from its centres
    db.store_replies(database, [{"platform": "x", "id": "999", "thread_id": before.themes[0].members[0][1],
                                 "kind": "reply", "status": "ok", "created_at": "2099-01-01T00:00:00Z",
                                 "text": "Our budget was cut again because we saved money last year."}])
    after = discover(database, record=False)
    kept = 0
    for theme in before.themes:
        old = set(theme.members)
        best = max(len(old & set(t.members)) / len(old | set(t.members)) for t in after.themes)
        kept += best >= 0.8
    assert kept >= len(before.themes) - 1, (kept, len(before.themes))


def test_uncovered_mode_finds_the_category_a_codebook_lacks(run, env, tmp_path):
    truth = load_dev(Path(env["REPLIES_DB"]))
    content = yaml.safe_load(default_path().read_text())
    content["categories"] = [c for c in content["categories"] if c["id"] != "money"]
    lacking = tmp_path / "no_money.yaml"
    lacking.write_text(yaml.safe_dump(content))
    assert "classify --codebook" in run("discover", "--codebook", lacking, code=1).stderr  # not classified yet
    run("classify", "--codebook", lacking)
    result = run("discover", "--codebook", lacking, "--json")
    found = json.loads(result.output)
    uncovered = count(env["REPLIES_DB"], "select count(*) from replies r where not exists (select 1 from "
                      "predictions p where p.platform = r.platform and p.id = r.id and p.predicted = 1)")
    assert found["uncovered"] == uncovered > 0
    database = db.open_db(env["REPLIES_DB"])
    themes = discover(database, codebook=load(lacking), record=False).themes
    share = max(sum("money" in truth[i] for _, i in t.members) / t.size for t in themes)
    assert share >= 0.5, share  # a theme that is mostly the missing category's replies
    text = run("discover", "--codebook", lacking).output
    assert text.startswith(f"{uncovered} replies fit no category of lean_nhs; {len(themes)} themes among them")
    page = tmp_path / "report.html"
    run("report", "--out", page, "--codebook", lacking)
    assert "Themes the codebook leaves uncovered" in page.read_text()


def test_bad_input_is_one_clear_line(run, env, tmp_path):
    db.open_db(env["REPLIES_DB"]).conn.close()  # a database with no replies yet
    result = run("discover", code=1)
    assert result.stderr == "Error: no replies to discover themes in: harvest a thread first (`replies harvest URL`)\n"
    load_dev(Path(env["REPLIES_DB"]), limit=4)
    assert "fewer than --min-size 10" in run("discover", "--min-size", "10", code=1).stderr
    assert "no tracked thread matches" in run("discover", "--thread", "x:nope", code=1).stderr
    assert "does not exist" in run("discover", "--out", tmp_path / "no" / "d.yaml", code=1).stderr
    assert run("discover", "--max-themes", "0", code=2).exit_code == 2
    for seed in ("-1", str(2**32)):  # k-means takes an unsigned 32-bit seed: no traceback from inside it
        assert "Invalid value for '--seed'" in run("discover", "--seed", seed, code=2).stderr


def test_replies_without_content_are_left_out():
    for empty in ("Following.", "Great question! 🙏", "💯", "this ^", "@joy thanks!", "https://t.co/abc",
                  "Bookmarked. Brilliant thread.", "So true, well put!"):
        assert not has_content(empty), empty
    for meaningful in ("PbR. Next question.", "No backfill, no improvement.", "Consultants block change."):
        assert has_content(meaningful), meaningful


def test_a_reply_posted_on_several_platforms_is_one_example_in_the_draft(cli, classified, tmp_path):
    import sqlite3

    conn = sqlite3.connect(classified)
    text = "Nobody gets backfill, so improvement work happens on our days off and then we burn out."
    thread = conn.execute("select platform, id from threads order by added_at limit 1").fetchone()
    for n in range(6):  # the same reply, cross-posted: six copies, half opening with the asker's handle as X's do
        conn.execute("insert into replies (platform, id, thread_id, parent_id, kind, status, text, author_handle)"
                     " values (?, ?, ?, ?, 'reply', 'ok', ?, ?)",
                     (thread[0], f"crossposted-{n}", thread[1], thread[1], f"@joy_improves {text}" if n % 2 else text,
                      f"poster{n}"))
    conn.commit()
    draft = tmp_path / "codebook.yaml"
    cli("discover", "--out", draft)
    content = yaml.safe_load(draft.read_text())
    examples = [e for c in content["categories"] for e in c["examples"]]
    assert examples.count(text) <= 1
    for category in content["categories"]:
        texts = [" ".join(e.split()).casefold() for e in category["examples"]]
        assert len(set(texts)) == len(texts), category["id"]


def test_themes_are_not_named_after_another_language_s_stop_words_and_drafts_quote_no_handle(cli, classified,
                                                                                              tmp_path):
    """Replies in Arabic form a theme of their own; its words are what they say, not "من" (from) or "في" (in).
    A draft codebook is shared: its examples name nobody by handle."""
    import sqlite3

    from stop_words import get_stop_words

    conn = sqlite3.connect(classified)
    thread = conn.execute("select platform, id from threads order by added_at limit 1").fetchone()
    arabic = ["من الصعب التحسين في المستشفى لأن الإدارة لا تسمع من الممرضات على الإطلاق",
              "في قسمنا لا أحد يجد وقتا للتحسين من كثرة المرضى على الجناح",
              "من تجربتي في العيادة كل مشروع تحسين يتوقف عندما يغادر المدير من المنصب",
              "التمويل في الخدمة الصحية يأتي من الحكومة على دفعات قصيرة لا تكفي للتحسين",
              "من يدفع ثمن التدريب في الخدمة الصحية؟ لا أحد على الإطلاق"]
    for n, text in enumerate(arabic):
        conn.execute("insert into replies (platform, id, thread_id, parent_id, kind, status, text, author_handle)"
                     " values (?, ?, ?, ?, 'reply', 'ok', ?, ?)",
                     (thread[0], f"arabic-{n}", thread[1], thread[1], text, f"arabic_voice{n}"))
    conn.commit()
    handles = {h.lower() for (h,) in conn.execute("select author_handle from replies where author_handle != ''")}
    mentioned = conn.execute("select count(*) from replies where text like '%@%'").fetchone()[0]
    conn.close()
    assert mentioned  # the sample's replies do mention people
    draft = tmp_path / "codebook.yaml"
    result = cli("discover", "--out", draft, "--max-themes", 8)
    stop = set(get_stop_words("arabic"))
    words = [w for line in result.output.splitlines() if line.strip().startswith("words:")
             for w in line.split(":", 1)[1].replace(",", " ").split()]
    assert any("\u0600" <= w[0] <= "\u06ff" for w in words), words  # an Arabic theme was found ...
    assert not stop & set(words), stop & set(words)  # ... and described by its content words
    content = yaml.safe_load(draft.read_text())
    for category in content["categories"]:
        assert not stop & set(category["label"].lower().split(" / ")), category["label"]
        for example in category["examples"]:
            named = {m.lower() for m in re.findall(r"@([\w.-]+)", example)}
            assert not named & handles and named <= {"someone"}, example


def test_drafts_and_reports_fold_copies_of_a_text_the_same_way():
    """A draft's examples and the report's exemplars keep one of each text by the same rule: an X reply that
    opens with the asker's handle is the same text as its Bluesky copy without it, whatever the case or spacing."""
    from replies.classifier.discover import _one_of_each_text
    from replies.db.samples import one_of_each_text

    texts = ["@joy_improves Money follows activity, not improvement.", "Money follows  activity, not improvement.",
             "money follows activity, not improvement.", "Time to improve is never protected.",
             "@joy_improves @lean_gwen Time to improve is never protected."]
    rows = [{"text": text} for text in texts]
    assert _one_of_each_text(list(range(len(rows))), rows) == [0, 3]
    assert one_of_each_text(rows, 10) == [rows[0], rows[3]]
