"""The proxy the environment names, as users set it for every other tool: HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and
NO_PROXY, in upper or lower case (lower case wins, as in curl and urllib; upper-case HTTP_PROXY is ignored when
REQUEST_METHOD says the process runs as a CGI script, where a request's `Proxy:` header would set it).

Rules, curl's: a request to an https:// address goes through HTTPS_PROXY, else ALL_PROXY; to an http://
address through HTTP_PROXY, else ALL_PROXY. NO_PROXY lists hosts that go direct: `*` for all, a name (which
covers its subdomains, with or without a leading dot), an IP address or a CIDR range, each optionally with
`:port`. A server on this machine (localhost, 127.0.0.0/8, ::1) is always reached directly, as browsers do:
the proxy's own localhost is another machine's, and a token that may travel in clear to this machine's
emulator must not cross the network to a proxy. HTTPS goes through an HTTP proxy by CONNECT, so the proxy sees
the host name and never the request, its token or its reply texts; a user and password in the proxy's URL go
to the proxy only, as Proxy-Authorization.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from replies.errors import ConfigurationError

from .hosts import is_loopback

NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
SCHEMES = ("http", "https", "socks5", "socks5h")


@dataclass(frozen=True)
class Proxies:
    """The proxies in effect: by scheme (`http`, `https`, `all`), the NO_PROXY entries, and the environment name
    each value came from."""

    by_scheme: Mapping[str, str] = field(default_factory=dict)
    no_proxy: tuple[str, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "Proxies":
        """The proxies `environ` (default: the process environment) names; ConfigurationError for a proxy
        address that cannot be used, naming the variable."""
        env = os.environ if environ is None else environ
        by_scheme, sources = {}, {}
        for name in NAMES:
            found = _lookup(env, name)
            if found is None:
                continue
            source, value = found
            sources[name] = source
            if name == "NO_PROXY":
                continue
            by_scheme[name.removesuffix("_PROXY").lower()] = _checked(source, value)
        no_found = _lookup(env, "NO_PROXY")
        entries = tuple(e for e in (part.strip().lower() for part in (no_found[1] if no_found else "").replace(
            " ", ",").split(",")) if e)
        return cls(by_scheme=by_scheme, no_proxy=entries, sources=sources)

    def for_url(self, url: str) -> str | None:
        """The proxy a request to `url` goes through, or None for a direct connection."""
        found = self.which(url)
        return found[0] if found else None

    def which(self, url: str) -> tuple[str, str] | None:
        """(the proxy a request to `url` goes through, the variable that named it), or None: direct."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not host or is_loopback(host) or self.bypassed(host, _port(parts)):
            return None
        for scheme in ("https" if parts.scheme == "https" else "http", "all"):
            if scheme in self.by_scheme:
                return self.by_scheme[scheme], self.sources[f"{scheme.upper()}_PROXY"]
        return None

    def bypassed(self, host: str, port: int | None) -> bool:
        """Whether NO_PROXY sends `host` (at `port`) direct."""
        for entry in self.no_proxy:
            if entry == "*":
                return True
            name, wanted = _split_port(entry)
            if wanted is not None and wanted != port:
                continue
            if _matches(host, name):
                return True
        return False

    def shown(self) -> list[tuple[str, str, str]]:
        """(name, value with any password masked, where it came from) for each of NAMES, for `replies config`."""
        rows = []
        for name in NAMES:
            if name not in self.sources:
                rows.append((name, "", "default"))
            elif name == "NO_PROXY":
                rows.append((name, ",".join(self.no_proxy), f"environment ({self.sources[name]})"))
            else:
                rows.append((name, masked(self.by_scheme[name.removesuffix("_PROXY").lower()]),
                             f"environment ({self.sources[name]})"))
        return rows


def _lookup(env: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """(the variable's spelling, its value) for `name`, lower case first; an empty value is no value."""
    spellings = [name.lower(), name]
    if name == "HTTP_PROXY" and "REQUEST_METHOD" in env:
        spellings = [name.lower()]  # httpoxy: a CGI request's Proxy header arrives as HTTP_PROXY
    for spelling in spellings:
        value = env.get(spelling)
        if value is not None and value.strip():
            return spelling, value.strip()
    return None


def _checked(source: str, value: str) -> str:
    """The proxy's URL (`host:port` alone means http://host:port, as in curl); ConfigurationError otherwise."""
    url = value if "://" in value else f"http://{value}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- a port that is not a number, or beyond 65535, raises here
    except ValueError as exc:
        raise ConfigurationError(f"{source}={masked(value)!r} is not a proxy address ({exc}); give "
                                 "http://HOST:PORT") from None
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise ConfigurationError(f"{source}={masked(value)!r} is not a proxy address replies can use; give "
                                 f"http://HOST:PORT (or {', '.join(s + '://' for s in SCHEMES[1:])})")
    return url


def masked(url: str) -> str:
    """`url` with the password of its user part replaced by ***."""
    if "@" not in url:
        return url
    scheme, sep, rest = url.rpartition("://") if "://" in url else ("", "", url)
    userinfo, _, place = rest.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{place}" if ":" in userinfo else f"{scheme}{sep}{user}@{place}"


def _port(parts) -> int | None:
    try:
        return parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None


def _split_port(entry: str) -> tuple[str, int | None]:
    """('example.com', 8080) from 'example.com:8080'; an IPv6 address only with its port in brackets."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, int(port) if port.isdigit() else None
    return entry, None


def _matches(host: str, entry: str) -> bool:
    host = host.strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if "/" in entry:
        try:
            return address is not None and address in ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
    if address is not None:
        try:
            return address == ipaddress.ip_address(entry)
        except ValueError:
            return False
    name = entry.lstrip(".").lstrip("*").lstrip(".")
    return bool(name) and (host == name or host.endswith("." + name))
