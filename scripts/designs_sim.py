"""Sample designs measured by simulation: simple random sampling (what `replies sample` draws, estimated by the
real `intervals.combine`), and two designs that spend the codes where the model is unsure, written here to be
measured before any is built into `replies`:

- stratified: the population cut into 4 strata (fewer with n < 8) of equal size by each reply's total
  uncertainty, u = sum over categories of p (1 - p); the members allocated 2 a stratum, then one at a time to
  the stratum with the largest N_h^2 S_h^2 / (n_h (n_h + 1)) (exact Neyman allocation for the sum of the
  categories' variances, S_h^2 the stratum's mean u; nested, so an extension keeps the design); within each
  stratum in the seed's random order. Estimate: the combined regression estimator (one slope, fitted on the
  within-stratum deviations, weighted by N_h / n_h), variance by strata with each stratum's finite-population
  correction; Wilson's interval at that variance (as `estimate` does), with the same floor on the part a
  model explains when the sample holds few positives.
- active: Poisson sampling with inclusion probabilities proportional to sqrt(u), floored at a fifth of its mean
  so every reply can be drawn (all equal where the model is sure of every reply), capped at 1, expected size n; the Hajek (inverse-probability weighted)
  difference estimator with a weighted slope (prediction-powered inference with weights, as in active
  statistical inference), its linearised Poisson variance, Wilson's interval at it.

Each design's intervals are measured against the population's true share: coverage (pooled over categories
and the lowest category), mean width against simple's, and the largest |bias|."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replies.estimate.intervals import UNSEEN_ERRORS, combine, wilson, z_value

DESIGNS = ("simple", "stratified", "active")
STRATA = 4


def uncertainty(scores: np.ndarray) -> np.ndarray:
    """Each reply's total uncertainty over the categories: sum of p (1 - p)."""
    return (scores * (1 - scores)).sum(axis=1)


def make_strata(u: np.ndarray, count: int) -> np.ndarray:
    """Stratum numbers 0..count-1, equal sizes, by increasing uncertainty."""
    strata = np.empty(len(u), dtype=int)
    for h, chunk in enumerate(np.array_split(np.argsort(u, kind="stable"), count)):
        strata[chunk] = h
    return strata


def neyman_sequence(sizes: np.ndarray, spread2: np.ndarray) -> np.ndarray:
    """The stratum of each place in the drawing order: 2 places for each stratum, then one at a time to the
    stratum with the largest N_h^2 S_h^2 / (n_h (n_h + 1)). The first n places are Neyman's allocation of n
    (exact for integers), so a sample extended along this order keeps its design."""
    count = len(sizes)
    taken = np.zeros(count, dtype=int)
    sequence = []
    for _ in range(2):
        for h in range(count):
            if taken[h] < sizes[h]:
                sequence.append(h)
                taken[h] += 1
    while len(sequence) < sizes.sum():
        priority = np.where(taken < sizes, sizes ** 2 * spread2 / (taken * (taken + 1.0)), -1.0)
        h = int(np.argmax(priority))
        sequence.append(h)
        taken[h] += 1
    return np.array(sequence)


def stratified_members(strata: np.ndarray, sequence: np.ndarray, rank: np.ndarray, n: int) -> np.ndarray:
    """The first n of the drawing order: each stratum's share of them, taken in `rank` order within it."""
    counts = np.bincount(sequence[:n], minlength=strata.max() + 1)
    return np.concatenate([np.flatnonzero(strata == h)[np.argsort(rank[strata == h])][:k]
                           for h, k in enumerate(counts)])


def _interval(estimate, human, v_y, v_e, unit, usable, codes, level):
    """Wilson's interval at the design's variance: v_y / (p (1 - p)) per unit of a share's variance, times the
    part the model leaves unexplained (v_e / v_y, floored at C / (m + C) as `estimate` does)."""
    n = codes.shape[-1]
    pq = human * (1 - human)
    factor = np.where((v_y > 0) & (pq > 0), v_y / np.where(pq > 0, pq, 1.0), unit)
    positives = codes.sum(axis=-1)
    m = np.minimum(positives, n - positives)
    unexplained = np.where(usable & (v_y > 0), v_e / np.where(v_y > 0, v_y, 1.0), 1.0)
    deff = np.clip(np.maximum(unexplained, UNSEEN_ERRORS / (m + UNSEEN_ERRORS)), 0.0, 1.0)
    return wilson(estimate, factor * deff, z_value(level))


