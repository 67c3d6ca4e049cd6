"""`replies serve` in headless Chromium (Debian's package), driven by Playwright as a reviewer would: keyboard
only, reloads, filters, downloads, the live chart, and a reply that tries to run a script."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from replies.codebook import load
from replies.web.app import create_app
from tests.helpers import count, rows

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
OUTPUT = Path(__file__).parent / "output"  # screenshots kept for whoever reads the test run
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
PREDICTED = (0x4C, 0x72, 0xB0)
# decided before any fixture runs: without Chromium (outside CI) these tests skip without first paying for the
# demo database they would have browsed
pytestmark = pytest.mark.skipif(not CHROMIUM and not os.environ.get("CI"),
                                reason="needs Debian's chromium (apt-get install chromium; .ci/run installs it)")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        if os.environ.get("CI"):  # CI installs Chromium (.ci/run): there, a missing browser is a failure
            pytest.fail("Chromium is not installed, so the web page was never tested in a browser")
        pytest.skip("needs Debian's chromium (apt-get install chromium; .ci/run installs it)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def site(classified):
    """`replies serve`'s application on a free loopback port, in this process; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, create_app(classified, load(), reviewer="ann"), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 1000})
    opened = context.new_page()
    opened.dialogs = []
    opened.on("dialog", lambda dialog: (opened.dialogs.append(dialog.message), dialog.dismiss()))
    yield opened
    context.close()


def current(page) -> tuple[str, list[str]]:
    """The reply the review page shows and the categories ticked on it (read, not clicked)."""
    reply = page.input_value("#decision input[name=reply]")
    ticked = page.eval_on_selector_all("#decision input[name=label]:checked", "boxes => boxes.map(b => b.value)")
    return reply, sorted(ticked)


@pytest.mark.slow
def test_ten_replies_reviewed_with_the_keyboard_only_are_kept_across_a_reload(site, page, classified):
    from playwright.sync_api import expect

    page.goto(f"{site}/review")
    decided = []
    for i in range(10):
        expect(page.locator("#position")).to_contain_text(f"Reply {i + 1} of")
        page.keyboard.press("x")  # clear the model's suggestions, then choose
        page.keyboard.press(str(i % 7 + 1))
        if i % 3 == 0:
            page.keyboard.press(str((i + 3) % 7 + 1))
        if i == 4:
            page.keyboard.press("n")
            page.keyboard.type("needs a second look")
            page.keyboard.press("Escape")
        decided.append(current(page))
        with page.expect_navigation():
            page.keyboard.press("Enter")
    saved = {f"{r['platform']}:{r['id']}": (sorted(json.loads(r["labels"])), r["note"])
             for r in rows(classified, "select platform, id, labels, note from gold_labels where reviewer = 'ann'")}
    assert {reply: labels for reply, (labels, _) in saved.items()} == dict(decided)
    assert [note for _, note in saved.values() if note] == ["needs a second look"]
    assert all(len(labels) == (2 if i % 3 == 0 else 1) for i, (_, labels) in enumerate(decided))

    page.reload()
    expect(page.locator("#position")).to_contain_text("Reply 11 of")
    for reply, labels in reversed(decided[-3:]):  # Backspace walks back through what was saved
        with page.expect_navigation():
            page.keyboard.press("Backspace")
        assert current(page) == (reply, labels)
        expect(page.locator("#position")).to_contain_text("saved")
    assert count(classified, "select count(*) from gold_labels") == 10


