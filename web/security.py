"""What keeps the local page the user's own: it answers only to its own host names, state-changing requests
need the page's token and a same-origin Origin, and every response forbids scripts from anywhere else.

Replies are untrusted text; templates escape them, and the Content-Security-Policy below means that even a
missed escape could not run a script (no inline scripts, no other origins)."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, abort, request

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})  # the host names the page always answers to


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def protect(app: Flask, *, allowed_hosts: frozenset[str], any_address: bool = False) -> str:
    """Install the checks on `app`; returns the token its forms carry (new each time the server starts).
    `any_address`: the server listens on every address of this machine (0.0.0.0, ::), so a request to any
    IP address passes; names still must be among `allowed_hosts`."""
    token = secrets.token_urlsafe(32)

    @app.before_request
    def check_request():
        # A page elsewhere can point a name it controls at 127.0.0.1 (DNS rebinding): only our own names pass.
        # An address typed as an address cannot be rebound: with `any_address`, any such host passes.
        host = urlsplit(f"//{request.host}").hostname or ""
        if host.lower() not in allowed_hosts and f"[{host}]" not in allowed_hosts \
                and not (any_address and is_ip_literal(host)):
            names = ", ".join(sorted(allowed_hosts)) + (" and this machine's addresses" if any_address else "")
            abort(400, description=f"this server answers only to {names}")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("Origin") or _origin_of(request.headers.get("Referer"))
            if origin != request.host_url.rstrip("/"):
                abort(403, description="cross-site request refused: it did not come from this page")
            sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
            if not hmac.compare_digest(sent.encode(), token.encode()):
                abort(403, description="cross-site request refused: the page's token is missing or stale; "
                                       "reload the page")

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"
        return response

    return token


def _origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None
