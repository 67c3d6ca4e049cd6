"""The web application behind `replies serve`: the app, its per-request connection and shared settings, and
the blueprints of `views/` (review queue and adjudication, replies table, overview and codebook, thread tree).

It composes the library: the terminal review's queue and context (`replies.review.queue`), the export's
selection and writers (`replies.export`), the report's counts and charts (`replies.report`), the estimate's
shares (`replies.estimate`), the classifier's agreement figures (`replies.classifier.evaluate`) and the
storage's thread tree (`replies.db.tree`). Pages are rendered on the server; a little JavaScript adds the keys;
`security.py` keeps the page the user's own."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, g, redirect, render_template, request
from markupsafe import Markup

from replies.codebook import Codebook
from replies.db import open_db
from replies.db.queries import thread_choices
from replies.review.labels import reviewer_problem

from .security import LOCAL_NAMES, protect
from .views import overview, review, table, thread

HERE = Path(__file__).parent


def create_app(db_path: str | Path, codebook: Codebook, *, reviewer: str,
               allowed_hosts: frozenset[str] = LOCAL_NAMES, any_address: bool = False) -> Flask:
    """The application over the database at `db_path` (migrated once here), coding with `codebook`;
    `reviewer` is the name decisions carry until the page's reviewer box changes it."""
    app = Flask("replies.web", template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))
    app.json.ensure_ascii = False
    first = open_db(db_path)
    codebook.remember(first)
    first.conn.close()
    queues = review.Queues()
    token = protect(app, allowed_hosts=allowed_hosts, any_address=any_address)

    @app.before_request
    def load():
        g.db = open_db(db_path, reopen=True)  # a connection per request: each request runs in its own thread
        g.db_path, g.codebook, g.queues = db_path, codebook, queues
        name = request.cookies.get("reviewer") or reviewer
        g.reviewer = name if reviewer_problem(name) is None else reviewer

    @app.teardown_request
    def close(_exc):
        if "db" in g:
            g.db.conn.close()

    app.jinja_env.filters["command"] = command

    @app.context_processor
    def shared():
        return {"book": codebook, "reviewer": g.get("reviewer", reviewer), "csrf_token": token,
                "threads": thread_choices(g.db) if "db" in g else [], "safe_url": safe_url, "page": (request.endpoint or "").rpartition(".")[2]}

    @app.errorhandler(400)
    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(405)
    def error(exc):
        return render_template("error.html", code=exc.code, message=exc.description, title=exc.name), exc.code

    @app.get("/favicon.ico")
    def favicon():
        return Response(status=204)

    @app.get("/")
    def home():
        return redirect("/review", code=302)

    for views in (review.bp, table.bp, thread.bp, overview.bp):
        app.register_blueprint(views)
    return app


def command(text: str) -> Markup:
    """A command for the reader to type, escaped, that a narrow page wraps between its words only: never
    inside `--sample` (a browser breaks lines after a hyphen)."""
    words = Markup(" ").join(Markup('<span class="word">{}</span>').format(word) for word in str(text).split())
    return Markup('<code class="command">{}</code>').format(words)


def safe_url(url: str | None) -> str | None:
    """A link target only for http(s) URLs: a reply's `javascript:` URL never becomes a link."""
    return url if isinstance(url, str) and url.lower().startswith(("https://", "http://")) else None