def stratified_estimate(stratum_means, weights, sizes, member_strata, f, y, level=0.95):
    """Combined regression estimate and interval. stratum_means: K x H mean score of each stratum's population;
    weights: N_h / N; sizes: N_h; member_strata: n; f, y: K x n scores and codes of the coded members."""
    count = len(sizes)
    n = y.shape[-1]
    taken = np.bincount(member_strata, minlength=count)
    per_unit = weights ** 2 * (sizes - taken) / ((sizes - 1) * taken) * (sizes - 1) / sizes
    y_bar = np.stack([y[:, member_strata == h].mean(axis=1) for h in range(count)], axis=1)
    f_bar = np.stack([f[:, member_strata == h].mean(axis=1) for h in range(count)], axis=1)
    dy, df = y - y_bar[:, member_strata], f - f_bar[:, member_strata]
    w = (weights / taken)[member_strata]
    s_ff, s_yf, s_yy = (w * df * df).sum(axis=1), (w * df * dy).sum(axis=1), (w * dy * dy).sum(axis=1)
    usable = (s_ff > 1e-12) & (s_yy > 0) & (n >= 3)
    slope = np.where(usable, s_yf / np.where(usable, s_ff, 1.0), 0.0)
    estimate = np.clip((weights * (y_bar + slope[:, None] * (stratum_means - f_bar))).sum(axis=1), 0, 1)
    e = dy - slope[:, None] * df

    def by_stratum(values):
        return np.stack([(values[:, member_strata == h] ** 2).sum(axis=1) / (taken[h] - 1)
                         for h in range(count)], axis=1)

    v_y = (per_unit * by_stratum(dy)).sum(axis=1)
    v_e = (per_unit * by_stratum(e)).sum(axis=1) * (n - 1) / max(n - 2, 1)
    human = (weights * y_bar).sum(axis=1)
    low, high = _interval(estimate, human, v_y, v_e, per_unit.sum(), usable, y, level)
    return estimate, low, high


def pps_probabilities(measure: np.ndarray, n: int) -> np.ndarray:
    """Inclusion probabilities proportional to `measure`, summing to n, those that would pass 1 set to 1."""
    pi = np.zeros(len(measure))
    fixed = np.zeros(len(measure), dtype=bool)
    for _ in range(len(measure)):
        free = ~fixed
        pi[free] = (n - fixed.sum()) * measure[free] / measure[free].sum()
        over = free & (pi >= 1)
        if not over.any():
            break
        fixed |= over
        pi[fixed] = 1.0
    return pi


def active_estimate(population_mean, population, pi, f, y, level=0.95):
    """Hajek difference estimate and interval from a Poisson sample. pi: n inclusion probabilities; f, y: K x n."""
    n = y.shape[-1]
    w = 1 / pi
    total = w.sum()
    y_bar, f_bar = (w * y).sum(axis=1) / total, (w * f).sum(axis=1) / total
    dy, df = y - y_bar[:, None], f - f_bar[:, None]
    s_ff, s_yf, s_yy = (w * df * df).sum(axis=1), (w * df * dy).sum(axis=1), (w * dy * dy).sum(axis=1)
    usable = (s_ff > 1e-12) & (s_yy > 0) & (n >= 3)
    slope = np.where(usable, s_yf / np.where(usable, s_ff, 1.0), 0.0)
    estimate = np.clip(y_bar + slope * (population_mean - f_bar), 0, 1)
    e = dy - slope[:, None] * df
    scale = (1 - pi) / pi ** 2 / population ** 2 * n / max(n - 1, 1)
    v_y, v_e = (scale * dy ** 2).sum(axis=1), (scale * e ** 2).sum(axis=1) * (n - 1) / max(n - 2, 1)
    low, high = _interval(estimate, y_bar, v_y, v_e, scale.sum(), usable, y, level)
    return estimate, low, high


