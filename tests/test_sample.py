"""`replies sample` and `replies estimate` end to end on the classified sample thread (harvested from the
emulator): draw, code the members with `import-labels`, estimate; extend; partial coding; reviewers who
disagree; the terminal review, the web page and the report on a sample."""

from __future__ import annotations

import json
import os
import re
import sys

import numpy as np
import pytest

from replies.codebook import load
from replies.emulator.sample import sample_rows
from replies.web.app import create_app
from tests.helpers import count, rows

CATEGORIES = load().ids
# the default population, as the docs state it: replies with text, not the question, not the asker's own posts
# (the bundled sample holds no text one author posted twice)
POPULATION_SQL = ("select platform, id, text from replies r where status = 'ok' and text is not null and text != ''"
                  " and id != thread_id and author_handle != (select t.author_handle from threads t"
                  " where t.platform = r.platform and t.id = r.thread_id)")


def truth(db) -> dict[tuple[str, str], list[str]]:
    """What the sample file says a careful reviewer would give each stored reply (matched by text)."""
    labels = {row.text: row.labels for row in sample_rows()}
    return {(r["platform"], r["id"]): labels[r["text"]] for r in rows(db, POPULATION_SQL)}


def code(cli, tmp_path, members, answers, reviewer="ann"):
    """Record `answers` for `members` ([{"platform", "id"}]) through `replies import-labels`."""
    path = tmp_path / f"codes-{reviewer}.jsonl"
    path.write_text("".join(json.dumps({"platform": m["platform"], "id": m["id"],
                                        "labels": answers[(m["platform"], m["id"])]}) + "\n" for m in members))
    cli("import-labels", path, "--reviewer", reviewer)


def draw(cli, *args) -> dict:
    return json.loads(cli("sample", *args, "--format", "json").stdout)


def test_sample_code_estimate_end_to_end(cli, classified, tmp_path):
    answers = truth(classified)
    population = len(answers)
    drawn = draw(cli, "--size", 40, "--seed", 11, "--name", "first")
    assert (drawn["name"], drawn["seed"], drawn["size"], drawn["population"]) == ("first", 11, 40, population)
    members = [(m["platform"], m["id"]) for m in drawn["members"]]
    assert len(set(members)) == 40 and set(members) <= set(answers)
    # recorded: the population at the moment of the draw, and the members
    assert count(classified, "select count(*) from sample_units where sample = 'first'") == population
    # the question post is never drawn, whatever the seed
    assert not set(members) & {(r["platform"], r["id"]) for r in rows(classified, "select platform, id from threads")}

    code(cli, tmp_path, drawn["members"], answers)
    result = cli("estimate", "--sample", "first", "--format", "json")
    assert "still to code" not in result.stderr
    out = json.loads(result.stdout)
    assert (out["sample"], out["population"], out["labelled"], out["level"]) == ("first", population, 40, 0.95)
    assert [c["id"] for c in out["categories"]] == CATEGORIES
    predicted = {r["category"]: r["n"] for r in rows(
        classified, "select category, sum(predicted) as n from predictions p where exists (select 1 from "
                    "sample_units u where u.sample = 'first' and u.platform = p.platform and u.id = p.id) "
                    "group by category")}
    scores = {(r["platform"], r["id"], r["category"]): r["score"]
              for r in rows(classified, "select * from predictions")}
    for c in out["categories"]:
        coded_share = sum(c["id"] in answers[m] for m in members) / 40
        assert c["human_only"]["estimate"] == pytest.approx(coded_share)
        assert c["coded_positive"] == round(coded_share * 40)
        # the regression estimator, computed here from the stored scores: ȳ + slope × (F̄ − f̄)
        f = np.array([scores[(*m, c["id"])] for m in members])
        y = np.array([c["id"] in answers[m] for m in members], dtype=float)
        every = np.mean([scores[(*key, c["id"])] for key in answers])
        slope = np.polyfit(f, y, 1)[0] if 0 < y.sum() < 40 else 0.0
        assert c["estimate"] == pytest.approx(min(1, max(0, y.mean() + slope * (every - f.mean()))))
        assert c["human_only"]["low"] <= coded_share <= c["human_only"]["high"]
        assert c["model_only"] == pytest.approx(predicted[c["id"]] / population)
        assert 0 <= c["low"] <= c["estimate"] <= c["high"] <= 1
        assert c["count_low"] == pytest.approx(c["low"] * population)
        assert c["count_high"] == pytest.approx(c["high"] * population)
    # the model helps: the combined intervals are narrower than coding alone, on average
    combined = sum(c["high"] - c["low"] for c in out["categories"])
    human = sum(c["human_only"]["high"] - c["human_only"]["low"] for c in out["categories"])
    assert combined < human

    text = cli("estimate").stdout  # the newest sample, as a table a terminal can hold
    assert "Sample first: 40 of 40 members coded" in text and "Money and funding flows" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    assert re.search(r"Widest interval: .+, ±\d+\.\d points", text)


