"""Proxies as users set them: HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY, through a real forwarding proxy
on 127.0.0.1. The emulator is known by a name only that proxy resolves (`api.emulator.test`), so a harvest that
succeeds went through it."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys

import pytest

from replies.emulator import Emulator
from replies.emulator.sample import post_url
from replies.errors import ConfigurationError
from replies.net.proxy import Proxies
from tests.forward_proxy import ForwardProxy
from tests.helpers import count

NAME = "api.emulator.test"


def _coder(message: str, ids: list[str]) -> dict[str, float]:
    return {cid: 0.9 if cid == "money" else 0.05 for cid in ids}


def test_a_harvest_and_a_language_model_run_go_through_the_proxy(world, roots, run, env, monkeypatch):
    with Emulator(world, name=NAME) as server, ForwardProxy({NAME: "127.0.0.1"}) as proxy:
        server.llm_coder = _coder
        monkeypatch.setenv("http_proxy", proxy.url)  # the lower-case spelling, as curl and wget read it
        result = run("harvest", post_url(server, roots["mastodon"]))
        assert "mastodon" in result.output
        stored = count(env["REPLIES_DB"], "select count(*) from replies where platform = 'mastodon'")
        assert stored > 20
        harvested = len(server.log)
        assert harvested >= 2 and len(proxy.seen) == harvested
        assert all(s.method == "GET" and s.target.startswith(f"http://{NAME}:{server.port}/api/v1/")
                   for s in proxy.seen)

        monkeypatch.setenv("REPLIES_LLM_BASE", f"http://{NAME}:{server.port}/v1")
        monkeypatch.setenv("REPLIES_LLM_MODEL", "emulated-8b")
        coded = run("classify", "--method", "llm", "--yes", "--no-examples")
        assert "0 failed" in coded.output
        chats = [s for s in proxy.seen[harvested:] if s.target.endswith("/v1/chat/completions")]
        assert len(chats) == len(server.requests_to("/v1/chat/completions")) > 20
        assert len(proxy.seen) == len(server.log)  # every request, the model list's included


def test_https_goes_through_connect_and_the_proxy_never_sees_a_token(world, roots, tmp_path):
    """X and Mastodon over https:// with their tokens, through HTTPS_PROXY with a user and
    password: the proxy sees CONNECT api.emulator.test and its own credentials, never a token or a reply."""
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(NAME).configure_cert(served)
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    x_token, mastodon_token = "x-token-never-for-the-proxy", "mastodon-token-never-for-the-proxy"
    with Emulator(world, name=NAME, tls=served, x_tokens=[x_token], mastodon_tokens=[mastodon_token]) as server, \
            ForwardProxy({NAME: "127.0.0.1"}, credentials=("nhs-user", "proxy-pass")) as proxy:
        base = f"https://{NAME}:{server.port}"
        env = {"HTTPS_PROXY": f"http://nhs-user:proxy-pass@127.0.0.1:{proxy.port}",
               "SSL_CERT_FILE": str(tmp_path / "ca.pem"), "REPLIES_X_API_BASE": base, "X_BEARER_TOKEN": x_token, "MASTODON_INSTANCE": f"{NAME}:{server.port}",
               "MASTODON_ACCESS_TOKEN": mastodon_token, "REPLIES_DB": str(tmp_path / "replies.db"),
               "XDG_CONFIG_HOME": str(tmp_path), "REPLIES_HTTP_TIMEOUT": "5"}
        done = subprocess.run([sys.executable, "-m", "replies", "harvest", post_url(server, roots["x"]),
                               post_url(server, roots["mastodon"])], capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", **env}, timeout=120)
        assert done.returncode == 0, done.stderr
        for platform in ("x", "mastodon"):
            assert count(tmp_path / "replies.db", "select count(*) from replies where platform = ?", [platform]) > 20
        assert {(s.method, s.target) for s in proxy.seen} == {("CONNECT", f"{NAME}:{server.port}")}
        credentials = "Basic " + base64.b64encode(b"nhs-user:proxy-pass").decode()
        assert all(s.headers.get("proxy-authorization") == credentials for s in proxy.seen)
        seen = proxy.clear_bytes()
        assert x_token.encode() not in seen and mastodon_token.encode() not in seen
        assert b"\nauthorization:" not in seen.lower() and b"bearer" not in seen.lower()
        assert b"lean" not in seen.lower()  # no reply text either: the tunnel carries TLS only
        assert all(r["authorization"] for r in server.log)  # the tokens reached the server they belong to


def test_no_proxy_sends_a_host_direct_and_this_machine_is_never_proxied(world, roots, run, env, monkeypatch, url):
    with Emulator(world, name=NAME) as server, ForwardProxy({NAME: "127.0.0.1"}) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "example.org, .emulator.test")
        failed = run("harvest", post_url(server, roots["mastodon"]), code=1)
        assert proxy.seen == [] and server.log == []  # direct: the name resolves nowhere but in the proxy
        assert "api.emulator.test" in failed.stderr
    # a server on this machine is reached directly, whatever the proxy: here a dead one
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY")
    run("harvest", url("mastodon"))
    assert count(env["REPLIES_DB"], "select count(*) from replies where platform = 'mastodon'") > 20


def test_a_proxy_that_wants_a_password_or_is_not_running_is_one_clear_line_at_once(world, roots, run, monkeypatch):
    with Emulator(world, name=NAME) as server, ForwardProxy({NAME: "127.0.0.1"}, credentials=("u", "p")) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        refused = run("harvest", post_url(server, roots["mastodon"]), code=1)
        assert "refused to carry the request to api.emulator.test (407 Proxy Authentication Required)" in \
            refused.stderr and "http://USER:PASSWORD@HOST:PORT" in refused.stderr
        assert len(proxy.seen) == 1 and not run.waits  # asked once: no retries, no back-off
    monkeypatch.setenv("HTTP_PROXY", "http://someone:hunter22@127.0.0.1:9")
    dead = run("harvest", post_url(server, roots["mastodon"]), code=1)
    assert "nothing is listening at the proxy http://someone:***@127.0.0.1:9 (HTTP_PROXY)" in dead.stderr
    assert "hunter22" not in dead.output + dead.stderr and not run.waits


def test_replies_config_shows_the_proxy_in_effect_with_its_password_masked(run, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://nhs-user:proxy-pass@proxy.trust.nhs.uk:3128")
    monkeypatch.setenv("no_proxy", "intranet.nhs.uk,10.0.0.0/8")
    shown = {row["setting"]: row for row in json.loads(run("config", "--json").stdout)}
    assert shown["HTTPS_PROXY"]["value"] == "http://nhs-user:***@proxy.trust.nhs.uk:3128"
    assert shown["HTTPS_PROXY"]["from"] == "environment (HTTPS_PROXY)"
    assert shown["NO_PROXY"]["value"].startswith("intranet.nhs.uk,10.0.0.0/8")
    assert shown["HTTP_PROXY"]["value"] == "(not set)"
    monkeypatch.setenv("HTTPS_PROXY", "ftp://proxy:21")
    assert "HTTPS_PROXY='ftp://proxy:21' is not a proxy address" in run("config").stderr


@pytest.mark.parametrize("environ,url,expected", [
    ({"HTTPS_PROXY": "http://p:1"}, "https://api.x.com/2/tweets", "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1"}, "http://mastodon.example/api", None),  # http:// wants HTTP_PROXY
    ({"HTTP_PROXY": "p:3128"}, "http://mastodon.example/api", "http://p:3128"),  # host:port alone is http://
    ({"ALL_PROXY": "http://a:1", "HTTP_PROXY": "http://h:1"}, "https://bsky.social", "http://a:1"),
    ({"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"}, "https://a.b", "http://lower:1"),
    ({"HTTP_PROXY": "http://h:1", "REQUEST_METHOD": "GET"}, "http://a.b", None),  # httpoxy: not from a CGI header
    ({"ALL_PROXY": "http://a:1", "NO_PROXY": "*"}, "https://a.b", None),
    ({"ALL_PROXY": "http://a:1", "NO_PROXY": "nhs.uk"}, "https://www.england.nhs.uk/x", None),
    ({"ALL_PROXY": "http://a:1", "NO_PROXY": ".nhs.uk"}, "https://nhs.uk/", None),
    ({"ALL_PROXY": "http://a:1", "NO_PROXY": "nhs.uk"}, "https://notnhs.uk/", "http://a:1"),
    ({"ALL_PROXY": "http://a:1", "NO_PROXY": "10.0.0.0/8"}, "http://10.2.3.4:8000/v1", None),
    ({"ALL_PROXY": "http://a:1", "NO_PROXY": "gpu.lab:8000"}, "http://gpu.lab:8000/v1", None),
    ({"ALL_PROXY": "http://a:1", "NO_PROXY": "gpu.lab:8000"}, "http://gpu.lab:9000/v1", "http://a:1"),
    ({"ALL_PROXY": "http://a:1", "NO_PROXY": "::1,[fe80::1]:80"}, "http://[fe80::1]/", None),
    ({"ALL_PROXY": "http://a:1"}, "http://127.0.0.1:11434/v1", None),  # this machine: always direct
    ({"ALL_PROXY": "http://a:1"}, "http://localhost:8766", None),
    ({"ALL_PROXY": "http://a:1"}, "http://[::1]:8766", None),
])
def test_which_requests_go_through_which_proxy(environ, url, expected):
    assert Proxies.from_environment(environ).for_url(url) == expected


@pytest.mark.parametrize("value", ["ftp://proxy:21", "http://proxy:99999", "http://"])
def test_a_proxy_address_that_cannot_be_used_is_refused_by_name(value):
    with pytest.raises(ConfigurationError, match="HTTPS_PROXY="):
        Proxies.from_environment({"HTTPS_PROXY": value})
