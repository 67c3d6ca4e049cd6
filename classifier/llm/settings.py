"""Where the language model is and what it may be sent: the settings it reads, and the privacy rule that
reply texts go to a server off this machine only where the user agreed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from replies.net.hosts import in_clear, is_local_url
from replies.setting import Setting, check_secret, http_timeout

from ..errors import ClassifierError

# what the coder reads from the environment and the config file's [llm] section
SETTINGS = (
    Setting("base", "REPLIES_LLM_BASE", "base", "an OpenAI-compatible `/v1` base URL for `--method llm`",
            shown_default="none: --method llm needs one, e.g. http://127.0.0.1:11434/v1"),
    Setting("model", "REPLIES_LLM_MODEL", "model", "the model name that server knows"),
    Setting("api_key", "REPLIES_LLM_API_KEY", "api_key",
            "its API key, if it wants one (sent to that base only, over HTTPS unless local)", secret=True),
    Setting("allow_host", "REPLIES_LLM_ALLOW_HOST", "allow_host",
            "a host off this machine you agree to send reply texts to (else `--yes` each time)",
            shown_default="none: reply texts go to a server off this machine only with --yes"),
)


@dataclass(frozen=True)
class LlmSettings:
    """Where the language model is, and what it may be sent. The API key never leaves this object."""

    base: str | None = None
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    allow_host: str | None = None  # a non-loopback host the user has agreed reply texts may go to
    timeout: float = 120.0

    @property
    def host(self) -> str:
        return (urlsplit(self.base or "").hostname or "").lower()

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, base: str | None = None, model: str | None = None
                 ) -> "LlmSettings":
        """The settings from environment-style names (REPLIES_LLM_BASE, ...; the CLI passes the environment
        merged with the config file); `base` and `model` win over them. A request may take as long as
        REPLIES_HTTP_TIMEOUT, and never less than two minutes: a local model can be slow to answer."""
        timeout = http_timeout(environ)
        return cls(base=base or environ.get("REPLIES_LLM_BASE") or None,
                   model=model or environ.get("REPLIES_LLM_MODEL") or None,
                   api_key=environ.get("REPLIES_LLM_API_KEY") or None,
                   allow_host=(environ.get("REPLIES_LLM_ALLOW_HOST") or "").lower() or None,
                   timeout=max(timeout, 120.0))


def check_destination(settings: LlmSettings, yes: bool) -> str | None:
    """None where reply texts stay on this machine; else the warning to show. ClassifierError when the
    user has not agreed to send them to that host (--yes, or [llm] allow_host in the config file)."""
    if not settings.base or not settings.model:
        raise ClassifierError("--method llm needs a server and a model: set REPLIES_LLM_BASE (e.g. "
                              "http://127.0.0.1:11434/v1 for Ollama) and REPLIES_LLM_MODEL, or --llm-base and "
                              "--llm-model")

    try:
        parts = urlsplit(settings.base)
        parts.port  # noqa: B018 -- a port beyond 65535 raises here, not later in the middle of a request
    except ValueError as exc:
        raise ClassifierError(f"the LLM server's address {settings.base!r} (--llm-base or REPLIES_LLM_BASE) is not "
                              f"a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClassifierError(f"REPLIES_LLM_BASE {settings.base!r} is not an http(s) URL")
    if settings.api_key:
        check_secret("REPLIES_LLM_API_KEY", settings.api_key)
    if is_local_url(settings.base):
        return None
    if settings.api_key and in_clear(settings.base):
        raise ClassifierError(f"REPLIES_LLM_API_KEY is not sent over plain http:// to {parts.hostname}; use https://")
    warning = f"reply texts will be sent to {settings.host} ({settings.base}), a server not on this machine"
    if not yes and settings.allow_host != settings.host:
        raise ClassifierError(f"{warning}: add --yes to agree, or set allow_host = \"{settings.host}\" under [llm] "
                              "in the config file")
    return warning


def check_listening(settings: LlmSettings, timeout: float = 5.0) -> None:
    """ClassifierError at once when the server is on this machine and nothing listens on its port (the
    server is not started, or the port is wrong): retrying that only delays the same answer. A server
    elsewhere gets the usual retries, since a refused connection there can pass."""

    import socket

    if not is_local_url(settings.base):
        return
    parts = urlsplit(settings.base)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except ConnectionRefusedError:
        raise ClassifierError(f"nothing is listening at {settings.base}: start the language model's server "
                              "(for Ollama, `ollama serve`) or correct REPLIES_LLM_BASE") from None
    except OSError:
        pass  # anything else (a time-out, a full table of sockets) is left to the requests and their retries
