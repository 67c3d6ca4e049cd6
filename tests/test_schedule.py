"""Scheduled collection: track, harvest --all, the lock, exit codes and --log-json, over real HTTP."""

from __future__ import annotations

import json
import os
import random
import time
from datetime import datetime, timedelta, timezone

import pytest

from replies import db
from replies.emulator import Emulator, World
from replies.emulator.sample import post_url
from replies.emulator.world import synthetic_thread
from tests.conftest import TOKEN, replies_subprocess
from tests.helpers import platform_id, rows, stored


def test_track_then_harvest_all_polls_active_threads(run, env, world, roots, url, monkeypatch):
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "mastodon-token")  # logged out, Mastodon caps the context
    for platform in ("x", "bluesky", "mastodon"):
        assert "14 days after it was posted" in run("track", url(platform)).output
    result = run("harvest", "--all")
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3 and all(" new, " in line for line in lines)
    for platform in ("x", "bluesky", "mastodon"):
        assert set(stored(env["REPLIES_DB"], platform)) == world.expected(platform, roots[platform].id)
    linked = rows(env["REPLIES_DB"], "select platform, thread_id from tracked order by platform")
    assert [(r["platform"], platform_id(r["platform"], r["thread_id"])) for r in linked] == \
        sorted((p, roots[p].id) for p in roots)
    run("track", url("x"), "--until", "2020-01-01")  # an end in the past: no longer polled
    run("untrack", url("mastodon"))
    again = run("harvest", "--all").output
    assert "past its tracking end, not polled" in again and again.count(" new, ") == 1
    assert "is not tracked" in run("untrack", url("mastodon"), code=1).stderr
    assert "not a post URL" in run("track", "https://example.org/nothing", code=1).stderr
    assert "is not a date" in run("track", url("x"), "--until", "soon", code=2).stderr


def test_the_default_end_is_fourteen_days_after_the_post(run, env, serve):
    world = World()
    old = synthetic_thread(world, "bluesky", 20, start=datetime.now(timezone.utc) - timedelta(days=15))
    new = synthetic_thread(world, "bluesky", 20, seed=3)
    server = serve(world)
    run("track", post_url(server, old), post_url(server, new))
    first = run("harvest", "--all").output  # the post time is only known after a first harvest
    assert first.count(" new, ") == 2
    second = run("harvest", "--all").output
    assert second.count(" new, ") == 1 and "past its tracking end" in second


def test_log_json_and_exit_codes_for_partial_failure(run, env, world, roots, url, emulator):
    run("track", url("x"), url("bluesky"))
    run("track", url("bluesky").replace(roots["bluesky"].id.rsplit("/", 1)[-1], "3zzzzzzzzzzzz"))
    result = run("harvest", "--all", "--log-json", code=5)
    events = [json.loads(line) for line in result.output.splitlines()]
    threads = [e for e in events if e["event"] == "thread"]
    assert [t["outcome"] for t in threads] == ["ok", "ok", "error"]
    assert threads[0]["new"] == len(world.expected("x", roots["x"].id)) and threads[0]["platform"] == "x"
    summary = events[-1]
    assert summary["event"] == "summary" and summary["ok"] == 2 and summary["failed"] == 1
    assert summary["exit_code"] == 5 and all("time" in e for e in events)
    assert result.stderr == ""


def test_rate_limited_runs_exit_3_and_resume(run, env, emulator, world, roots, url):
    run("track", url("x"))
    emulator.inject("429", "/search/recent", reset_in=60, times=1)
    result = run("harvest", "--all", "--no-wait", code=3)
    assert "rate-limited on 1 of 1 threads" in result.stderr
    run("harvest", "--all", "--no-wait")
    assert set(stored(env["REPLIES_DB"], "x")) == world.expected("x", roots["x"].id)


def test_a_second_harvest_exits_at_once_while_one_runs(env, serve, run):
    world = World()
    root = synthetic_thread(world, "x", 900)
    server = serve(world)
    gate = server.gate("/search/recent")  # the first harvest holds the lock, waiting on its first page
    child_env = {**env, "REPLIES_X_API_BASE": server.base_url}
    first = replies_subprocess("harvest", "-q", post_url(server, root), env=child_env)
    assert gate.held.wait(60), first.communicate()
    second = replies_subprocess("harvest", "-q", post_url(server, root), env=child_env)
    _, err = second.communicate(timeout=60)  # it does not wait for the first: the first cannot finish yet
    assert second.returncode == 6, err
    assert "another harvest (pid" in err and err.count("\n") == 1
    gate.release()
    assert first.wait(timeout=120) == 0
    assert run("harvest", "-q", post_url(server, root)).exit_code == 0


def test_readers_work_while_a_harvest_writes(env, serve, run):
    import sqlite3

    world = World()
    root = synthetic_thread(world, "x", 1500)
    server = serve(world, latency=0.03)
    child_env = {**env, "REPLIES_X_API_BASE": server.base_url}
    db.open_db(env["REPLIES_DB"]).conn.close()
    reader = sqlite3.connect(env["REPLIES_DB"])
    reader.execute("begin")
    reader.execute("select count(*) from replies").fetchone()  # a read transaction held open throughout
    proc = replies_subprocess("harvest", "-q", post_url(server, root), env=child_env)
    seen = []
    while proc.poll() is None:
        seen.append(int(run("query", "select count(*) as n from replies", "--csv").output.split()[1]))
        run("export", "--format", "csv")
        time.sleep(0.05)
    assert proc.returncode == 0, proc.communicate()
    reader.rollback()
    reader.close()
    assert len(seen) > 3 and seen == sorted(seen) and seen[-1] > seen[0]


