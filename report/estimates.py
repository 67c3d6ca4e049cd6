"""Each category's estimated share with its confidence interval, as an inline SVG chart of error bars and a
sentence of context, for the HTML report and the web page's overview. Every label is escaped."""

from __future__ import annotations

from math import ceil

from replies.text import clip
from replies.text import html_text as _escape

COMBINED, HUMAN, MODEL = "#4c72b0", "#dd8452", "#55a868"
# a chart scales down to the page (a phone's 360-420 px) instead of being cut: its viewBox keeps the drawing whole
# (classes, not style attributes: the web page's Content-Security-Policy allows its style sheet only)
FIT = 'class="chart"'
CHART_CSS = (".chart { max-width: 100%; height: auto; } .chart-key { display: flex; flex-wrap: wrap; "
             "gap: .2rem 1rem; font-size: .85rem; } .chart-key svg { vertical-align: middle; }")


def legend(keys: list[tuple[str, str]]) -> str:
    """A chart's colour key as HTML under it, wrapping on a narrow page: (swatch SVG drawing, what it means)."""
    items = "".join(f'<span class=key-item><svg width="24" height="14" viewBox="0 0 24 14" aria-hidden="true">'
                    f'{swatch}</svg> {_escape(meaning)}</span> ' for swatch, meaning in keys)
    return f'<p class="chart-key">{items}</p>'


def estimate_summary(result) -> str:
    """One paragraph: which sample, how many coded, the level, and what the bars are."""
    to_code = ", ".join(filter(None, [f"{result.to_code} still to code" if result.to_code else "",
                                      f"{result.uncodable} deleted since the draw, not codable"
                                      if result.uncodable else ""]))
    to_code = f" ({to_code})" if to_code else ""
    return (f"<p class=meta>Sample <b>{_escape(result.sample)}</b>: {result.labelled} of its {result.size} members "
            f"coded{to_code}, drawn at random from {result.population} replies. Each share is of those "
            f"{result.population} replies, with a {100 * result.level:g}% confidence interval: the coded members' "
            "answers, made more precise by the model's scores on every reply. The thin bar below is the interval "
            "from the coded members alone; the green tick, the share the model tags on its own.</p>")


def methods_paragraphs(result, reliability: dict | None = None) -> str:
    """The methods paragraph `replies estimate --format methods` prints, for the report and the overview."""
    from replies.estimate.methods import methods_text

    return ("<details class=methods><summary>Methods, for a paper</summary>"
            + "".join(f"<p>{_escape(part)}</p>" for part in methods_text(result, reliability).split("\n\n"))
            + "</details>")


def reliability_table(found: dict | None) -> str:
    """Krippendorff's alpha per category and pooled, as an HTML table (nothing without two coders)."""
    if not found:
        return ""
    shown = lambda value: "n/a" if value is None else f"{value:.2f}"
    rows = "".join(f"<tr><td>{_escape(r['category'])}</td><td>{shown(r['alpha'])}</td><td>{shown(r['low'])}–"
                   f"{shown(r['high'])}</td><td>{r['replies']}</td></tr>" for r in found["categories"])
    pooled = found["pooled"]
    return (f"<h3>Reliability</h3><p class=meta>Krippendorff's alpha (nominal) on {found['replies']} replies coded "
            f"by two or more reviewers, with a {100 * found['level']:g}% bootstrap interval.</p><table class=estimates>"
            "<thead><tr><th>Category</th><th>Alpha</th><th>Interval</th><th>Replies</th></tr></thead><tbody>"
            f"{rows}<tr><td>pooled</td><td>{shown(pooled['alpha'])}</td><td>{shown(pooled['low'])}–"
            f"{shown(pooled['high'])}</td><td>{found['replies']}</td></tr></tbody></table>")


