"""The overview (category counts, shares with confidence intervals, replies over time, agreement) and the
codebook page."""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, render_template, request

from replies.classifier.evaluate import SMALL_SAMPLE, evaluate, small_sample_note
from replies.db import labels as label_store
from replies.db import samples
from replies.estimate.errors import EstimateError
from replies.report.html import category_bars, category_chart, estimates_section, time_chart, timeline
from replies.report.stats import reviewed_count

bp = Blueprint("overview", __name__)


def reviewed_line(n: int) -> str:
    return f"{n} repl{'y' if n == 1 else 'ies'} reviewed"

@bp.get("/overview")
def overview():
    (over_time, period), total = timeline(g.db)
    reviewed = reviewed_count(g.db, g.codebook.name)
    chosen_sample = request.args.get("sample") or None
    result = evaluate(g.db, g.codebook)
    try:
        shares = estimates_section(g.db, g.codebook, sample=chosen_sample)
    except EstimateError as exc:
        abort(400, description=str(exc))
    return render_template("overview.html", title="Overview", chart=category_chart(category_bars(g.db, g.codebook)),
                           shares=shares, samples=samples.list_samples(g.db), chosen_sample=chosen_sample,
                           timeline=time_chart(over_time, period), result=result,
                           labels={c.id: c.label for c in g.codebook.categories},
                           reviewed=reviewed, reviewed_line=reviewed_line(reviewed), total=total,
                           figure=lambda value: "n/a" if value is None else f"{value:.2f}",
                           agreement_note=small_sample_note(min((row["replies"] for row in result.agreement),
                                                                default=SMALL_SAMPLE)))

@bp.get("/overview/chart")
def overview_chart():
    line = reviewed_line(reviewed_count(g.db, g.codebook.name))
    return Response(f"{category_chart(category_bars(g.db, g.codebook))}<p class=muted>{line}</p>",
                    mimetype="text/html")

@bp.get("/codebook")
def codebook_page():
    typical = {c.id: label_store.top_scored(g.db, g.codebook.hash, c.id, hide_blind_for=g.codebook.name)
               for c in g.codebook.categories}
    return render_template("codebook.html", title="Codebook", typical=typical)
