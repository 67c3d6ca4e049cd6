"""A small JSON-over-HTTP client on httpx for Bluesky and Mastodon.

It counts requests, maps failures onto the retry module's Transient and
RateLimitHit, and keeps the Authorization header out of every message.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Callable
from typing import Any

import httpx

from .retry import RateLimitHit, RetryPolicy, Transient

USER_AGENT = "replies (+https://pypi.org/project/replies)"
MAX_BODY = 64 * 2**20  # no API answer this project reads is anywhere near 64 MB


class HTTPStatusError(Exception):
    """A 4xx answer other than 429, for the caller to interpret."""

    def __init__(self, status: int, body: Any, url: str):
        super().__init__(f"HTTP {status} from {url}")
        self.status = status
        self.body = body
        self.url = url


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context (CA bundle loaded once, ~50 ms) shared by every client this process opens."""
    return httpx.create_ssl_context()


class JsonClient:
    def __init__(self, base_url: str, retry: RetryPolicy, *, timeout: float, token: str | None = None,
                 reset_parser: Callable[[httpx.Headers], float | None] = lambda h: None, label: str = "API",
                 user_agent: str = USER_AGENT, params: dict | None = None,
                 is_rate_limit: Callable[[int, Any], bool] = lambda status, body: False):
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # httpx drops the Authorization header on a redirect to another host
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout, params=params,
                                 follow_redirects=True, verify=_tls_context())
        self.retry = retry
        self.reset_parser = reset_parser
        self.is_rate_limit = is_rate_limit  # a platform that answers "slow down" with a status other than 429
        self.label = label
        self.requests = 0
        # httpx's time-out is per read: a server trickling a byte a second never trips it. A whole answer
        # must arrive within this, and be no bigger than MAX_BODY.
        self.deadline = 4 * timeout

    def get(self, path: str, params: dict | None = None, *, what: str | None = None) -> tuple[Any, httpx.Response]:
        """GET `path` and return (decoded JSON, response); retries are handled here."""
        return self.request("GET", path, params, what=what)

    def request(self, method: str, path: str, params: dict | None = None, *, data: dict | None = None,
                json: Any = None, auth: tuple[str, str] | None = None,
                what: str | None = None) -> tuple[Any, httpx.Response]:
        """`method` `path` (with a form body `data` or a JSON body `json`, HTTP basic `auth`) and return
        (decoded JSON, response)."""

        def attempt():
            self.requests += 1
            try:
                response = self._fetch(method, path, params, data, auth, json)
            except httpx.TimeoutException:
                raise Transient("timed out") from None
            except httpx.TransportError as exc:
                raise Transient(f"connection failed: {type(exc).__name__}") from None
            if response.status_code == 429:
                raise RateLimitHit("429 Too Many Requests", self.reset_parser(response.headers))
            if response.status_code >= 500:
                raise Transient(f"HTTP {response.status_code}")
            try:
                body = response.json()
            except RecursionError:  # JSON nested deeper than any API answer: a hostile server
                raise Transient("answer nested too deep to be an API answer", bad_body=True) from None
            except ValueError:
                if response.status_code >= 400:
                    raise HTTPStatusError(response.status_code, response.text[:200], path) from None
                raise Transient("answer was not JSON", bad_body=True) from None
            if response.status_code >= 400:
                if self.is_rate_limit(response.status_code, body):
                    raise RateLimitHit(f"HTTP {response.status_code} (rate limit)", self.reset_parser(response.headers))
                raise HTTPStatusError(response.status_code, body, path)
            return body, response

        return self.retry.call(attempt, what or f"{self.label} {path}")

    def _fetch(self, method: str, path: str, params: dict | None, data: dict | None = None,
               auth: tuple[str, str] | None = None, json: Any = None) -> httpx.Response:
        """The response with its whole body read, within `deadline` seconds and MAX_BODY bytes."""
        started = time.monotonic()
        with self.http.stream(method, path, params=params, data=data, auth=auth, json=json) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BODY:
                    raise Transient(f"answer larger than {MAX_BODY // 2**20} MB", bad_body=True)
                if time.monotonic() - started > self.deadline:
                    raise Transient(f"answer still arriving after {self.deadline:g}s", bad_body=True)
        return httpx.Response(response.status_code, headers=response.headers, content=bytes(body),
                              request=response.request)

    def close(self) -> None:
        self.http.close()
