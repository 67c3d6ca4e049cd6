"""How much narrower could a sample design make `estimate`'s intervals? An analytic bound study, before building any design.

For each labelled set's part, the replies are classified zero-shot through the real pipeline (as in
eval_estimate.py) and every reply's true codes are known. For each category the model's score is turned into a
prediction by a regression on the whole part (an oracle fit: the estimators a design would use fit it on the
sample, and do no better), and the standard error of the estimated share is computed in closed form under each
design, at equal n, from the residuals y - (a + b * score):

- simple: simple random sampling, the regression estimator (what `estimate` does today, to first order);
- stratified: 4 strata by the reply's total model uncertainty (sum over categories of p(1-p)), Neyman allocation
  from the scores' own uncertainty (what a design could do at draw time), at least 2 a stratum;
- stratified, oracle allocation: the same strata, Neyman allocation from the true residuals (its bound);
- stratified by each category's own score, oracle allocation: the best 4-stratum design for one category at
  a time (a sample serves all categories, so no single design gets all of these at once);
- active: inclusion probabilities proportional to the square root of that uncertainty, floored at a fifth of
  the mean, Horvitz-Thompson on the residuals (Poisson-sampling variance);
- active, oracle: inclusion probabilities proportional to each reply's root-mean-square residual over the
  categories (the best any probability-proportional design can do for all categories at once).

Printed: each design's standard error as a ratio of simple's (so its interval width ratio), per category's mean
and the worst category, at n = 20, 40 and 80. No draws: this bounds what the designs can give; it does not test
their intervals' coverage.

With `--method few-shot` the scores are few-shot's instead, fine-tuned on 8 replies a category drawn from the
dev rows (seed 0); on the dev part those replies are then among the ones measured, so use the test part.

    .venv/bin/python scripts/eval_designs.py [--part dev|test] [--sets lean,incident] [--method few-shot]

With `--synthetic`, the designs of designs_sim.py are instead simulated on synthetic populations whose true
codes are known (3 categories; models from useless to perfect, and a calibrated one whose scores are the
probabilities the codes were drawn with, where the uncertainty does say where the model errs), at n = 20, 40, 80:

    .venv/bin/python scripts/eval_designs.py --synthetic [--draws 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from designs_sim import compare, pps_probabilities, residuals, uncertainty  # noqa: E402
from eval_estimate import load, store_parts  # noqa: E402
from eval_quality import gold_draw, labelled_sets, read_items  # noqa: E402

from replies.classifier.run import classify  # noqa: E402
from replies.db import samples as sample_store  # noqa: E402
from replies.db.labels import set_gold  # noqa: E402

STRATA = 4
SIZES = (20, 40, 80)


def load_few_shot(folder: Path, dataset: Path, book, per_category: int = 8):
    """As eval_estimate's `load`, but classified few-shot on `per_category` dev replies a category (seed 0)."""
    database, truth, parts = store_parts(folder, dataset)
    chosen = gold_draw(book, truth, [k for k in truth if k not in test_ids(dataset)], per_category, 0)
    set_gold(database, [{"platform": "x", "id": k, "codebook": book.name, "reviewer": "eval",
                         "labels": sorted(truth[k])} for k in sorted(chosen)])
    classify(database, book, method="few-shot")
    return database, truth, parts


def test_ids(dataset: Path) -> set[str]:
    """The ids (row numbers, as `store_parts` gives them) of the set's test rows."""
    return {str(i) for i, item in enumerate(read_items(dataset)) if item.get("split") == "test"}


def scores_and_codes(database, book, truth, part):
    population, _ = sample_store.population(database, ("x", part))
    ids = [i for _, i in population]
    found = {(row[0], row[1]): row[2] for row in database.execute(
        "select id, category, score from predictions where codebook_hash = ?", [book.hash])}
    scores = np.array([[found[(i, c)] for c in book.ids] for i in ids], dtype=float)
    codes = np.array([[c in truth[i] for c in book.ids] for i in ids], dtype=float)
    return scores, codes


def srs_var(e: np.ndarray, n: int) -> np.ndarray:
    big_n = len(e)
    return (1 - n / big_n) * e.var(axis=0, ddof=1) / n


def neyman(sizes: np.ndarray, spreads: np.ndarray, n: int) -> np.ndarray:
    """Neyman allocation of n over strata, at least 2 each and at most the stratum, summing to n."""
    weights = sizes * np.maximum(spreads, 1e-9)
    alloc = np.maximum(2, np.round(n * weights / weights.sum())).astype(int)
    alloc = np.minimum(alloc, sizes)
    while alloc.sum() > n:
        alloc[np.argmax(np.where(alloc > 2, alloc / weights, -1))] -= 1
    while alloc.sum() < n:
        alloc[np.argmax(np.where(alloc < sizes, weights / alloc, -1))] += 1
    return alloc


def stratified_var(e: np.ndarray, strata: np.ndarray, alloc: np.ndarray) -> np.ndarray:
    big_n = len(e)
    total = np.zeros(e.shape[1])
    for h, n_h in enumerate(alloc):
        members = e[strata == h]
        n_big = len(members)
        total += (n_big / big_n) ** 2 * (1 - n_h / n_big) * members.var(axis=0, ddof=1) / n_h
    return total


def pps_var(e: np.ndarray, size_measure: np.ndarray, n: int) -> np.ndarray:
    """Horvitz-Thompson variance of the mean residual under Poisson sampling with pi proportional to size
    (capped at 1, the rest spread again), expected size n."""
    pi = pps_probabilities(size_measure.astype(float), n)
    return ((1 - pi) / pi)[:, None].T @ (e ** 2) / len(e) ** 2


MODELS = ("useless", "weak", "good", "nearly perfect", "perfect", "calibrated")


