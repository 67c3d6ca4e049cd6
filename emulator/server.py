"""The HTTP server: routing, authentication, rate-limit windows, fault injection."""

from __future__ import annotations

import json
import socket
import ssl
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from replies import platforms
from replies.text import json_storable

from . import llm_api
from .reply import Reply
from .world import World


class Gate:
    """Holds requests whose path contains `path`, after letting the first `after` through, until
    `release()`: tests synchronise on `held` (a request is waiting) instead of on timing."""

    def __init__(self, path: str, after: int = 0):
        self.path, self.after = path, after
        self.seen = 0
        self.held = threading.Event()
        self.opened = threading.Event()

    def release(self) -> None:
        self.opened.set()


@dataclass
class Fault:
    """A failure to serve instead of the real answer.

    kind: "429" (with a reset `reset_in` seconds ahead), "503", "500", "reset"
    (connection reset), "truncate" (JSON cut off mid-body), "timeout" (answer
    after `delay` seconds), "html" (a 200 HTML page). It matches requests whose
    path contains `path`, skips the first `after` of them, then fires `times` times.
    """

    kind: str
    path: str = ""
    times: int = 1
    after: int = 0
    reset_in: float = 1.0
    delay: float = 5.0
    seen: int = field(default=0, repr=False)


class Emulator:
    """Serves every registered platform's API (the six built in, and a plugin's `Platform.emulator`) and an
    OpenAI-compatible chat endpoint from one `World` on 127.0.0.1.

    Use as a context manager, or call start()/stop(). `base_url` is the address
    to give as REPLIES_X_API_BASE, REPLIES_BSKY_API_BASE, or the Mastodon instance.
    """

    def __init__(self, world: World | None = None, *, port: int = 0, x_tokens=("test-token",),
                 mastodon_tokens=("mastodon-token",), bsky_max_depth: int = 10, bsky_big_thread: tuple[int, int] | None = None,
                 x_quotes_forbidden: bool = False, x_deleted_as_404: bool = False,
                 mastodon_quotes: bool = True, mastodon_context_cap: int | None = None, latency: float = 0.0,
                 hostile: tuple[str, ...] = (), reddit_clients: dict[str, str] | None = None,
                 reddit_max_depth: int = 10, youtube_keys=("youtube-key",), youtube_quota: int = 10_000,
                 threads_tokens: dict[str, str] | None = None, name: str | None = None,
                 tls: ssl.SSLContext | None = None):
        self.world = world or World()
        self.port = port
        # the name clients know it by (one a test's proxy resolves), and TLS to serve https:// with; it always
        # listens on 127.0.0.1
        self.name = name
        self.tls = tls
        self.x_tokens = set(x_tokens)
        self.mastodon_tokens = set(mastodon_tokens)
        self.bsky_max_depth = bsky_max_depth
        self.bsky_big_thread = bsky_big_thread  # (posts, depth): bigger threads are served shallower
        self.x_quotes_forbidden = x_quotes_forbidden
        self.x_deleted_as_404 = x_deleted_as_404
        self.mastodon_quotes = mastodon_quotes
        # a server whose logged-out /context stops short of Mastodon's 60 (mastodon.social was seen at 59)
        self.mastodon_context_cap = mastodon_context_cap
        self.latency = latency
        # misbehaviours of a hostile server: repeat_cursor, endless_cursor, garbled_context, trickle
        self.hostile = set(hostile)
        self.reddit_clients = dict(reddit_clients or {"reddit-client": "reddit-secret"})  # id -> secret
        self.reddit_issued: set[str] = set()   # bearer tokens handed out
        self.reddit_stubbed: set[str] = set()  # comment ids listed in a `more` stub so far
        self.reddit_continues = 0               # "continue this thread" stubs handed out
        self.reddit_max_depth = reddit_max_depth
        # comments from recorded /api/morechildren answers, by id ("" holds their `more` stubs): when set,
        # morechildren serves these instead of the world's
        self.reddit_recorded: dict | None = None
        self.reddit_subreddit = "NHS"
        self.youtube_keys = set(youtube_keys)
        self.youtube_quota = youtube_quota     # units a key may spend before quotaExceeded
        self.youtube_spent = 0
        # Threads: token -> the handle of the user it belongs to (only the owner sees a conversation)
        self.threads_tokens = dict(threads_tokens or {"threads-token": "asker"})
        # OpenAI-compatible chat completions (llm_api.py): who answers, which keys it takes, what it supports
        self.llm_coder = None            # (last user message, category ids) -> {id: probability} or raw text
        self.llm_keys: set[str] = set()  # empty: no key needed (a local server)
        self.llm_json_schema = True      # supports response_format json_schema
        self.llm_logprobs = True         # returns logprobs when asked
        self.llm_obeys_injections = False  # does what instructions in the prompt's text (not its data) say
        self.llm_server: str | None = None  # a real server's ways to play (llm_api.SERVERS), None: the reference
        self.llm_models: list[str] = []     # what GET /v1/models lists (none: no such path)
        self.faults: list[Fault] = []
        self.gates: list[Gate] = []
        self.recorded: list[tuple[str, dict[str, str], Reply]] = []
        self.log: list[dict] = []
        self.limits: dict[str, int] = {}      # endpoint -> requests per window
        self.window = 900.0
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.name or '127.0.0.1'}:{self.port}"

    def start(self) -> "Emulator":
        emulator = self

        class Handler(_Handler):
            owner = emulator

        self._server = _Server(("127.0.0.1", self.port), Handler)
        if self.tls:  # the handshake in each request's own thread, not in the one that accepts
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True,
                                                       do_handshake_on_connect=False)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        # a short poll: stop() returns within 50 ms instead of serve_forever's default 0.5 s
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        for gate in self.gates:
            gate.release()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- test helpers ------------------------------------------------------
    def inject(self, kind: str, path: str = "", **options) -> Fault:
        fault = Fault(kind, path, **options)
        with self._lock:
            self.faults.append(fault)
        return fault

    def gate(self, path: str, after: int = 0) -> Gate:
        """Hold requests to `path` after the first `after` until the returned gate is released."""
        gate = Gate(path, after)
        with self._lock:
            self.gates.append(gate)
        return gate

    def record(self, path: str, body, *, query: dict[str, str] | None = None, status: int = 200,
               headers: dict | None = None) -> None:
        """Answer GET `path` (when its query holds every item of `query`) with a recorded answer instead of
        the world's: real answers from the live services replay through the same HTTP layer. The answer
        recorded last for a request wins."""
        with self._lock:
            self.recorded.insert(0, (path, dict(query or {}), Reply(status, body, dict(headers or {}))))

    def record_morechildren(self, things: list[dict]) -> None:
        """Serve /api/morechildren from recorded answers' `things`, for whatever ids a client asks."""
        pool: dict = {"": []}
        for thing in things:
            if thing.get("kind") == "t1":
                pool[thing["data"]["id"]] = thing
            else:
                pool[""].append(thing)
        self.reddit_recorded = pool

    def _recorded(self, path: str, query: dict[str, list[str]]) -> Reply | None:
        with self._lock:
            for where, wanted, reply in self.recorded:
                if where == path and all(value in query.get(key, ()) for key, value in wanted.items()):
                    return Reply(reply.status, reply.body, dict(reply.headers))
        return None

    def _wait_at_gates(self, path: str) -> None:
        with self._lock:
            waiting = []
            for gate in self.gates:
                if gate.path in path and not gate.opened.is_set():
                    gate.seen += 1
                    if gate.seen > gate.after:
                        waiting.append(gate)
        for gate in waiting:
            gate.held.set()
            gate.opened.wait(timeout=120)

    def requests_to(self, fragment: str = "") -> list[dict]:
        with self._lock:
            return [r for r in self.log if fragment in r["path"]]

    # -- request handling ----------------------------------------------------
    def _fault_for(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.path in path and fault.times > 0:
                    fault.seen += 1
                    if fault.seen > fault.after:
                        fault.times -= 1
                        return fault
        return None

    def rate_headers(self, endpoint: str) -> tuple[bool, int, int, float]:
        """(allowed, limit, remaining, reset epoch) for one more request to `endpoint`."""
        limit = self.limits.get(endpoint, 100_000)
        now = time.time()
        with self._lock:
            start, used = self._windows.get(endpoint, (now, 0))
            if now - start >= self.window:
                start, used = now, 0
            allowed = used < limit
            if allowed:
                used += 1
            self._windows[endpoint] = (start, used)
        return allowed, limit, max(0, limit - used), start + self.window

    def dispatch(self, path: str, query: dict[str, list[str]], headers) -> Reply:
        recorded = self._recorded(path, query)
        if recorded is not None:
            return recorded
        module = self.serving(path)
        if module is None:
            return Reply(404, {"error": "Not Found"})
        return module.handle(self, path, query, headers)

    def serving(self, path: str):
        """The API that answers `path`: the chat-completions server's, or the emulator a registered platform
        declares (a plugin's too); None for a path none serves."""
        if llm_api.serves(path):
            return llm_api
        for platform in platforms.registered().values():
            module = platform.emulator_module()
            if module is not None and module.serves(path):
                return module
        return None


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client that hung up mid-answer (as harvesters do on a time-out) is not the server's error."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    owner: Emulator
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, a kept-alive connection then waits
    # for the client's delayed ACK (~40 ms) before the body: every request would look 40 ms slow.
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:
        """A form POST (Reddit's token endpoint): its fields are read as if they were query parameters."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 8 << 20)).decode("utf-8", "replace")
        if "json" in (self.headers.get("Content-Type") or ""):  # a JSON body (chat completions)
            self._serve("POST", {"_json": [body]})
        else:
            self._serve("POST", parse_qs(body, keep_blank_values=True))

    def do_GET(self) -> None:
        self._serve("GET", {})

    def _serve(self, method: str, form: dict[str, list[str]]) -> None:
        emulator = self.owner
        parts = urlsplit(self.path)
        query = {**parse_qs(parts.query, keep_blank_values=True), **form}
        if method == "POST":
            query["_method"] = ["POST"]
        entry = {"method": method, "path": parts.path, "query": {k: v[-1] for k, v in query.items()},
                 "authorization": bool(self.headers.get("Authorization"))}
        with emulator._lock:
            emulator.log.append(entry)
        emulator._wait_at_gates(parts.path)
        if emulator.latency:
            time.sleep(emulator.latency)
        fault = emulator._fault_for(parts.path)
        if fault and self._serve_fault(fault, parts.path):
            entry["status"] = fault.kind
            return
        try:
            reply = emulator.dispatch(parts.path, query, self.headers)
        except Exception as exc:  # an emulator bug should look like a 500, not hang the client
            reply = Reply(500, {"error": "InternalServerError", "message": repr(exc)})
        entry["status"] = reply.status
        self._send(reply.status, reply.body, reply.headers)

    def _send(self, status: int, body, headers: dict | None = None, *, cut: bool = False) -> None:
        if isinstance(body, (bytes, str)):
            data = body.encode() if isinstance(body, str) else body
            ctype = "text/html; charset=utf-8"
        else:
            # a lone surrogate in the world's text goes out as JSON's \\uXXXX escape, as a real server sends it
            data = json_storable(json.dumps(body, ensure_ascii=False)).encode()
            ctype = "application/json; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        if cut:
            self.wfile.write(data[: max(1, len(data) // 2)])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif "trickle" in self.owner.hostile and not self.path.startswith("/2/"):
            for i in range(len(data)):  # a byte at a time: a server that never quite stops answering
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(0.005)
        else:
            self.wfile.write(data)

    def _serve_fault(self, fault: Fault, path: str) -> bool:
        if fault.kind == "429":  # each API's own answer past a rate limit, with its headers
            module = self.owner.serving(path)
            reply = (module.rate_limited(fault.reset_in) if hasattr(module, "rate_limited")
                     else Reply(429, {"error": "Too Many Requests"}))
            self._send(reply.status, reply.body, reply.headers)
        elif fault.kind in ("503", "500"):
            self._send(int(fault.kind), "<html><body>Service Unavailable</body></html>")
        elif fault.kind == "html":
            self._send(200, "<!doctype html><html><body>Please enable JavaScript</body></html>")
        elif fault.kind == "truncate":
            self.close_connection = True
            reply = self.owner.dispatch(path, parse_qs(urlsplit(self.path).query), self.headers)
            self._send(reply.status, reply.body, reply.headers, cut=True)
        elif fault.kind == "timeout":
            time.sleep(fault.delay)
            return False  # then answer normally, too late for a client with a shorter time-out
        elif fault.kind == "reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        return True