@pytest.mark.slow
def test_a_week_of_hourly_runs_with_faults_ends_with_everything(tmp_path, monkeypatch):
    """A simulated week: replies keep arriving, the job runs every hour with random faults, and the
    database ends with exactly the replies the emulator holds."""
    from replies import db
    from replies.harvester.schedule import harvest_all
    from replies.harvester.settings import Settings

    start = datetime.now(timezone.utc) - timedelta(days=7)
    clock = {"now": start}
    world = World(clock=lambda: clock["now"])
    roots = {}
    rng = random.Random(5)
    for platform in ("x", "bluesky", "mastodon"):
        root = world.add(platform, "asker.bsky.social" if platform == "bluesky" else "asker", "Why?", start)
        ids = [root.id]
        for i in range(120):  # replies arrive over six days, most in the first two
            when = start + timedelta(hours=min(rng.expovariate(1 / 30), 143))
            parent = rng.choice(ids)
            who = f"u{i}" + (".bsky.social" if platform == "bluesky" else "")
            ids.append(world.add(platform, who, f"reply {i}", when, parent=parent).id)
        roots[platform] = root
    faults = ("503", "reset", "truncate", "429", "500")
    database = db.open_db(tmp_path / "week.db")
    with Emulator(world, x_tokens=[TOKEN]) as server:
        waits = []  # back-off waits are recorded, not slept: the simulated week takes no real waiting
        settings = Settings(x_bearer_token=TOKEN, x_api_base=server.base_url, bsky_api_base=server.base_url,
                            mastodon_access_token="mastodon-token", mastodon_instance=server.base_url.split("//")[1],
                            http_timeout=2, sleep=waits.append)
        for platform, root in roots.items():
            db.track(database, post_url(server, root))
        outcomes = []
        for hour in range(1, 24 * 7 + 1):
            clock["now"] = start + timedelta(hours=hour)
            if rng.random() < 0.3:
                server.inject(rng.choice(faults), rng.choice(["/search/recent", "getPostThread", "/context",
                                                              "/quote", "/2/tweets/"]), reset_in=0.2)
            outcomes += [o.outcome for o in harvest_all(database, settings, now=clock["now"], wait=False)]
        assert "rate_limited" in outcomes or "error" in outcomes  # the faults did bite
        assert waits, "no retry ever backed off"
        server.faults.clear()
        final = harvest_all(database, settings, now=clock["now"], wait=False)
        assert [o.outcome for o in final] == ["ok", "ok", "ok"]
        for platform, root in roots.items():
            have = {platform_id(platform, r["id"])
                    for r in database.query("select id from replies where platform = ?", [platform])}
            assert have == world.expected(platform, root.id), platform


def test_the_documented_cron_line_and_systemd_unit_run(run, env, url, tmp_path, world, roots):
    """The job lines shipped in scripts/schedule/ work as written, with only the paths changed."""
    import configparser
    import subprocess
    import sys
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "scripts" / "schedule"
    replies = Path(sys.executable).parent / "replies"
    research = tmp_path / "research"
    research.mkdir()
    run("track", url("x"), "--db", research / "replies.db")
    line = next(line for line in (folder / "replies.crontab").read_text().splitlines()
                if line and not line.startswith("#"))
    fields = line.split(None, 5)
    assert fields[:5] == ["7", "*", "*", "*", "*"]
    command = fields[5].replace('"$HOME/replies/.venv/bin/replies"', str(replies)).replace("$HOME/research",
                                                                                          str(research))
    child_env = {**os.environ, **env, "REPLIES_DB": str(research / "replies.db")}
    done = subprocess.run(["bash", "-c", command], env=child_env, timeout=120)
    assert done.returncode == 0
    log = [json.loads(x) for x in (research / "harvest.log").read_text().splitlines()]
    assert log[-1]["event"] == "summary" and log[-1]["ok"] == 1 and log[-1]["exit_code"] == 0
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((folder / "replies-harvest.service").read_text())
    exec_start = unit["Service"]["ExecStart"].replace("%h/replies/.venv/bin/replies", str(replies)).split()
    assert set(unit["Service"]["SuccessExitStatus"].split()) == {"3", "6"}
    done = subprocess.run(exec_start, env=child_env, cwd=research, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout.splitlines()[-1])["event"] == "summary"
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.read_string((folder / "replies-harvest.timer").read_text())
    assert timer["Timer"]["OnCalendar"] == "hourly"


def test_a_harvest_finishes_its_events_however_it_ends(env, url, tmp_path):
    """The library calls `finish()` on the events it was given when a thread's harvest ends, whether it ended
    well, in an error, or before a source could be made: a progress display a caller hung on it is closed."""
    from replies import db
    from replies.errors import RepliesError
    from replies.harvester.run import harvest
    from replies.harvester.settings import Settings
    from replies.net.events import Events

    class Recorded(Events):
        def __init__(self):
            self.calls = []

        def progress(self, stored, expected):
            self.calls.append("progress")

        def finish(self):
            self.calls.append("finish")

    database = db.open_db(tmp_path / "events.db")
    settings = Settings.from_env(env)
    missing = url("mastodon").rsplit("/", 1)[0] + "/999999999"  # a status the server does not have
    for target, fails in ((url("mastodon"), False), (missing, True), ("https://example.org/not-a-post", True)):
        events = Recorded()
        if fails:
            with pytest.raises(RepliesError):
                harvest(database, target, settings, events=events)
        else:
            harvest(database, target, settings, events=events)
            assert "progress" in events.calls
        assert events.calls[-1] == "finish" and events.calls.count("finish") == 1, (target, events.calls)
