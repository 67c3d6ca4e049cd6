"""The platform registry, and Reddit, YouTube and Threads threads going through the whole tool."""

from __future__ import annotations

import json
import re

import pytest

from replies import platforms
from replies.emulator import World
from replies.emulator.sample import load_sample_elsewhere, post_url
from replies.harvester.errors import UnrecognisedURL
from tests.helpers import rows


def test_every_built_in_platform_is_registered_through_the_entry_points_as_a_plugin_would_be():
    from importlib.metadata import distributions

    registered = {point.name: point.value for distribution in distributions() for point in distribution.entry_points
                  if point.group == platforms.GROUP}
    assert platforms.names() == ("x", "bluesky", "mastodon", "reddit", "youtube", "threads")
    for name in platforms.names():
        assert registered[name] == f"replies.platforms.builtin.{name}:PLATFORM"
        platform = platforms.get(name)
        source = platform.source_class()
        assert platform.name == name and platform.url_forms and callable(platform.parse_url)
        assert source.platform == name and callable(source.batches)
        assert platform.emulator_module().serves
    with pytest.raises(UnrecognisedURL) as error:
        platforms.parse("https://www.linkedin.com/posts/someone-123")
    assert "redd.it" in str(error.value) and "youtu.be" in str(error.value) and "threads.net" in str(error.value)


def test_tracked_reddit_youtube_and_threads_threads_reach_threads_exports_and_the_report(serve, run, env, tmp_path):
    world = World()
    roots = load_sample_elsewhere(world)
    server = serve(world)
    urls = {name: post_url(server, root) for name, root in roots.items()}
    run("track", *urls.values())
    result = run("harvest", "--all")
    for name in ("reddit", "youtube", "threads"):
        assert f"{name} " in result.output
    stored = {r["platform"]: r["n"] for r in rows(env["REPLIES_DB"], "select platform, count(*) n from replies "
                                                                     "where status = 'ok' group by platform")}
    expected = {name: len([p for p in world.thread(name, root.id) if p.state == "ok"]) for name, root in roots.items()}
    assert stored == expected and all(n > 40 for n in stored.values())
    listing = json.loads(run("threads", "--json").output)
    by_platform = {t["platform"]: t for t in listing}
    assert set(by_platform) == {"reddit", "youtube", "threads"}
    exported = [json.loads(line) for line in run("export", "--format", "jsonl").output.splitlines()]
    assert {e["platform"] for e in exported} == {"reddit", "youtube", "threads"}
    reddit = [e for e in exported if e["platform"] == "reddit"]
    assert all(e["thread"] == f"t3_{roots['reddit'].id}" for e in reddit)
    run("classify")
    report = tmp_path / "report.html"
    run("report", "--out", report)
    page = report.read_text()
    quoted = set(re.findall(r"</bdi> · (\w+) · ", page))  # the platform of each reply quoted
    assert quoted and quoted <= {"reddit", "youtube", "threads"}