def test_the_same_seed_draws_the_same_sample_and_a_name_is_never_reused(cli, classified):
    first = draw(cli, "--size", 30, "--seed", 5, "--name", "a")
    assert draw(cli, "--size", 30, "--seed", 5, "--name", "b")["members"] == first["members"]
    assert draw(cli, "--size", 30, "--seed", 6, "--name", "c")["members"] != first["members"]
    again = cli("sample", "--size", 30, "--seed", 5, "--name", "a", "--format", "json")
    assert json.loads(again.stdout) == first and "already drawn" in again.stderr
    for args in (("--size", 31, "--seed", 5), ("--size", 30, "--seed", 9), ("--size", 30)):
        refused = cli("sample", *args, "--name", "a", code=1)
        assert refused.stderr.startswith("Error: sample 'a' already exists") and len(refused.stderr.splitlines()) == 1
    assert count(classified, "select size from samples where name = 'a'") == 30
    # a default name from the date, never taken twice
    made = [draw(cli, "--size", 5)["name"] for _ in range(2)]
    assert re.fullmatch(r"sample-\d{4}-\d{2}-\d{2}", made[0]) and made[1] == made[0] + "-2"
    listed = json.loads(cli("sample", "--format", "json").stdout)
    assert [s["name"] for s in listed][:2] == [made[1], made[0]] and {"a", "b", "c"} <= {s["name"] for s in listed}


def test_a_thread_sample_draws_from_that_thread_only(cli, classified):
    thread = rows(classified, "select platform, id from threads where platform = 'bluesky'")[0]
    drawn = draw(cli, "--size", 10, "--seed", 1, "--thread", f"bluesky:{thread['id']}")
    in_thread = count(classified, POPULATION_SQL.replace("select platform, id, text", "select count(*)")
                      + " and platform = 'bluesky' and thread_id = ?", [thread["id"]])
    assert drawn["population"] == in_thread and {m["platform"] for m in drawn["members"]} == {"bluesky"}


def test_extending_keeps_the_members_drawn_and_adds_new_ones(cli, classified, tmp_path):
    drawn = draw(cli, "--size", 20, "--seed", 3, "--name", "grow")
    code(cli, tmp_path, drawn["members"], truth(classified))
    grown = json.loads(cli("sample", "--extend", 15, "grow", "--format", "json").stdout)
    assert grown["size"] == 35 and grown["members"][:20] == drawn["members"]
    assert len({(m["platform"], m["id"]) for m in grown["members"]}) == 35 and len(grown["added"]) == 15
    # an extended sample is the larger sample the seed would have drawn at once
    assert draw(cli, "--size", 35, "--seed", 3, "--name", "whole")["members"] == grown["members"]
    history = json.loads(rows(classified, "select history from samples where name = 'grow'")[0]["history"])
    assert [h["size"] for h in history] == [20, 35]
    result = cli("estimate", "--sample", "grow", "--format", "json")
    assert json.loads(result.stdout)["labelled"] == 20
    assert "15 of the 35 members of sample grow are still to code: these figures use the 20 coded" in result.stderr
    population = drawn["population"]
    refused = cli("sample", "--extend", population, "grow", code=1)
    assert f"only {population - 35} more can be added" in refused.stderr


