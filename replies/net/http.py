"""Every HTTP request the project makes goes through here: a small JSON-over-HTTP client on httpx for every
platform but X and for language-model servers, and `fetch`, which X's tweepy session uses too (x.py).

- One deadline per answer: connect, headers and body within `deadline` seconds. httpx's time-out is per read,
  which a server sending a byte every half second never trips, headers included; here every read and write
  waits at most until the deadline (a network backend under httpx's connection pool).
- Redirects are followed only to the host that was asked (and never from https to http): a server cannot
  send a token or a reply's text anywhere the user did not name.
- No answer bigger than MAX_BODY, compressed or decompressed: gzip and deflate are decoded here as they
  arrive, never past the limit (decode.py); an encoding that cannot be bounded is neither asked for nor read.
- The proxy the environment names (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY: proxy.py), with the same
  deadline; a server on this machine is always reached directly.
It counts requests, maps failures onto the retry module's Transient and RateLimitHit, and keeps the
Authorization header out of every message.
"""

from __future__ import annotations

import contextvars
import functools
import ssl
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from .decode import ACCEPT, BoundedDecoder, DecodeError
from .errors import ApiUnavailable, HTTPStatusError, NetError, OffHostRedirect
from .hosts import is_local_url
from .proxy import Proxies, masked
from .retry import RateLimitHit, RetryPolicy, Transient

__all__ = ["DeadlineExceeded", "HTTPStatusError", "JsonClient", "ProxyRefused", "fetch", "http_client",
           "nothing_listening", "refused_here", "route"]

USER_AGENT = "replies (+https://pypi.org/project/replies)"
MAX_BODY = 64 * 2**20  # no API answer this project reads is anywhere near 64 MB
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


def refused_here(exc: BaseException, url: str) -> bool:
    """Whether `exc` is a refused connection to a server on this machine: nothing listens on that port, and
    asking again (for half a minute of back-off) only delays the same answer. A refused connection to a
    server elsewhere can pass (a restart, a load balancer), so that one is retried."""
    if not is_local_url(url):
        return False
    seen: BaseException | None = exc
    for _ in range(8):  # httpx wraps httpcore's error, which wraps the socket's
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError) or "Connection refused" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def nothing_listening(exc: BaseException, client: httpx.Client, url: str, label: str,
                      fix: str = "start the server (or `replies emulator`) or correct its address"
                      ) -> ApiUnavailable | None:
    """The error to raise at once when `exc` says that nothing listens on this machine where the request to `url`
    went: the server itself, or the proxy it went through (then the message names the proxy). None otherwise."""
    via = route(client, url)
    if not refused_here(exc, via[0] if via else url):
        return None
    if via:
        return ApiUnavailable(f"{label}: nothing is listening at the proxy {masked(via[0])} ({via[1]}): start it, or "
                              f"correct or unset {via[1]}")
    return ApiUnavailable(f"{label}: nothing is listening at {url}: {fix}")


class DeadlineExceeded(Exception):
    """An answer (connect, headers, body) that did not arrive whole within its deadline."""


