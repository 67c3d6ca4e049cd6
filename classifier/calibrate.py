"""Per-category decisions derived from the replies in hand, with no gold.

A score threshold fixed in advance does not transfer: the heads are trained on codebook text, and real
replies sit farther from it, so their scores run lower on one codebook than another. The replies themselves
say where each category's cut belongs: every reply spreads its scores over the categories, the mean of
those shares estimates how much of the thread each category holds, and with the number of labels a reply
carries on average, that gives each category's expected rate. The category's cut is the score at that
rate in the thread's own score distribution, never below a floor, so that a category the replies do not
raise at all is not handed out to fill a quota.
"""

from __future__ import annotations

import numpy as np

LABELS_PER_REPLY = 1.2  # a reply's labels on average; chosen on the development rows (docs/evaluation.md, Quality)
FLOOR = 0.25  # no category is given below this score, whatever its expected rate
MIN_RATE, MAX_RATE = 0.01, 0.9  # a category is expected on between 1% and 90% of the replies


def rank_share_thresholds(scores: np.ndarray, labels_per_reply: float = LABELS_PER_REPLY,
                          floor: float = FLOOR) -> np.ndarray:
    """Each category's threshold from `scores` (replies × categories, in [0, 1]): the score above which the
    category's expected share of `labels_per_reply` labels per reply falls, at least `floor`."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] == 0:
        raise ValueError("scores must be a replies × categories array")
    if len(scores) == 0:
        return np.full(scores.shape[1], floor)
    totals = scores.sum(axis=1, keepdims=True)
    shares = np.divide(scores, totals, out=np.full_like(scores, 1 / scores.shape[1]), where=totals > 0)
    rates = np.clip(labels_per_reply * shares.mean(axis=0), MIN_RATE, MAX_RATE)
    cuts = np.array([np.quantile(scores[:, j], 1 - rates[j]) for j in range(scores.shape[1])])
    return np.maximum(cuts, floor)
