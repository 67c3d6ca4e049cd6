"""`replies report`: one self-contained HTML page, escaped, and rendered in headless Chromium."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PREDICTED, GOLD = (0x4C, 0x72, 0xB0), (0xDD, 0x84, 0x52)
ATTACK = '<script>document.title="owned"</script><img src=x onerror=alert(1)> & "quotes"'


def plant_hostile_reply(path):
    """The most-liked reply of the sample now carries markup, as an attacker's reply could."""
    conn = sqlite3.connect(path)
    reply_id, = conn.execute("select id from replies where status = 'ok' order by like_count desc limit 1").fetchone()
    conn.execute("update replies set text = ?, author_handle = ?, like_count = 999 where id = ?",
                 [ATTACK, "<b>mallory</b>", reply_id])
    conn.commit()
    conn.close()
    return reply_id


def test_report_is_self_contained_and_escapes_everything(cli, classified, tmp_path):
    reply_id = plant_hostile_reply(classified)
    conn = sqlite3.connect(classified)
    platform, = conn.execute("select platform from replies where id = ?", [reply_id]).fetchone()
    conn.close()
    cli("label", f"{platform}:{reply_id}", "money", "--reviewer", "ann")
    out = tmp_path / "report.html"
    cli("report", "--out", out)
    page = out.read_text()
    assert "<script" not in page and "<img" not in page and "<b>mallory" not in page
    assert "&lt;script&gt;" in page and "&lt;b&gt;mallory&lt;/b&gt;" in page and "&amp; &quot;quotes&quot;" in page
    assert "<link" not in page and 'src="' not in page  # nothing is loaded from elsewhere
    assert page.count("<svg role=\"img\"") == 2  # the charts (their keys hold small swatches)
    # the planted reply, reviewed as money and the most liked, is quoted first under money
    money = page.split("Money and funding flows <code>money</code></h3>")[1].split("<h3>")[0]
    assert money.split("<blockquote dir=auto>")[1].startswith("&lt;script&gt;")


def test_report_renders_its_charts_in_chromium(cli, classified, tmp_path):
    if not CHROMIUM:
        if os.environ.get("CI"):  # CI installs Chromium (.ci/run): there, a missing browser is a failure
            pytest.fail("Chromium is not installed, so the report was never rendered")
        pytest.skip("needs Debian's chromium (apt-get install chromium; .ci/run installs it)")
    from PIL import Image

    plant_hostile_reply(classified)
    conn = sqlite3.connect(classified)
    for reply_id, in conn.execute("select id from replies where status = 'ok' limit 12").fetchall():
        conn.execute("insert into gold_labels (platform, id, codebook, reviewer, labels, created_at)"
                     " select platform, id, 'lean_nhs', 'ann', '[\"money\", \"policy\"]', '2026-11-26T00:00:00Z'"
                     " from replies where id = ?", [reply_id])
    conn.commit()
    conn.close()
    out = tmp_path / "report.html"
    cli("report", "--out", out)
    shot = tmp_path / "report.png"
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1400", f"--screenshot={shot}",
         out.as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.exists(), dom.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    count = {rgb: n for n, rgb in colours}
    assert count.get(PREDICTED, 0) > 2000  # the predicted bars and the time chart
    assert count.get(GOLD, 0) > 300  # the gold bars for money and policy
    title = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile2'}", "--dump-dom", out.as_uri()],
        capture_output=True, text=True, timeout=120).stdout
    assert "<title>lean_nhs: replies report</title>" in title  # the planted script never ran


def test_report_counts_have_percentages_a_no_category_row_quotes_show_what_they_quote_and_can_be_pseudonymous(
        cli, classified, tmp_path):
    import sqlite3

    conn = sqlite3.connect(classified)
    quote = conn.execute("select platform, id from replies where quote_of is not null and status = 'ok' "
                         "order by id limit 1").fetchone()
    assert quote, "the sample has a quote post"
    conn.execute("update replies set like_count = 100000 where platform = ? and id = ?", quote)  # quoted first
    conn.commit()
    page = tmp_path / "report.html"
    cli("report", "--out", page)
    html = page.read_text()
    import re

    assert re.search(r"<td>No category</td><td>\d+ \(\d+%\)</td>", html)
    assert len(re.findall(r"<td>\d+ \(\d+%\)</td>", html)) >= 8  # every category's count with its share
    assert "quoting @" in html
    handles = {h for (h,) in conn.execute("select author_handle from replies where author_handle is not null")}
    shown = tmp_path / "shown.html"
    cli("report", "--out", shown, "--pseudonymize")
    quoted = shown.read_text().split("Most-liked replies per category", 1)[1]
    assert not any(f"@<bdi>{h}</bdi>" in quoted for h in handles) and "@<bdi>user_" in quoted
    assert 'href="http' not in quoted


def cross_post(path, copies: int = 3) -> str:
    """The reply scored highest in `money`, cross-posted by its author on `copies` more platforms (more liked there,
    each with the same scores): what a user who answers everywhere leaves in a six-platform harvest."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    reply = dict(conn.execute("select r.* from replies r join predictions p using (platform, id) where p.category ="
                              " 'money' and p.predicted = 1 and r.status = 'ok' order by p.score desc limit 1").fetchone())
    predictions = [dict(row) for row in conn.execute("select * from predictions where platform = ? and id = ?",
                                                      [reply["platform"], reply["id"]])]
    for n, platform in enumerate(("reddit", "youtube", "threads")[:copies]):
        copy = {**reply, "platform": platform, "id": f"copy{n}", "like_count": (reply["like_count"] or 0) + 50 + n,
                "text": "  " + reply["text"].upper() + " "}  # the copies differ in case and spacing only
        conn.execute(f"insert into replies ({', '.join(copy)}) values ({', '.join('?' * len(copy))})", list(copy.values()))
        for row in predictions:
            row = {**row, "platform": platform, "id": f"copy{n}"}
            conn.execute(f"insert into predictions ({', '.join(row)}) values ({', '.join('?' * len(row))})",
                         list(row.values()))
    conn.commit()
    conn.close()
    return " ".join(reply["text"].split()).casefold()


def test_a_cross_posted_reply_is_one_exemplar_in_the_report_and_on_the_codebook_page(cli, classified, tmp_path):
    import html
    import re

    from replies.codebook import load
    from replies.web.app import create_app

    text = cross_post(classified)
    out = tmp_path / "report.html"
    cli("report", "--out", out)
    section = re.search(r"<section><h3>[^<]*<code>money</code></h3>(.*?)</section>", out.read_text(), re.S).group(1)
    quoted = [" ".join(html.unescape(q).split()).casefold()
              for q in re.findall(r"<blockquote dir=auto>(.*?)(?:<blockquote|</blockquote>)", section, re.S)]
    assert quoted.count(text) == 1 and len(quoted) == 3 and len(set(quoted)) == 3
    page = create_app(classified, load(), reviewer="ann").test_client().get("/codebook").text
    typical = re.search(r'id="category-money">(.*?)</section>', page, re.S).group(1)
    shown = [" ".join(html.unescape(q).split()).casefold()
             for q in re.findall(r'<blockquote dir="auto">(.*?) <span class="who">', typical, re.S)]
    assert len(shown) == 5 and len(set(shown)) == 5 and text in shown