def test_every_reply_coded_gives_the_exact_shares(cli, classified, tmp_path):
    answers = truth(classified)
    drawn = draw(cli, "--size", len(answers), "--seed", 0, "--name", "census")
    code(cli, tmp_path, drawn["members"], answers)
    out = json.loads(cli("estimate", "--format", "json").stdout)
    for c in out["categories"]:
        share = sum(c["id"] in labels for labels in answers.values()) / len(answers)
        assert c["estimate"] == pytest.approx(share) and c["low"] == pytest.approx(share)
        assert c["high"] == pytest.approx(share) and c["count"] == pytest.approx(share * len(answers))
    assert out["plan"]["more_coded"] == 0


def test_a_member_coded_with_no_category_counts_as_coded(cli, classified):
    drawn = draw(cli, "--size", 3, "--seed", 2)
    first = drawn["members"][0]
    cli("label", f"{first['platform']}:{first['id']}", "--reviewer", "ann")  # reviewed: none applies
    out = json.loads(cli("estimate", "--format", "json").stdout)
    assert out["labelled"] == 1 and all(c["human_only"]["estimate"] == 0 for c in out["categories"])


def test_reviewers_who_disagree_are_reported_and_a_final_decision_wins(cli, classified):
    drawn = draw(cli, "--size", 4, "--seed", 8)
    key = f"{drawn['members'][0]['platform']}:{drawn['members'][0]['id']}"
    cli("label", key, "money", "--reviewer", "ann")
    cli("label", key, "policy", "--reviewer", "bob")
    result = cli("estimate", "--format", "json")
    out = json.loads(result.stdout)
    assert out["disagreements"] == 1 and out["coders"] == {"bob": 1}  # the latest decision
    assert "1 coded member has reviewers who disagree and no final decision" in result.stderr
    ann = json.loads(cli("estimate", "--reviewer", "ann", "--format", "json").stdout)
    share = {c["id"]: c["human_only"]["estimate"] for c in ann["categories"]}
    assert share["money"] == 1 and share["policy"] == 0 and ann["coders"] == {"ann": 1}
    import sqlite3
    conn = sqlite3.connect(classified)  # a final decision, as the Adjudicate page records it
    conn.execute("insert into gold_labels (platform, id, codebook, reviewer, labels, created_at) values "
                 "(?, ?, 'lean_nhs', 'adjudicated', '[\"money\"]', '2000-01-01T00:00:00.000Z')",
                 key.split(":", 1))
    conn.commit()
    conn.close()
    result = cli("estimate", "--format", "json")
    out = json.loads(result.stdout)
    assert out["disagreements"] == 0 and out["coders"] == {"adjudicated": 1} and "disagree" not in result.stderr


@pytest.mark.parametrize("args, code_, message", [
    (("sample", "--size", 0), 2, "0 is not in the range"),
    (("sample", "--size", 10_000), 1, "is more than the"),
    (("sample", "--size", 5, "--name", "no spaces"), 1, "must be 1 to 64 letters"),
    (("sample", "--extend", 5), 2, "needs the sample's NAME"),
    (("sample", "--extend", 5, "missing"), 1, "no sample called 'missing'"),
    (("sample", "--size", 5, "--extend", 5, "x"), 2, "give one of them"),
    (("sample", "--seed", 5), 2, "is for drawing a sample with --size"),
    (("sample", "--no-quotes"), 2, "is for drawing a sample with --size"),
    (("estimate",), 1, "no sample drawn yet"),
    (("estimate", "--sample", "missing"), 1, "no sample called 'missing'"),
    (("estimate", "--level", "1.5"), 2, "--level"),
    (("estimate", "--level", "nan"), 2, "is not a confidence level"),
])
def test_bad_input_is_one_line_and_a_non_zero_exit(cli, args, code_, message):
    result = cli(*args, code=code_)
    assert message in result.stderr and "Traceback" not in result.stderr