def estimate_chart(result) -> str:
    """Inline SVG: per category, the combined interval (thick) with its estimate (dot), the human-only interval
    (thin, below) and the model-only share (tick), on one percentage axis."""
    label_width, width, row, right = 230, 760, 40, 70
    shown = [c for c in result.categories if c.not_estimated is None]
    top = max([c.high for c in shown] + [c.human_only["high"] for c in shown] + [c.model_only for c in shown]
              + [0.05])
    top = min(1.0, ceil(top * 10) / 10)
    scale = (width - label_width - right) / top
    x = lambda share: label_width + share * scale
    height = row * len(shown) + 30
    parts = [f'<svg role="img" aria-label="Estimated share of the replies per category, with confidence intervals" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" {FIT}>']
    for step in range(0, int(round(top * 100)) + 1, 10):
        tick = x(step / 100)
        parts.append(f'<line x1="{tick:.1f}" y1="0" x2="{tick:.1f}" y2="{height - 22}" stroke="#eee"/>'
                     f'<text x="{tick:.1f}" y="{height - 6}" text-anchor="middle">{step}%</text>')
    for i, c in enumerate(shown):
        y = 8 + i * row
        human = c.human_only
        parts.append(f'<text x="{label_width - 8}" y="{y + 12}" text-anchor="end">{_escape(clip(c.label, 34))}</text>')
        parts.append(f'<rect x="{x(c.low):.1f}" y="{y + 4}" width="{max(x(c.high) - x(c.low), 1):.1f}" height="10" '
                     f'fill="{COMBINED}" opacity="0.85"><title>{_escape(c.label)}: {100 * c.estimate:.1f}% '
                     f'({100 * c.low:.1f}–{100 * c.high:.1f}%)</title></rect>')
        parts.append(f'<circle cx="{x(c.estimate):.1f}" cy="{y + 9}" r="4" fill="#fff" stroke="{COMBINED}" '
                     f'stroke-width="2"/>')
        parts.append(f'<line x1="{x(human["low"]):.1f}" y1="{y + 21}" x2="{x(human["high"]):.1f}" y2="{y + 21}" '
                     f'stroke="{HUMAN}" stroke-width="3"><title>coded members alone: {100 * human["estimate"]:.1f}% '
                     f'({100 * human["low"]:.1f}–{100 * human["high"]:.1f}%)</title></line>')
        parts.append(f'<line x1="{x(c.model_only):.1f}" y1="{y}" x2="{x(c.model_only):.1f}" y2="{y + 18}" '
                     f'stroke="{MODEL}" stroke-width="2"><title>model tags: {100 * c.model_only:.1f}%</title></line>')
        parts.append(f'<text x="{x(max(c.high, human["high"])) + 6:.1f}" y="{y + 13}">{100 * c.estimate:.0f}%</text>')
    parts.append("</svg>")
    parts.append(legend([
        (f'<rect x="1" y="2" width="22" height="10" fill="{COMBINED}" opacity="0.85"/><circle cx="12" cy="7" r="4" '
         f'fill="#fff" stroke="{COMBINED}" stroke-width="2"/>', "estimate and its interval (coded members and model)"),
        (f'<line x1="1" y1="7" x2="23" y2="7" stroke="{HUMAN}" stroke-width="3"/>', "interval from coded members alone"),
        (f'<line x1="12" y1="0" x2="12" y2="14" stroke="{MODEL}" stroke-width="2"/>', "share the model tags alone")]))
    return "".join(parts)


def estimate_table(result) -> str:
    """The figures behind the chart, as an HTML table."""
    rows = "".join(
        f"<tr><td>{_escape(c.label)}</td><td>{100 * c.estimate:.1f}%</td><td>{100 * c.low:.1f}–{100 * c.high:.1f}%</td>"
        f"<td>{c.count:.0f} ({c.count_low:.0f}–{c.count_high:.0f})</td>"
        f"<td>{100 * c.human_only['estimate']:.1f}% ({100 * c.human_only['low']:.1f}–{100 * c.human_only['high']:.1f}%)"
        f"</td><td>{100 * c.model_only:.1f}%</td></tr>" if c.not_estimated is None else
        f"<tr><td>{_escape(c.label)}</td><td colspan=4>not estimated: {_escape(c.not_estimated)}</td>"
        f"<td>{100 * c.model_only:.1f}%</td></tr>" for c in result.categories)
    return (f"<table class=estimates><thead><tr><th>Category</th><th>Share</th><th>{100 * result.level:g}% interval"
            "</th><th>Replies</th><th>Coded members alone</th><th>Model tags</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")
