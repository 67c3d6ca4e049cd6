"""`replies serve`: the local web page for reviewing, adjudicating and exploring the replies."""

from __future__ import annotations

import errno
import logging
import socket
import sys
import threading
import webbrowser

import click

from replies.harvester.settings import is_loopback

from .common import EXIT_USAGE, db_option, fail, open_database
from .options import codebook_option, current_codebook, reviewer_option


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a taken port or a foreign address is our own clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    return listener


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but a loopback address lets other machines reach the page "
                   "(and every reply in the database): only on a network you trust.")
@reviewer_option
@click.option("--open", "open_browser", is_flag=True, help="Open the page in your web browser.")
@codebook_option
@db_option
def serve(port, host, reviewer, open_browser, codebook_path, db_path):
    """Serve a web page for reviewing and exploring the replies, on this machine.

    \b
    Review      one reply at a time with the conversation above it; number
                keys toggle categories, Enter saves and moves on, Backspace
                goes back, n adds a note, / jumps to the filters
    Adjudicate  where two reviewers disagree, record the final label (stored
                as the reviewer `adjudicated`, which exports then use)
    Replies     search, filter and sort every reply; download what the
                filter shows as CSV or JSONL
    Overview    categories predicted against reviewed (a chart that follows
                the review live), replies over time, agreement figures
    Codebook    each category with its examples and most typical replies

    Every decision is saved the moment it is made. Each carries its reviewer
    (the page's reviewer box, else --reviewer), so two people reviewing the same
    database never overwrite each other. Stop the server with Ctrl-C.
    """
    from werkzeug.serving import make_server

    from replies.web.app import create_app
    from replies.web.security import LOCAL_NAMES

    local = is_loopback(host)
    if not local:
        click.echo(f"Warning: binding {host}: anyone who can reach this address can read every reply and "
                   "record labels. Use it only on a network you trust.", err=True)
    database = open_database(db_path)
    book = current_codebook(database, codebook_path)
    bound = host.strip("[]").lower()
    wildcard = bound in ("0.0.0.0", "::")
    # the address in the printed URL must be one the server listens on: localhost only for 127.0.0.1 itself
    shown = "localhost" if bound in ("127.0.0.1", "localhost") or wildcard else bound
    allowed = LOCAL_NAMES | {bound, f"[{bound}]"}
    if wildcard:
        allowed |= {name.lower() for name in (socket.gethostname(), socket.getfqdn()) if name}
    try:
        listener = _listen(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            fail(f"port {port} on {host} is already in use: pass another with --port (or --port 0 for any)",
                 EXIT_USAGE)
        if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
            fail(f"cannot bind {host!r}: not an address of this machine", EXIT_USAGE)
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    app = create_app(db_path, book, reviewer=reviewer, allowed_hosts=frozenset(allowed), any_address=wildcard)
    server = make_server(host, listener.getsockname()[1], app, threaded=True, fd=listener.fileno())
    url = f"http://{shown if ':' not in shown else f'[{shown}]'}:{listener.getsockname()[1]}/"
    click.echo(f"Serving {db_path} (codebook {book.name}, reviewer {reviewer}) at {url}  (Ctrl-C stops)"
               + (" and at this machine's other addresses" if wildcard else ""), err=True)
    sys.stderr.flush()
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on the researcher's terminal
    try:
        server.serve_forever()  # returns on Ctrl-C (werkzeug catches it) and closes the socket
    finally:
        server.server_close()
    click.echo("Stopped. Every decision was saved as it was made.", err=True)