def _wait(timeout: float | None) -> float | None:
    """The time-out for one read or write: the caller's, cut short at the current request's deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the answer's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream):
        self.stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, _wait(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, _wait(timeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return _DeadlineStream(self.stream.start_tls(ssl_context, server_hostname, _wait(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, each read and write bounded by the deadline of the request in progress."""

    def __init__(self):
        self.backend = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return _DeadlineStream(self.backend.connect_tcp(host, port, _wait(timeout), local_address, socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _DeadlineStream(self.backend.connect_unix_socket(path, _wait(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self.backend.sleep(seconds)


class ProxyRefused(NetError):
    """The proxy refused to carry a request (it wants a password, or forbids the host): asking again only
    delays the same answer."""


def _deadline_transport(proxy: str | None = None) -> httpx.HTTPTransport:
    """httpx's transport (direct, or through `proxy`) with every read and write bounded by the deadline."""
    try:
        transport = httpx.HTTPTransport(verify=_tls_context(), proxy=httpx.Proxy(proxy) if proxy else None)
    except ImportError:  # a socks5:// proxy without the socksio package
        from replies.errors import ConfigurationError

        raise ConfigurationError(f"the proxy {masked(proxy or '')} needs the socksio package: "
                                 "`pip install socksio`, or use an http:// proxy") from None
    pool = transport._pool  # httpx exposes no other way to give its pool a network backend
    if not hasattr(pool, "_network_backend"):
        raise RuntimeError("this httpcore has no _network_backend: replies cannot bound its answers' time")
    pool._network_backend = _DeadlineBackend()
    return transport


class _ProxyRouter(httpx.BaseTransport):
    """Sends each request directly or through the proxy the environment names for its address (proxy.py),
    each way with the deadline's network backend."""

    def __init__(self, proxies: Proxies):
        self.proxies = proxies
        self.direct = _deadline_transport()
        self.through: dict[str, httpx.HTTPTransport] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        proxy = self.proxies.for_url(str(request.url))
        if proxy is None:
            return self.direct.handle_request(request)
        if proxy not in self.through:
            self.through[proxy] = _deadline_transport(proxy)
        return self.through[proxy].handle_request(request)

    def close(self) -> None:
        for transport in (self.direct, *self.through.values()):
            transport.close()


def http_client(*, timeout: float, headers: dict | None = None, base_url: str = "",
                params: dict | None = None, proxies: Proxies | None = None) -> httpx.Client:
    """An httpx client whose requests `fetch` can bound by a deadline, through the proxies the environment
    names (or `proxies`); it follows no redirect by itself."""
    router = _ProxyRouter(Proxies.from_environment() if proxies is None else proxies)
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout, params=params, transport=router,
                        follow_redirects=False)


def route(client: httpx.Client, url: str) -> tuple[str, str] | None:
    """(the proxy a request from `client` to `url` goes through, the variable that named it), or None: direct."""
    transport = client._transport
    return transport.proxies.which(url) if isinstance(transport, _ProxyRouter) else None


def _proxy_refused(client: httpx.Client, url: str, reason: str) -> ProxyRefused:
    target = client.build_request("GET", url).url
    proxy, source = route(client, str(target)) or ("the proxy", "the environment")
    hint = ("give its user and password in the proxy's address, http://USER:PASSWORD@HOST:PORT"
            if reason.startswith("407") else "ask whoever runs it, or list the host in NO_PROXY if it can be "
            "reached directly")
    return ProxyRefused(f"the proxy {masked(proxy)} ({source}) refused to carry the request to {target.host} "
                        f"({reason}): {hint}")


@contextmanager
def deadline_of(seconds: float):
    """Every read and write of the requests made inside must be done within `seconds` from now."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")


def fetch(client: httpx.Client, method: str, url: str, *, deadline: float, max_body: int = MAX_BODY,
          **kwargs) -> httpx.Response:
    """The answer to `method` `url` with its whole body read, within `deadline` seconds and `max_body` bytes.

    Redirects are followed to the same host only, and never from https to http (OffHostRedirect
    otherwise); DeadlineExceeded when the answer is not whole in time; httpx's errors as they are."""
    started = time.monotonic()
    headers = httpx.Headers(kwargs.pop("headers", None))
    headers["Accept-Encoding"] = ACCEPT  # only what decode.py can read within the limit (tweepy asks for more)
    kwargs["headers"] = headers
    with deadline_of(deadline):
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = _read(client, method, url, max_body, **kwargs)
            except httpx.TimeoutException:
                if time.monotonic() - started >= deadline:
                    raise DeadlineExceeded(f"answer still arriving after {deadline:g}s") from None
                raise
            except httpx.ProxyError as exc:  # the proxy answered CONNECT with something other than 200
                if str(exc)[:3] in ("407", "403"):
                    raise _proxy_refused(client, url, str(exc)) from None
                raise
            if response.status_code == 407 and route(client, str(response.request.url)):
                raise _proxy_refused(client, url, "407 Proxy Authentication Required")
            if response.status_code not in REDIRECTS or "location" not in response.headers:
                return response
            asked = response.request.url
            target = asked.join(response.headers["location"])
            if target.host != asked.host or target.port != asked.port or \
                    (asked.scheme == "https" and target.scheme != "https"):
                raise OffHostRedirect(f"{_origin(asked)} answered with a redirect to {_origin(target)}: replies "
                                      "sends requests only to the host you named; if the other host is right, "
                                      "set its address instead")
            url = str(target)
            if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                method = "GET"
                kwargs = {k: v for k, v in kwargs.items() if k not in ("data", "json", "content", "files")}
            kwargs.pop("params", None)  # the new address carries its own query
        raise OffHostRedirect(f"more than {MAX_REDIRECTS} redirects from {url}")


def _read(client: httpx.Client, method: str, url: str, max_body: int, **kwargs) -> httpx.Response:
    """The answer with its whole body decoded, at most `max_body` bytes before and after decompression; the
    deadline is the network backend's. The answer returned carries the decoded body and no Content-Encoding."""
    with client.stream(method, url, **kwargs) as response:
        body, received = bytearray(), 0
        try:
            decoder = BoundedDecoder(response.headers.get("content-encoding"), max_body)
            for chunk in response.iter_raw():
                received += len(chunk)
                if received > max_body:
                    raise DecodeError(f"answer larger than {max_body // 2**20} MB", too_big=True)
                for piece in decoder.feed(chunk):
                    body += piece
            for piece in decoder.finish():
                body += piece
        except DecodeError as exc:
            raise Transient(str(exc), bad_body=True) from None
    headers = httpx.Headers(response.headers)
    for name in ("content-encoding", "content-length", "transfer-encoding"):
        headers.pop(name, None)
    return httpx.Response(response.status_code, headers=headers, content=bytes(body), request=response.request)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context (CA bundle loaded once, ~50 ms) shared by every client this process opens."""
    return httpx.create_ssl_context()


def epoch_reset(header: str) -> Callable[[httpx.Headers], float | None]:
    """A JsonClient `reset_parser` for a platform that says when its rate-limit window ends as seconds since
    the epoch in `header` (X's x-rate-limit-reset, Bluesky's ratelimit-reset); None where it says nothing
    readable."""

    def reset(headers: httpx.Headers) -> float | None:
        value = headers.get(header)
        try:
            return float(value) if value else None
        except ValueError:
            return None

    return reset


class JsonClient:
    def __init__(self, base_url: str, retry: RetryPolicy, *, timeout: float, token: str | None = None,
                 reset_parser: Callable[[httpx.Headers], float | None] = lambda h: None, label: str = "API",
                 user_agent: str = USER_AGENT, params: dict | None = None,
                 is_rate_limit: Callable[[int, Any], bool] = lambda status, body: False):
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = http_client(base_url=base_url, headers=headers, timeout=timeout, params=params)
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
                json: Any = None, auth: tuple[str, str] | None = None, what: str | None = None,
                give_up: Callable[[int, Any], bool] | None = None) -> tuple[Any, httpx.Response]:
        """`method` `path` (with a form body `data` or a JSON body `json`, HTTP basic `auth`) and return
        (decoded JSON, response). `give_up(status, body)` true for a 5xx answer raises HTTPStatusError at
        once instead of retrying it (a server that says in a 500 it does not take a parameter)."""

        def attempt():
            self.requests += 1
            try:
                response = fetch(self.http, method, path, deadline=self.deadline, params=params, data=data,
                                 auth=auth, json=json)
            except DeadlineExceeded as exc:
                raise Transient(str(exc)) from None
            except httpx.TimeoutException:
                raise Transient("timed out") from None
            except httpx.TransportError as exc:
                refused = nothing_listening(exc, self.http, str(self.http.base_url), self.label)
                if refused:
                    raise refused from None
                raise Transient(f"connection failed: {type(exc).__name__}") from None
            if response.status_code == 429:
                raise RateLimitHit("429 Too Many Requests", self.reset_parser(response.headers))
            if response.status_code >= 500:
                if give_up is not None:
                    try:
                        body = response.json()
                    except (ValueError, RecursionError):
                        body = response.text[:2000]
                    if give_up(response.status_code, body):
                        raise HTTPStatusError(response.status_code, body, path)
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

    def close(self) -> None:
        self.http.close()