def test_estimate_for_a_thread_with_no_sample_gives_a_command_to_paste(cli, classified):
    thread = json.loads(cli("threads", "--json").stdout)[0]
    message = cli("estimate", "--thread", thread["ref"], code=1).stderr
    stored = f"{thread['platform']}:{thread['id']}"
    assert f"draw one with `replies sample --size 40 --thread {stored}`, code its replies" in message
    assert message.count("`") == 2


def test_estimate_before_coding_or_before_classifying_says_what_to_do(cli, classified):
    draw(cli, "--size", 5, "--seed", 1, "--name", "fresh")
    result = cli("estimate", code=1)
    assert "none of the 5 members of sample 'fresh' is coded" in result.stderr
    assert "replies review --sample fresh" in result.stderr
    import sqlite3
    conn = sqlite3.connect(classified)
    conn.execute("delete from predictions where rowid in (select rowid from predictions limit 1)")
    conn.commit()
    conn.close()
    members = json.loads(cli("sample", "fresh", "--format", "json").stdout)["members"]
    cli("label", f"{members[0]['platform']}:{members[0]['id']}", "money")
    result = cli("estimate", code=1)
    assert "1 of the" in result.stderr and "run `replies classify`" in result.stderr


def test_review_of_a_sample_is_blind_and_in_the_draws_order(classified, cli):
    pexpect = pytest.importorskip("pexpect")
    drawn = draw(cli, "--size", 6, "--seed", 4, "--name", "blind")
    handles = {(r["platform"], r["id"]): r["author_handle"] for r in rows(classified, "select * from replies")}
    env = {**os.environ, "REPLIES_DB": str(classified), "TERM": "xterm"}
    child = pexpect.spawn(sys.executable, ["-m", "replies", "review", "--reviewer", "ann", "--sample", "blind"],
                          env=env, encoding="utf-8", timeout=30, dimensions=(60, 110))
    for position, member in enumerate(drawn["members"][:3]):
        child.expect(rf"Reply {position + 1} of 6 \(sample blind, random order\) · {position} of its 6 coded")
        child.expect(r"\n@(\S+) · (\w+) · ")
        assert child.match.group(1) == handles[(member["platform"], member["id"])]
        child.expect("a accept \\(none marked: no category applies\\)")
        screen = child.before
        assert not re.search(r"\d\.\d\d", screen) and "*" not in screen  # no score, no suggestion
        child.send("3" if position == 0 else "a")
        if position == 0:
            child.expect(r"\[x\]")
            child.send("a")
    child.expect("Reply 4 of 6")
    child.send("q")
    child.expect(pexpect.EOF)
    codes = {(r["platform"], r["id"]): json.loads(r["labels"]) for r in rows(classified, "select * from gold_labels")}
    first, second = ((m["platform"], m["id"]) for m in drawn["members"][:2])
    assert codes[first] == ["money"] and codes[second] == []  # nothing pre-checked: accepting records no category
    assert len(codes) == 3