@dataclass
class Figures:
    """One design's figures over the draws: pooled and lowest-category coverage, mean width, largest |bias|,
    and the mean number coded (a Poisson sample's size varies)."""
    coverage: float
    lowest: float
    width: float
    bias: float
    coded: float


def residuals(scores: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """y - (a + b s) per category, a and b fitted on the whole population (an oracle fit)."""
    out = np.empty_like(codes)
    for j in range(codes.shape[1]):
        design = np.column_stack([np.ones(len(codes)), scores[:, j]])
        coef, *_ = np.linalg.lstsq(design, codes[:, j], rcond=None)
        out[:, j] = codes[:, j] - design @ coef
    return out


def oracle_uncertainty(scores: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """What no design has: each reply's true squared error, the residual of the true codes on the scores
    (a regression per category on the whole population), summed over the categories."""
    return (residuals(scores, codes) ** 2).sum(axis=1)


def compare(scores: np.ndarray, codes: np.ndarray, n: int, draws: int, seed: int = 0, level: float = 0.95,
            oracle: bool = False) -> dict[str, Figures]:
    """Each design's figures over `draws` samples of n from a population with these scores and true codes
    (N x K each). With `oracle`, the two designs again driven by each reply's true error instead of the model's
    uncertainty: the bound on what any such design could give."""
    big_n, _ = scores.shape
    rng = np.random.default_rng(seed)
    drivers = {"": uncertainty(scores)}
    if oracle:
        drivers[", oracle"] = oracle_uncertainty(scores, codes)
    plans = {}
    for suffix, u in drivers.items():
        strata = make_strata(u, min(STRATA, n // 2))
        sizes = np.bincount(strata)
        spread2 = np.array([max(u[strata == h].mean(), 1e-6) for h in range(len(sizes))])
        measure = np.sqrt(u)
        plans[suffix] = (neyman_sequence(sizes, spread2), strata, sizes, np.stack([scores[strata == h].mean(axis=0) for h in range(len(sizes))],
                                                     axis=1),
                         pps_probabilities(np.maximum(measure, max(measure.mean() / 5, 1e-12)), n))
    truth = codes.mean(axis=0)
    found: dict[str, list] = {"simple": []}
    for _ in range(draws):
        rank = rng.random(big_n)
        simple = np.argsort(rank)[:n]
        shares = combine(scores.mean(axis=0), scores[simple].T, codes[simple].T, big_n, level)
        found["simple"].append((shares.estimate, shares.low, shares.high, n))
        for suffix, (sequence, strata, sizes, stratum_means, pi) in plans.items():
            members = stratified_members(strata, sequence, rank, n)
            found.setdefault("stratified" + suffix, []).append((*stratified_estimate(
                stratum_means, sizes / big_n, sizes, strata[members], scores[members].T, codes[members].T, level),
                n))
            drawn = np.flatnonzero(rng.random(big_n) < pi)
            if len(drawn) < 3:  # a Poisson sample this small happens about never at n >= 20; drawn again
                drawn = np.argsort(rng.random(big_n) / pi)[:n]
            found.setdefault("active" + suffix, []).append((*active_estimate(
                scores.mean(axis=0), big_n, pi[drawn], scores[drawn].T, codes[drawn].T, level), len(drawn)))
    out = {}
    for design, rows in found.items():
        estimate, low, high = (np.array([row[k] for row in rows]) for k in range(3))
        covered = (low <= truth + 1e-12) & (truth <= high + 1e-12)
        out[design] = Figures(float(covered.mean()), float(covered.mean(axis=0).min()), float((high - low).mean()),
                              float(np.abs(estimate.mean(axis=0) - truth).max()),
                              float(np.mean([row[3] for row in rows])))
    return out


def line(figures: dict[str, Figures]) -> str:
    """Each design's figures on one line, widths as a ratio of simple's."""
    base = figures["simple"].width
    return " | ".join(f"{design} cov {f.coverage:.3f} (lowest {f.lowest:.3f}) width {f.width:.3f} "
                      f"= {f.width / base:.2f}x, |bias| {f.bias:.3f}" + (f", {f.coded:.1f} coded" if design.startswith("active")
                                                                        else "")
                      for design, f in figures.items())