def test_question_mark_shows_what_each_category_means_and_accepting_none_says_so(site, page, classified):
    from playwright.sync_api import expect

    from replies.codebook import load

    page.goto(f"{site}/review")
    definitions = page.locator("#definitions")
    first = load().categories[0]
    expect(definitions.locator("dd").first).not_to_be_visible()
    page.keyboard.press("?")
    expect(definitions.locator("dd").first).to_be_visible()
    expect(definitions.locator("dd").first).to_contain_text(" ".join(first.description.split())[:40])
    page.keyboard.press("?")
    expect(definitions.locator("dd").first).not_to_be_visible()
    page.keyboard.press("x")  # nothing marked, then accept: recorded as "no category applies", and said
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#message")).to_contain_text("no category applies to the previous reply")
    assert count(classified, "select count(*) from gold_labels where labels = '[]'") == 1


def test_a_command_on_a_narrow_page_wraps_between_words_never_inside_an_option(site, browser, classified):
    """The "Sample coded" page on a phone-width screen: `--sample` stays whole (it was cut as "-" / "-sample")."""
    from click.testing import CliRunner

    from replies.cli import main

    name = "a-sample-name-long-enough-to-wrap"
    invoke = lambda *args: CliRunner().invoke(main, [*map(str, args), "--db", str(classified)], catch_exceptions=False)
    assert invoke("sample", "--size", 2, "--name", name).exit_code == 0
    members = json.loads(invoke("sample", name, "--format", "json").stdout)["members"]
    for member in members:
        invoke("label", f"{member['platform']}:{member['id']}", "money", "--reviewer", "ann")
    context = browser.new_context(viewport={"width": 240, "height": 700})
    narrow = context.new_page()
    narrow.goto(f"{site}/review?sample={name}")
    command = narrow.locator("#done code.command")
    assert " ".join(command.inner_text().split()) == f"replies estimate --sample {name}"
    lines = command.evaluate("code => code.getClientRects().length")
    words = command.locator(".word").evaluate_all("words => words.map(w => [w.textContent, w.getClientRects().length])")
    OUTPUT.mkdir(exist_ok=True)
    narrow.screenshot(path=str(OUTPUT / "sample-coded-narrow.png"), full_page=True)
    context.close()
    assert lines > 1  # the page is narrow enough that the command does wrap ...
    assert words == [[word, 1] for word in ("replies", "estimate", "--sample", name)]  # ... between words only


def test_the_table_filters_and_downloads_what_it_shows(site, page, classified, tmp_path):
    page.goto(f"{site}/replies")
    page.keyboard.press("/")  # the search box, without the mouse
    page.keyboard.type("funding OR money")
    page.keyboard.press("Tab")  # the FTS5 syntax box: OR as a query operator, not a word to find
    page.keyboard.press("Space")
    page.keyboard.press("Shift+Tab")
    page.select_option("select[name=category]", "money")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    total = int(page.inner_text("#total"))
    assert 0 < total < count(classified, "select count(*) from replies where status = 'ok'")
    shown = page.eval_on_selector_all("a.review-link",
                                      "links => links.map(a => new URL(a.href).searchParams.get('at'))")
    assert len(shown) == min(total, 50)
    with page.expect_download() as download:
        page.click("#download-csv")
    path = tmp_path / "table.csv"
    download.value.save_as(path)
    with path.open(encoding="utf-8", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [f"{r['platform']}:{r['id']}" for r in table][:len(shown)] == shown and len(table) == total
    final = [(r["gold"] or r["labels"]).split(";") for r in table]
    assert all("money" in labels for labels in final)


def test_the_overview_chart_renders_and_follows_the_review(site, page, browser):
    from PIL import Image
    from playwright.sync_api import expect

    page.goto(f"{site}/overview")
    expect(page.locator("#category-chart")).to_contain_text("0 replies reviewed")
    assert page.locator("#category-chart svg.chart rect").count() == 14  # predicted and reviewed, 7 categories
    OUTPUT.mkdir(exist_ok=True)
    shot = OUTPUT / "overview.png"
    page.screenshot(path=str(shot), full_page=True)
    colours = {rgb: n for n, rgb in Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)}
    assert colours.get(PREDICTED, 0) > 2000  # the bars were drawn, not just the markup
    reviewer = page.context.new_page()  # a second tab reviews two replies
    reviewer.goto(f"{site}/review")
    for _ in range(2):
        reviewer.keyboard.press("3")
        with reviewer.expect_navigation():
            reviewer.keyboard.press("Enter")
    expect(page.locator("#category-chart")).to_contain_text("2 replies reviewed", timeout=20_000)
    page.screenshot(path=str(OUTPUT / "overview-after-review.png"), full_page=True)