def test_the_web_page_codes_a_sample_blind_and_shows_the_estimates(classified, cli, tmp_path):
    drawn = draw(cli, "--size", 5, "--seed", 9, "--name", "web")
    client = create_app(classified, load(), reviewer="ann").test_client()
    page = client.get("/review?sample=web").text
    first = drawn["members"][0]
    assert f'name="reply" value="{first["platform"]}:{first["id"]}"' in page
    assert "0 of its 5 coded" in page and "<meter" not in page and 'class="score"' not in page
    assert 'checked' not in page.split('id="decision"')[1]  # no suggestion pre-checked
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"',
                             page.split('id="decision"')[1].split("</form>")[0]))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/review", data={**fields, "csrf_token": token, "label": "money"},
                           headers={"Origin": "http://localhost"})
    assert response.status_code == 303 and "sample=web" in response.headers["Location"]
    assert "1 of its 5 coded" in client.get(response.headers["Location"]).text
    assert client.get("/review?sample=nope").status_code == 400
    overview = client.get("/overview").text
    assert "Shares of the replies, with confidence intervals" in overview
    assert "Sample <b>web</b>: 1 of its 5" in overview
    assert overview.count("<svg role=\"img\"") == 3  # the charts (their keys hold small swatches)
    report = tmp_path / "report.html"
    cli("report", "--out", report)
    page = report.read_text()
    assert "Shares of the replies, with confidence intervals" in page and 'class=estimates' in page
    assert cli("report", "--out", report, "--sample", "nope", code=1).stderr.startswith("Error: no sample called")


def test_the_population_rule_is_chosen_at_the_draw_said_and_recorded(cli, classified):
    """By default the asker's own posts are left out, quotes count, and a text one author posted more than once
    counts once; each is said with how many it left out, recorded with the sample, and can be changed."""
    asker = count(classified, "select count(*) from replies r where status = 'ok' and text != '' and "
                              "author_handle = (select author_handle from threads t where t.platform = r.platform "
                              "and t.id = r.thread_id) and id != thread_id")
    quotes = count(classified, "select count(*) from replies where kind = 'quote' and status = 'ok' and text != ''")
    everything = count(classified, "select count(*) from replies where status = 'ok' and text is not null and "
                                   "text != '' and id != thread_id")
    assert asker > 0 and quotes > 0
    said = cli("sample", "--size", 5, "--seed", 1, "--name", "default")
    assert f"the asker's own posts not counted ({asker} left out); quote posts counted; a text one author posted " \
           "more than once counted once (0 left out)" in said.stdout
    recorded = json.loads(rows(classified, "select population_rule from samples where name = 'default'")[0][
        "population_rule"])
    assert recorded == {"asker": False, "quotes": True, "duplicates": False,
                        "left_out": {"asker": asker, "duplicates": 0}}
    wide = draw(cli, "--size", 5, "--seed", 1, "--name", "wide", "--include-asker", "--keep-duplicates")
    assert wide["population"] == everything
    narrow = draw(cli, "--size", 5, "--seed", 1, "--name", "narrow", "--no-quotes")
    assert narrow["population"] == everything - asker - quotes
    assert narrow["population_rule"]["left_out"] == {"asker": asker, "quotes": quotes, "duplicates": 0}


def test_a_text_cross_posted_by_one_author_counts_once(run, env, world, emulator):
    """The sample question asked again on Reddit and Threads draws the same people's same answers: by default
    each counts once in the population (the earliest copy), with --keep-duplicates every copy."""
    from replies.emulator.sample import load_sample_elsewhere, post_url

    elsewhere = load_sample_elsewhere(world)
    run("harvest", post_url(emulator, [r for p, r in elsewhere.items() if p == "reddit"][0]))
    run("harvest", post_url(emulator, [r for p, r in elsewhere.items() if p == "threads"][0]))
    texts = rows(env["REPLIES_DB"], "select author_handle, text from replies where status = 'ok' and text != '' "
                                    "and id != thread_id")
    once = draw(run, "--size", 5, "--seed", 1, "--name", "once")
    every = draw(run, "--size", 5, "--seed", 1, "--name", "every", "--keep-duplicates")
    copies = once["population_rule"]["left_out"]["duplicates"]
    assert copies > 20 and once["population"] + copies == every["population"]
    assert every["population"] == len(texts) - once["population_rule"]["left_out"]["asker"]
