"""What a methods section says about an estimate: a paragraph to adapt, the method's name and references, and
the table of figures, all from the estimate and the sample as recorded (nothing here computes a figure)."""

from __future__ import annotations

from collections.abc import Iterator

from .intervals import UNSEEN_ERRORS

REFERENCES = [
    "Angelopoulos, A. N., Bates, S., Fannjiang, C., Jordan, M. I. and Zrnic, T. (2023). Prediction-powered "
    "inference. Science 382(6671), 669-674.",
    "Angelopoulos, A. N., Duchi, J. C. and Zrnic, T. (2023). PPI++: Efficient prediction-powered inference. "
    "arXiv:2311.01453.",
    "Cochran, W. G. (1977). Sampling Techniques, 3rd ed., ch. 7 (the regression estimator). Wiley.",
    "Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School for Communication, "
    "University of Pennsylvania.",
    "Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference. Journal of the "
    "American Statistical Association 22(158), 209-212.",
]
METHOD = {
    "estimator": "regression estimator of model-assisted survey sampling (Cochran 1977), the same as power-tuned "
                 "prediction-powered inference (PPI++): share = coded mean + slope x (population mean score - coded "
                 "mean score), the slope fitted on the coded members",
    "interval": "Wilson score interval at the effective sample size n / (fpc x deff), fpc = (N - n) / (N - 1), "
                "deff = residual variance / variance of the codes (at most 1), never below "
                f"{UNSEEN_ERRORS:g} / (m + {UNSEEN_ERRORS:g}), m the smaller of the coded positives and negatives",
    "design": "simple random sample without replacement",
    "references": REFERENCES,
}


def _when(stamp: str) -> str:
    return stamp[:10] if stamp else "an unrecorded date"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def methods_text(result, reliability: dict | None = None) -> str:
    """A paragraph a paper can adapt, describing the population, the sample, the coding (with `reliability`, the
    agreement of coders who coded the same members: `replies.review.reliability`), the model, the estimator and
    the interval, the software, with references."""
    scope = (f"the thread {result.thread[0]}:{result.thread[1]}" if result.thread else
             "every question thread in the database")
    coders = sorted(result.coders.items(), key=lambda item: -item[1])
    by = (f"by {_count(len(coders), 'coder', 'coders')} (" + ", ".join(f"{name}: {n}" for name, n in coders) + ")"
          if coders else "")
    remaining = []
    if result.to_code:
        remaining.append(f"{result.to_code} remained uncoded")
    if result.uncodable:
        remaining.append(f"{result.uncodable} could no longer be coded (deleted or removed after the draw) and "
                         "were left out")
    sources = "; ".join(f"{s['method'] or 'unknown method'} ({s['model'] or 'unknown model'})"
                        for s in result.scored_by) or "a model"
    estimated = [c for c in result.categories if c.not_estimated is None]
    effective = [c.effective_n for c in estimated if c.effective_n is not None]
    span = (f"ranged from {min(effective):.0f} to {max(effective):.0f}" if effective and
            round(min(effective)) != round(max(effective)) else f"was {effective[0]:.0f}" if effective else "")
    effective_text = (f" The effective sample size {span} coded replies (against {result.labelled} coded)."
                      if effective else
                      " Every reply of the population was coded, so the shares are exact." if estimated else "")
    skipped = [c.id for c in result.categories if c.not_estimated is not None]
    parts = [
        f"Population. The population was the {result.population} replies with text in {scope} when the sample was "
        f"drawn on {_when(result.drawn_at)} ({result.rule.get('in_words', 'every reply with text')}).",
        f"Sample and coding. A simple random sample of {result.size} replies was drawn without replacement "
        f"(seed {result.seed}); {result.labelled} were coded {by}".rstrip() + ", "
        + ("blind to the model's tags and scores" if result.blind else "with the model's suggestions shown")
        + f", against the codebook {result.codebook} (version {result.codebook_hash})"
        + (f"; {'; '.join(remaining)}" if remaining else "") + "."
        + (f" Where coders disagreed without a final decision, the latest code was used ({result.disagreements} "
           "replies)." if result.disagreements else ""),
        *([_reliability_text(reliability)] if reliability else []),
        f"Model. Every reply in the population was scored in each category by {sources}.",
        "Estimator. Each category's share was estimated with the regression estimator of model-assisted survey "
        "sampling (Cochran, 1977), which coincides with power-tuned prediction-powered inference (Angelopoulos "
        "et al., 2023; Angelopoulos, Duchi and Zrnic, 2023): the share among the coded replies, corrected by the "
        "slope of the codes on the model's scores times the difference between the mean score of all replies and "
        "that of the coded replies; a model whose scores say nothing gets a slope near 0 and the estimate is the "
        f"coded share. Each {100 * result.level:g}% confidence interval is Wilson's score interval (Wilson, 1927) "
        "at the effective sample size n / (fpc x deff), where fpc = (N - n) / (N - 1) is the finite-population "
        "correction and deff the share of the codes' variance that the scores leave unexplained, never below "
        f"{UNSEEN_ERRORS:g} / (m + {UNSEEN_ERRORS:g}) with m the smaller of the coded positives and negatives, "
        "so that a sample showing no model errors does not vouch for a model without them." + effective_text
        + (f" Not estimated: {', '.join(skipped)} (codes given under a codebook version without it)."
           if skipped else ""),
        f"Software. replies {result.tool_version} (`replies estimate`).",
        "References. " + " ".join(REFERENCES),
    ]
    return "\n\n".join(parts)


def _reliability_text(found: dict) -> str:
    rows = [row for row in found["categories"] if row["alpha"] is not None]
    pooled = found["pooled"]
    spread = (f"; per category it ranged from {min(r['alpha'] for r in rows):.2f} to {max(r['alpha'] for r in rows):.2f}"
              if len(rows) > 1 else "")
    overall = (f"{pooled['alpha']:.2f} ({100 * found['level']:g}% bootstrap interval {pooled['low']:.2f} to "
               f"{pooled['high']:.2f})" if pooled["alpha"] is not None and pooled["low"] is not None else "undefined")
    return (f"Reliability. {found['replies']} replies were coded independently by "
            f"{_count(len(found['coders']), 'coder', 'coders')}; Krippendorff's alpha (nominal, pooled over the "
            f"categories) was {overall}{spread} (Krippendorff, 2011).")


CSV_COLUMNS = ("category", "label", "share", "low", "high", "replies", "replies_low", "replies_high",
               "coded_only", "coded_only_low", "coded_only_high", "model_tags", "coded_positive", "effective_n",
               "not_estimated")


def table_rows(result) -> Iterator[dict]:
    """The estimate as rows of a table a paper can paste (shares as fractions)."""
    for c in result.categories:
        human = c.human_only or {}
        yield {"category": c.id, "label": c.label, "share": c.estimate, "low": c.low, "high": c.high,
               "replies": c.count, "replies_low": c.count_low, "replies_high": c.count_high,
               "coded_only": human.get("estimate"), "coded_only_low": human.get("low"),
               "coded_only_high": human.get("high"), "model_tags": c.model_only, "coded_positive": c.coded_positive,
               "effective_n": c.effective_n, "not_estimated": c.not_estimated}
