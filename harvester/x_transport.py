"""tweepy's requests, sent through the project's own HTTP layer: the adapter X's Source mounts on tweepy's
requests session. tweepy hard-codes api.twitter.com; this sends each request to REPLIES_X_API_BASE instead,
counts it, and hands it to `replies.net.http.fetch` (one deadline per answer, same-host redirects only, no answer
over 64 MB, the environment's proxy), turning its answer back into the requests Response tweepy reads."""

from __future__ import annotations

import httpx
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from replies.net.http import DeadlineExceeded, fetch, http_client, nothing_listening


class Rebase(BaseAdapter):
    """Sends tweepy's requests to another base URL through `http.fetch` (httpx), counting them: requests'
    own time-out is per read, so a server trickling its headers or body would hold a harvest forever."""

    def __init__(self, host: str, base: str, timeout: float, counter: list[int]):
        super().__init__()
        self.host = host
        self.base = base
        self.timeout = timeout
        self.counter = counter
        self.http = http_client(timeout=timeout)

    def send(self, request, **kwargs):
        url = request.url
        if url.startswith(self.host):
            url = self.base + url[len(self.host):]
        self.counter[0] += 1
        try:
            answer = fetch(self.http, request.method, url, deadline=4 * self.timeout, headers=dict(request.headers),
                           content=request.body)
        except DeadlineExceeded as exc:
            raise requests.Timeout(str(exc), request=request) from None
        except httpx.TimeoutException:
            raise requests.Timeout("timed out", request=request) from None
        except httpx.TransportError as exc:
            refused = nothing_listening(exc, self.http, url, "X", "start the server (or `replies emulator`) or "
                                        "correct REPLIES_X_API_BASE")
            if refused:
                raise refused from None
            raise requests.ConnectionError(type(exc).__name__, request=request) from None
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers.items())
        response._content = answer.content
        response.encoding = get_encoding_from_headers(response.headers)
        response.reason = answer.reason_phrase
        response.url, response.request, response.connection = url, request, self
        return response

    def close(self) -> None:
        self.http.close()
