"""The estimator behind `replies estimate`, on synthetic populations whose true shares are known: coverage of
its intervals over many random samples, bias, width against coding alone, and exactness with every reply
coded. No model runs here: scores are drawn to be useless, weak, good, nearly perfect or perfect."""

from __future__ import annotations

import numpy as np
import pytest

from replies.estimate.draw import random_order
from replies.estimate.intervals import coded_needed, combine, fpc, wald_human, wilson

MODELS = ("useless", "weak", "good", "nearly perfect", "perfect")


def population(size: int, share: float, model: str, rng: np.random.Generator):
    """(codes, scores) of a population of `size` replies, round(share × size) of them in the category."""
    y = np.zeros(size)
    y[:max(1, round(share * size))] = 1
    rng.shuffle(y)
    noise = rng.normal(0, 1, size)
    scores = {
        "useless": lambda: rng.random(size),
        "weak": lambda: 1 / (1 + np.exp(-(0.8 * (2 * y - 1) + noise))),
        "good": lambda: 1 / (1 + np.exp(-(2.0 * (2 * y - 1) + noise))),
        "nearly perfect": lambda: np.where(rng.random(size) < 0.02, 1 - y, y),  # 0/1 tags, 2% of them wrong
        "perfect": lambda: y.copy(),
    }[model]()
    return y, scores


def draws_of(y, scores, n: int, draws: int, rng):
    """`draws` simple random samples of n (without replacement): the combined result and the samples' codes."""
    picked = np.argpartition(rng.random((draws, len(y))), n - 1, axis=1)[:, :n]
    return combine(np.full(draws, scores.mean()), scores[picked], y[picked], len(y)), y[picked]


GRID = [(size, share, n, model) for size in (300, 2000) for share in (0.03, 0.05, 0.1, 0.3, 0.5)
        for n in (20, 40, 100, 200) for model in MODELS]


@pytest.mark.slow
def test_nominal_95_percent_intervals_hold_their_coverage_from_useless_to_perfect_models():
    """2,000 samples for each of 200 populations: shares 0.03 to 0.5, 20 to 200 coded, five kinds of model."""
    results = []
    for number, (size, share, n, model) in enumerate(GRID):
        rng = np.random.default_rng(number)
        y, scores = population(size, share, model, rng)
        result, codes = draws_of(y, scores, n, 2000, rng)
        truth = y.mean()
        covered = ((result.low <= truth + 1e-12) & (truth <= result.high + 1e-12)).mean()
        human = (result.human_high - result.human_low).mean()
        results.append({"case": (size, share, n, model), "coverage": covered,
                        "bias": result.estimate.mean() - truth,
                        "width_vs_human": (result.high - result.low).mean() / human if human else 1.0})
    coverage = np.array([r["coverage"] for r in results])
    worst = min(results, key=lambda r: r["coverage"])
    assert coverage.mean() >= 0.95, coverage.mean()
    assert worst["coverage"] >= 0.90, worst
    # the estimator is (nearly) unbiased everywhere; the most seen is a perfect model with 20 coded at a 5% share
    biggest = max(results, key=lambda r: abs(r["bias"]))
    assert abs(biggest["bias"]) <= 0.025, biggest
    # a model never makes the interval wider than coding alone, beyond the noise of a moved centre
    widest = max(results, key=lambda r: r["width_vs_human"])
    assert widest["width_vs_human"] <= 1.01, widest
    # and a good model makes it much narrower
    good = [r["width_vs_human"] for r in results if r["case"][3] == "good" and r["case"][1] >= 0.1]
    assert np.mean(good) < 0.75


def test_a_plain_normal_interval_would_fail_where_this_one_holds():
    """The reason for Wilson's interval and the floor on deff: with 40 coded at a 5% share and a nearly perfect
    model, ±1.96·SE around the same estimate covers the truth far less often than 95%."""
    rng = np.random.default_rng(7)
    y, scores = population(2000, 0.05, "nearly perfect", rng)
    picked = np.argpartition(rng.random((2000, len(y))), 39, axis=1)[:, :40]
    f, codes = scores[picked], y[picked]
    result = combine(np.full(2000, scores.mean()), f, codes, len(y))
    ours = ((result.low <= y.mean()) & (y.mean() <= result.high)).mean()
    slope = np.array([np.polyfit(fi, ci, 1)[0] if ci.std() and fi.std() else 0.0 for fi, ci in zip(f, codes)])
    residual = codes - codes.mean(axis=1, keepdims=True) - slope[:, None] * (f - f.mean(axis=1, keepdims=True))
    half = 1.96 * np.sqrt((1 - 40 / 2000) * residual.var(axis=1, ddof=2) / 40)
    naive = ((result.estimate - half <= y.mean()) & (y.mean() <= result.estimate + half)).mean()
    assert naive < 0.85 and ours >= 0.93, (naive, ours)


