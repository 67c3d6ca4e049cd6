"""Inter-coder reliability as content analysis reports it: Krippendorff's alpha for each category (nominal: a
reply is given the category or not) and pooled over the categories, on the replies two or more reviewers coded
independently, with a bootstrap interval over those replies.

Alpha itself comes from the `krippendorff` package (Castro's implementation of Krippendorff 2011); the final
decisions of an adjudicator are not a coder and are left out. Each code is read under the codebook version in
use, and a code that says nothing about a category (its version lacked it) is missing for that category."""

from __future__ import annotations

import numpy as np
from sqlite_utils import Database

from replies.codebook import Codebook
from replies.db import labels as label_store
from replies.db.schema import ADJUDICATED
from replies.db.versions import Reader

DRAWS = 1000  # bootstrap resamples of the coded replies


def _alpha(matrix: np.ndarray) -> float | None:
    """Nominal alpha of a coders × replies matrix of 1/0 (NaN: not coded); None where it is undefined (every
    code the same, or fewer than two codes on every reply)."""
    import krippendorff

    pairable = (~np.isnan(matrix)).sum(axis=0) >= 2
    values = matrix[:, pairable]
    present = values[~np.isnan(values)]
    if present.size == 0 or np.all(present == present[0]):
        return None
    value = krippendorff.alpha(reliability_data=values, level_of_measurement="nominal", value_domain=[0.0, 1.0])
    return None if value is None or np.isnan(value) else float(value)


def _interval(matrices: list[np.ndarray], level: float, rng: np.random.Generator) -> tuple[float | None, float | None]:
    """The percentile bootstrap interval of alpha, resampling the replies with replacement (a reply's codes in
    every category of `matrices` go together)."""
    n = matrices[0].shape[1]

    def resampled() -> float | None:
        columns = rng.integers(0, n, n)
        return _alpha(np.concatenate([m[:, columns] for m in matrices], axis=1))

    values = [a for a in (resampled() for _ in range(DRAWS)) if a is not None]
    if len(values) < DRAWS // 2:
        return None, None
    tail = 100 * (1 - level) / 2
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def reliability(db: Database, codebook: Codebook, *, sample: str | None = None, level: float = 0.95,
                seed: int = 0) -> dict | None:
    """Alpha per category and pooled with bootstrap intervals, on the replies (of `sample`'s members, with it)
    that two or more reviewers coded; None when no reply has two coders. Seeded: the same codes give the same
    intervals."""
    reader = Reader(db, codebook.hash, codebook.ids)
    by_reviewer = label_store.gold_by_reviewer(db, codebook.name, reader)
    coders = sorted(name for name in by_reviewer if name != ADJUDICATED)
    members = None
    if sample:
        members = {tuple(k) for k in db.execute("select u.platform, u.id from sample_units u join samples s on"
                                               " s.name = u.sample where u.sample = ? and u.position < s.size",
                                               [sample]).fetchall()}
    counts: dict[tuple[str, str], int] = {}
    for name in coders:
        for key in by_reviewer[name]:
            if members is None or key in members:
                counts[key] = counts.get(key, 0) + 1
    units = sorted(key for key, n in counts.items() if n >= 2)
    if not units:
        return None
    rng = np.random.default_rng(seed)
    matrices = []
    rows = []
    for cid in codebook.ids:
        matrix = np.full((len(coders), len(units)), np.nan)
        for i, name in enumerate(coders):
            for j, key in enumerate(units):
                reading = by_reviewer[name].get(key)
                if reading is not None and cid not in reading.unknown:
                    matrix[i, j] = float(cid in reading.labels)
        matrices.append(matrix)
        alpha = _alpha(matrix)
        low, high = _interval([matrix], level, rng) if alpha is not None else (None, None)
        rows.append({"category": cid, "alpha": alpha, "low": low, "high": high,
                     "replies": int(((~np.isnan(matrix)).sum(axis=0) >= 2).sum())})
    alpha = _alpha(np.concatenate(matrices, axis=1))  # pooled: each (reply, category) a unit
    low, high = _interval(matrices, level, rng) if alpha is not None else (None, None)
    who = {name: sum(1 for key in units if key in by_reviewer[name]) for name in coders}
    return {"replies": len(units), "coders": {name: n for name, n in who.items() if n}, "level": level,
            "categories": rows, "pooled": {"alpha": alpha, "low": low, "high": high}, "sample": sample}