def test_charts_carry_a_colour_key_and_fit_a_phone_width_page(site, browser, classified, tmp_path):
    """The overview's and the report's charts at 420 px: each whole on the page (they were cut), each with a key
    naming what its colours mean, the key's swatches drawn in the chart's colours."""
    from click.testing import CliRunner
    from PIL import Image

    from replies.cli import main
    from replies.report.estimates import COMBINED, HUMAN

    invoke = lambda *args: CliRunner().invoke(main, [*map(str, args), "--db", str(classified)], catch_exceptions=False)
    assert invoke("sample", "--size", 12, "--name", "phone").exit_code == 0
    members = json.loads(invoke("sample", "phone", "--format", "json").stdout)["members"]
    for i, member in enumerate(members):
        invoke("label", f"{member['platform']}:{member['id']}", *(["money"] if i % 3 == 0 else []),
               "--reviewer", "ann")
    report = tmp_path / "report.html"
    assert invoke("report", "--out", report, "--sample", "phone").exit_code == 0
    context = browser.new_context(viewport={"width": 420, "height": 800})
    narrow = context.new_page()
    OUTPUT.mkdir(exist_ok=True)
    for name, url in (("overview", f"{site}/overview?sample=phone"), ("report", report.as_uri())):
        narrow.goto(url)
        charts = narrow.locator("svg.chart").evaluate_all(
            "charts => charts.map(c => { const r = c.getBoundingClientRect(); const key = c.nextElementSibling;"
            " return [c.getAttribute('aria-label'), r.left, r.right, key && key.className === 'chart-key'"
            " ? key.innerText : null]; })")
        assert len(charts) == 3, (name, charts)  # shares with intervals, tags per category, replies over time
        for label, left, right, key in charts:
            assert 0 <= left and right <= 420, (name, label, left, right)  # whole on the page, not cut
        keys = {label: " ".join((key or "").split()) for label, _, _, key in charts}
        assert "tagged by the model" in keys["Replies per category"] and "coded by reviewers" in keys[
            "Replies per category"], keys
        shares = next(k for label, k in keys.items() if label.startswith("Estimated share"))
        for meaning in ("estimate and its interval", "coded members alone", "model tags alone"):
            assert meaning in shares, shares
        shot = OUTPUT / f"charts-{name}-420px.png"
        narrow.screenshot(path=str(shot), full_page=True)
        colours = {rgb: n for n, rgb in Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)}
        for colour in (COMBINED, HUMAN):
            assert colours.get(tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5)), 0) > 50, (name, colour)
    context.close()


def test_a_reply_that_carries_a_script_shows_as_text_and_runs_nothing(site, page, classified):
    conn = sqlite3.connect(classified)
    platform, reply_id = conn.execute("select platform, id from replies where status = 'ok'"
                                      " order by created_at limit 1").fetchone()
    conn.execute("update replies set text = ?, author_handle = ? where id = ?", [HOSTILE, "<b>mallory</b>", reply_id])
    conn.commit()
    conn.close()
    from urllib.parse import quote

    page.goto(f"{site}/review?scope=all&at={quote(platform + ':' + reply_id)}")
    assert page.inner_text("#reply-text") == HOSTILE
    assert page.locator("img").count() == 0 and page.locator("main script").count() == 0
    page.goto(f"{site}/replies?q=alert")
    assert HOSTILE in page.inner_text("#replies")
    page.goto(f"{site}/codebook")
    assert page.dialogs == []