def synthetic(size: int, share: float, model: str, rng: np.random.Generator, categories: int = 3):
    """(scores, codes) of a population, N x K: as tests/test_estimate.py's populations, one per category, and a
    calibrated model: 70% of replies scored near 0 or 1 (a beta with mean `share`), 30% between 0.2 and 0.8,
    each code drawn with its score as its probability."""
    scores, codes = np.zeros((size, categories)), np.zeros((size, categories))
    for k in range(categories):
        if model == "calibrated":
            sure = rng.beta(0.3, 0.3 * (1 - share) / share, size)
            p = np.where(rng.random(size) < 0.7, sure, rng.uniform(0.2, 0.8, size))
            scores[:, k], codes[:, k] = p, (rng.random(size) < p)
            continue
        y = np.zeros(size)
        y[:max(1, round(share * size))] = 1
        rng.shuffle(y)
        noise = rng.normal(0, 1, size)
        scores[:, k] = {
            "useless": lambda: rng.random(size),
            "weak": lambda: 1 / (1 + np.exp(-(0.8 * (2 * y - 1) + noise))),
            "good": lambda: 1 / (1 + np.exp(-(2.0 * (2 * y - 1) + noise))),
            "nearly perfect": lambda: np.where(rng.random(size) < 0.02, 1 - y, y),
            "perfect": lambda: y.copy(),
        }[model]()
        codes[:, k] = y
    return scores, codes


def run_synthetic(draws: int) -> None:
    """Every design's coverage and width on each synthetic population, then a summary per design."""
    rows = []
    for number, (size, share, model, n) in enumerate(
            (size, share, model, n) for size in (300, 2000) for share in (0.05, 0.3) for model in MODELS
            for n in SIZES):
        figures = compare(*synthetic(size, share, model, np.random.default_rng(number)), n, draws, seed=number)
        rows.append(figures)
        base = figures["simple"].width
        print(f"N = {size}, share {share}, {model}, n = {n}: " + ", ".join(
            f"{design} {f.coverage:.3f}/{f.lowest:.3f} {f.width / base:.2f}x" for design, f in figures.items()),
            flush=True)
    for design in rows[0]:
        coverage = np.array([r[design].coverage for r in rows])
        ratio = np.array([r[design].width / r["simple"].width for r in rows])
        print(f"{design}: mean coverage {coverage.mean():.3f}, lowest pooled {coverage.min():.3f}, lowest "
              f"category {min(r[design].lowest for r in rows):.3f}, largest |bias| "
              f"{max(r[design].bias for r in rows):.3f}, width vs simple mean {ratio.mean():.2f}x "
              f"(from {ratio.min():.2f}x to {ratio.max():.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["test", "dev"], default="dev")
    parser.add_argument("--sets", default="lean,incident")
    parser.add_argument("--method", choices=["zero-shot", "few-shot"], default="zero-shot")
    parser.add_argument("--synthetic", action="store_true", help="simulate the designs on synthetic populations")
    parser.add_argument("--draws", type=int, default=1000, help="with --synthetic: samples per population")
    args = parser.parse_args()
    if args.synthetic:
        run_synthetic(args.draws)
        return
    for name, title, book, dataset in labelled_sets(args.sets):
        with tempfile.TemporaryDirectory() as tmp:
            loader = load_few_shot if args.method == "few-shot" else load
            database, truth, parts = loader(Path(tmp), dataset, book)
            part = args.part if args.part in parts else "all"
            scores, codes = scores_and_codes(database, book, truth, part)
        e = residuals(scores, codes)
        uncertain = uncertainty(scores)
        cuts = np.quantile(uncertain, np.linspace(0, 1, STRATA + 1)[1:-1])
        strata = np.searchsorted(cuts, uncertain, side="right")
        sizes = np.bincount(strata, minlength=STRATA)
        model_spread = np.array([np.sqrt((scores[strata == h] * (1 - scores[strata == h])).mean())
                                 for h in range(STRATA)])
        true_spread = np.array([np.sqrt((e[strata == h] ** 2).mean()) for h in range(STRATA)])
        rms = np.sqrt((e ** 2).mean(axis=1))
        own_strata = []  # each category's own score, in quartiles
        for j in range(codes.shape[1]):
            own_cuts = np.quantile(scores[:, j], np.linspace(0, 1, STRATA + 1)[1:-1])
            own_strata.append(np.searchsorted(own_cuts, scores[:, j], side="right"))
        print(f"{title}, {part} part, {args.method} scores: {len(codes)} replies, {len(book.ids)} categories; "
              "standard error against "
              "simple random sampling (mean over categories / worst category)")
        for n in (size for size in SIZES if size < len(codes) // 1.2):
            base = np.sqrt(srs_var(e, n))
            designs = {
                "stratified": stratified_var(e, strata, neyman(sizes, model_spread, n)),
                "stratified, oracle allocation": stratified_var(e, strata, neyman(sizes, true_spread, n)),
                "per category, oracle": np.array([
                    stratified_var(e[:, [j]], own, neyman(np.bincount(own, minlength=STRATA), np.array(
                        [np.sqrt((e[own == h, j] ** 2).mean()) for h in range(STRATA)]), n))[0]
                    for j, own in enumerate(own_strata)]),
                "active": pps_var(e, np.maximum(np.sqrt(uncertain), np.sqrt(uncertain).mean() / 5), n)[0],
                "active, oracle": pps_var(e, np.maximum(rms, 1e-6), n)[0],
            }
            line = ", ".join(f"{label} {np.mean(np.sqrt(v) / base):.2f} / {np.max(np.sqrt(v) / base):.2f}"
                             for label, v in designs.items())
            print(f"  n = {n}: {line}", flush=True)


if __name__ == "__main__":
    main()