@pytest.mark.parametrize("model", MODELS)
def test_with_every_reply_coded_the_estimate_is_the_exact_share_with_no_width(model):
    rng = np.random.default_rng(3)
    y, scores = population(157, 0.13, model, rng)
    result = combine(scores.mean(), scores, y, len(y))
    assert result.estimate == pytest.approx(y.mean(), abs=1e-12)
    assert result.low == pytest.approx(y.mean(), abs=1e-12) and result.high == pytest.approx(y.mean(), abs=1e-12)
    assert result.human_low == result.human_high == pytest.approx(y.mean())


def test_a_model_with_no_information_gives_the_human_only_answer():
    """Constant scores carry nothing: the estimate is the coded share and the interval Wilson's."""
    y = np.array([1, 0, 0, 1, 0, 0, 0, 0, 0, 0] * 4, dtype=float)
    result = combine(0.5, np.full(40, 0.5), y, 400)
    assert result.estimate == pytest.approx(0.2)
    assert (result.low, result.high) == (pytest.approx(result.human_low), pytest.approx(result.human_high))
    low, high = wilson(0.2, (400 - 40) / (400 - 1) / 40, 1.959964)
    assert (result.low, result.high) == (pytest.approx(low), pytest.approx(high))


def test_no_coded_positive_still_gives_an_interval_above_zero():
    """Wald's interval has no width when no coded reply is in the category; this one still says how high the
    share could be."""
    codes = np.zeros(40)
    result = combine(0.1, np.linspace(0, 1, 40), codes, 1000)
    wald_low, wald_high = wald_human(codes, 1000)
    assert wald_high - wald_low == 0
    assert result.estimate == 0 and result.low == 0 and 0.05 < result.high < 0.12


def test_wilson_matches_the_textbook_formula():
    # 12 of 40, no finite-population correction: Wilson's 95% interval is (0.181, 0.454)
    low, high = wilson(0.3, 1 / 40, 1.959964)
    assert (round(float(low), 3), round(float(high), 3)) == (0.181, 0.454)


def test_the_finite_population_correction():
    assert fpc(180, 40) == pytest.approx(140 / 179)
    assert fpc(40, 40) == 0 and fpc(10, 40) == 0


def test_planning_finds_the_coded_count_that_reaches_the_target_width():
    needed = coded_needed(0.2, 1.0, 100_000, 40, 0.05)
    # Wilson's half-width at 0.2 falls to 0.05 near n = 1.96² · 0.2 · 0.8 / 0.05² ≈ 246
    assert 230 <= needed <= 260
    low, high = wilson(0.2, fpc(100_000, needed) / needed, 1.959964)
    low_before, high_before = wilson(0.2, fpc(100_000, needed - 1) / (needed - 1), 1.959964)
    assert (high - low) / 2 <= 0.05 < (high_before - low_before) / 2
    assert coded_needed(0.2, 1.0, 120, 40, 0.05) < 120  # a small population needs fewer, never more than all
    assert coded_needed(0.2, 0.5, 100_000, 40, 0.05) < needed  # a useful model needs fewer coded


def test_the_draws_order_depends_on_the_seed_and_the_replies_only():
    units = [("x", str(i)) for i in range(500)]
    order = random_order(units, 42)
    assert sorted(order) == sorted(units)
    assert random_order(list(reversed(units)), 42) == order  # not on the order they are read in
    assert random_order(units, 43) != order
    # every reply is as likely to be among the first 50: over seeds, each is picked about 10% of the time
    picked = np.zeros(500)
    for seed in range(400):
        for platform, reply_id in random_order(units, seed)[:50]:
            picked[int(reply_id)] += 1
    assert abs(picked.mean() / 400 - 0.1) < 1e-9 and picked.min() > 15 and picked.max() < 70
