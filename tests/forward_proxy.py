"""A real forwarding HTTP proxy on 127.0.0.1 for the tests: plain requests in absolute form are forwarded, CONNECT
opens a tunnel. It resolves only the names it is given (there is no other network here), so a request to such a
name can only have reached its server through this proxy. It records what it saw in clear."""

from __future__ import annotations

import base64
import select
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Seen:
    """One request as the proxy saw it: the method, the target (absolute URL or host:port), its headers, and
    every byte that passed through the proxy for it in either direction."""

    method: str
    target: str
    headers: dict[str, str]
    traffic: bytearray = field(default_factory=bytearray)


class ForwardProxy:
    """`names` maps host names to the (host, port) they stand for; `credentials` ("user", "password"), when set,
    must come as Proxy-Authorization or the proxy answers 407."""

    def __init__(self, names: dict[str, str] | None = None, credentials: tuple[str, str] | None = None):
        self.names = dict(names or {})
        self.credentials = credentials
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                owner._handle(self.connection, self.rfile)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "ForwardProxy":
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def clear_bytes(self) -> bytes:
        """Everything that passed through the proxy, requests and answers, as one byte string."""
        with self._lock:
            return b"".join(bytes(s.traffic) for s in self.seen)

    # -- the proxy -------------------------------------------------------------
    def _resolve(self, host: str) -> str | None:
        return self.names.get(host.lower()) or ("127.0.0.1" if host == "127.0.0.1" else None)

    def _handle(self, client: socket.socket, reader) -> None:
        head = reader.readline(65537)
        if not head:
            return
        method, target, _ = head.decode("latin-1").split(" ", 2)
        headers, raw = {}, bytearray(head)
        while True:
            line = reader.readline(65537)
            raw += line
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        seen = Seen(method, target, headers, bytearray(raw))
        with self._lock:
            self.seen.append(seen)
        if self.credentials and headers.get("proxy-authorization") != "Basic " + base64.b64encode(
                ":".join(self.credentials).encode()).decode():
            client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"t\"\r\n"
                           b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            address = self._resolve(host)
            if address is None:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            upstream = socket.create_connection((address, int(port)))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self._relay(client, upstream, seen)
            return
        parts = urlsplit(target)
        address = self._resolve(parts.hostname or "")
        if address is None:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        body = reader.read(int(headers.get("content-length", "0") or 0))
        seen.traffic += body
        forwarded = {k: v for k, v in headers.items() if k not in ("proxy-authorization", "proxy-connection",
                                                                   "connection")}
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in forwarded.items()) + \
            "Connection: close\r\n\r\n"
        upstream = socket.create_connection((address, parts.port or 80))
        upstream.sendall(request.encode("latin-1") + body)
        answer = bytearray()
        while chunk := upstream.recv(65536):
            answer += chunk
        upstream.close()
        # the client must not reuse a connection this proxy is about to close
        status_and_headers, _, rest = bytes(answer).partition(b"\r\n\r\n")
        lines = [line for line in status_and_headers.split(b"\r\n") if not line.lower().startswith(b"connection:")]
        reply = b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n" + rest
        seen.traffic += reply
        client.sendall(reply)

    def _relay(self, client: socket.socket, upstream: socket.socket, seen: Seen) -> None:
        """Copy bytes both ways until either side closes (the tunnel of a CONNECT)."""
        sockets = [client, upstream]
        try:
            while True:
                ready, _, _ = select.select(sockets, [], [], 30)
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    with self._lock:
                        seen.traffic += data
                    (upstream if sock is client else client).sendall(data)
        except OSError:
            return
        finally:
            upstream.close()
