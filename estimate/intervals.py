"""The estimator behind `replies estimate`: a category's share of a finite population of replies, from the
model's scores on all of them and human codes (0/1) on a simple random sample of them.

- The estimate is the regression estimator of model-assisted survey sampling, which is also what PPI++'s power
  tuning gives: θ̂ = ȳ + λ (F̄ − f̄), where ȳ is the share among the coded replies, F̄ and f̄ the mean score over
  the population and over the coded replies, and λ the slope of the codes on the scores in the coded sample.
  A model whose scores say nothing gets λ ≈ 0 and the estimate is the coded share; with every reply coded,
  f̄ = F̄ and the estimate is the exact share.
- The interval is Wilson's score interval at the effective sample size n / (fpc × deff): fpc is the
  finite-population correction (N − n)/(N − 1), and deff the part of the codes' variance the scores leave
  unexplained (residual variance over the codes' variance, at most 1, so a useless model costs nothing).
  Wilson's interval keeps its coverage where a plain ±z·SE interval does not: few positives in the sample,
  none at all, or a share near 0 or 1.
- With few positives (or negatives) coded, the sample cannot show how often the model is wrong: a model right
  on all 3 coded positives may still miss a fifth of them in the population. So deff is never below
  C / (m + C), m the smaller of the coded positives and negatives (C = 3, chosen on synthetic populations
  with models from useless to perfect, and on development rows: docs/2026-12-02-estimate.md).

Every function takes arrays whose last axis runs over the coded replies, so many categories (or many draws, in
the tests) are computed at once. The module needs numpy and the standard library only: a replication package
(`replies export --replication`) ships it as it is, so that its figures are recomputed by the code that made them.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

UNSEEN_ERRORS = 3.0  # C above: how many model errors a sample that shows none may still hide, in effect


@dataclass
class Shares:
    """Arrays over the leading axes: the combined estimate and interval, the human-only ones, and deff."""
    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    human: np.ndarray
    human_low: np.ndarray
    human_high: np.ndarray
    deff: np.ndarray


MAX_LEVEL = 0.999999  # past this, 0.5 + level / 2 rounds towards 1 and the quantile is no longer finite


def z_value(level: float) -> float:
    """The normal quantile of a two-sided interval at `level` (1.96 at 0.95); ValueError for a level that is not
    above 0 and at most MAX_LEVEL."""
    if not (isinstance(level, (int, float)) and 0 < level <= MAX_LEVEL):
        raise ValueError(f"the confidence level must be above 0 and at most {MAX_LEVEL}, not {level!r}")
    return NormalDist().inv_cdf(0.5 + level / 2)


def fpc(population: int, n: int) -> float:
    """The finite-population correction of a mean's variance, (N − n)/(N − 1): 0 once every unit is coded."""
    if n >= population:
        return 0.0
    return (population - n) / (population - 1)


def wilson(center, variance_factor, z: float):
    """Wilson's score interval: the θ with (center − θ)² ≤ z² v θ (1 − θ), where a share's variance is v θ (1 − θ)
    (v = 1/n for a simple random sample). v = 0 gives the single point `center`."""
    c = np.clip(np.asarray(center, dtype=float), 0.0, 1.0)
    k = z * z * np.asarray(variance_factor, dtype=float)
    mid = (c + k / 2) / (1 + k)
    half = np.sqrt(k * c * (1 - c) + k * k / 4) / (1 + k)
    return np.clip(mid - half, 0.0, 1.0), np.clip(mid + half, 0.0, 1.0)


def combine(population_mean, scores, codes, population: int, level: float = 0.95) -> Shares:
    """The combined and the human-only estimates with intervals at `level`.

    population_mean: the mean score over all N replies (leading axes); scores, codes: the coded replies' scores
    and 0/1 codes (leading axes × n); population: N."""
    f = np.asarray(scores, dtype=float)
    y = np.asarray(codes, dtype=float)
    n = f.shape[-1]
    if n == 0:
        raise ValueError("no coded reply to estimate from")
    if n > population:
        raise ValueError(f"{n} coded replies in a population of {population}")
    z = z_value(level)
    big_f = np.asarray(population_mean, dtype=float)
    y_bar, f_bar = y.mean(axis=-1), f.mean(axis=-1)
    dy, df = y - y_bar[..., None], f - f_bar[..., None]
    s_ff, s_yf, s_yy = (df * df).sum(axis=-1), (df * dy).sum(axis=-1), (dy * dy).sum(axis=-1)
    usable = (s_ff > 1e-12) & (s_yy > 0) & (n >= 3)
    slope = np.where(usable, s_yf / np.where(usable, s_ff, 1.0), 0.0)
    estimate = np.clip(y_bar + slope * (big_f - f_bar), 0.0, 1.0)
    residual = ((dy - slope[..., None] * df) ** 2).sum(axis=-1)
    unexplained = np.where(usable, (residual / max(n - 2, 1)) / (np.where(usable, s_yy, 1.0) / max(n - 1, 1)), 1.0)
    positives = y.sum(axis=-1)
    m = np.minimum(positives, n - positives)
    deff = np.clip(np.maximum(unexplained, UNSEEN_ERRORS / (m + UNSEEN_ERRORS)), 0.0, 1.0)
    correction = fpc(population, n)
    low, high = wilson(estimate, correction * deff / n, z)
    human_low, human_high = wilson(y_bar, correction / n, z)
    return Shares(estimate, low, high, y_bar, human_low, human_high, deff)


def wald_human(codes, population: int, level: float = 0.95):
    """The textbook human-only interval, ȳ ± z·sqrt((1 − n/N) s²/n): what docs/estimating.md compares widths with. It
    has no width when the sample holds no positive, so it is a yardstick here, not an interval to report."""
    y = np.asarray(codes, dtype=float)
    n = y.shape[-1]
    y_bar = y.mean(axis=-1)
    s2 = ((y - y_bar[..., None]) ** 2).sum(axis=-1) / max(n - 1, 1)
    half = z_value(level) * np.sqrt(max(1 - n / population, 0.0) * s2 / n)
    return y_bar - half, y_bar + half


def coded_needed(estimate: float, deff: float, population: int, n: int, half_width: float = 0.05,
                 level: float = 0.95) -> int:
    """How many coded replies would bring the interval to ±`half_width` (its width at most twice that), if the
    share and deff stayed as seen: the least n' ≥ n that does, found by bisection (at most N, where the
    width is 0)."""
    z = z_value(level)

    def narrow_enough(count: int) -> bool:
        low, high = wilson(estimate, fpc(population, count) * deff / count, z)
        return (high - low) / 2 <= half_width + 1e-12

    if narrow_enough(n):
        return n
    lo, hi = n, population  # narrow_enough(hi) holds: the width is 0 with every reply coded
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if narrow_enough(mid):
            hi = mid
        else:
            lo = mid
    return hi
