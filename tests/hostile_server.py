"""A hostile HTTP server for tests, on 127.0.0.1 (or another loopback address): each connection is handed to a
function that writes whatever bytes it likes, as slowly as it likes, until the test ends."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable


class Hostile:
    """`answer(request_bytes, connection, stopped)` is called once per request read; `requests` keeps each
    request's first line and body. Stop with `close()` (or use it as a context manager): every handler then
    sees `stopped` set, so a trickle that never ends on its own ends with the test."""

    def __init__(self, answer: Callable[[bytes, socket.socket, threading.Event], None], host: str = "127.0.0.1"):
        self.answer = answer
        self.requests: list[tuple[str, bytes]] = []
        self.stopped = threading.Event()
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.settimeout(5)
                while not owner.stopped.is_set():
                    raw = _read_request(self.request)
                    if raw is None:
                        return
                    head, _, body = raw.partition(b"\r\n\r\n")
                    owner.requests.append((head.split(b"\r\n", 1)[0].decode("latin-1"), body))
                    try:
                        owner.answer(raw, self.request, owner.stopped)
                    except OSError:
                        return

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server((host, 0), Handler)
        self.base_url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _read_request(conn: socket.socket) -> bytes | None:
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body
    except OSError:
        return None


def trickle(data: bytes, every: float = 0.1):
    """An answer that sends `data` a byte at a time, `every` seconds apart, then keeps sending spaces:
    headers included, it never ends."""
    def answer(_raw: bytes, conn: socket.socket, stopped: threading.Event) -> None:
        for i in range(len(data)):
            if stopped.wait(every):
                return
            conn.sendall(data[i:i + 1])
        while not stopped.wait(every):
            conn.sendall(b" ")
    return answer


def respond(status: int, body, headers: dict | None = None) -> bytes:
    """A whole HTTP/1.1 answer: `body` as JSON unless it is bytes or text already."""
    data = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()
    lines = [f"HTTP/1.1 {status} X", "Content-Type: application/json", f"Content-Length: {len(data)}",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def answering(fn: Callable[[bytes], bytes]):
    """A well-behaved transport for hostile content: `fn(request)` gives the whole answer's bytes."""
    def answer(raw: bytes, conn: socket.socket, _stopped) -> None:
        conn.sendall(fn(raw))
    return answer


def wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Poll `predicate` until true or `seconds` pass (for the state of another thread)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
