"""Quality figures: predictions against gold per category, and agreement between reviewers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlite_utils import Database

from replies.db import labels as store

from .codebook import Codebook


@dataclass
class Evaluation:
    rows: list[dict] = field(default_factory=list)   # category, precision, recall, f1, support
    macro: dict = field(default_factory=dict)
    compared: int = 0
    method: str | None = None
    cv_zero_shot: float | None = None
    cv_few_shot: float | None = None
    agreement: list[dict] = field(default_factory=list)  # category, kappa, replies (two reviewers)


def evaluate(database: Database, codebook: Codebook) -> Evaluation:
    from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

    result = Evaluation()
    run = store.last_classify_run(database, codebook.hash)
    if run:
        result.method, result.cv_zero_shot, result.cv_few_shot = run["method"], run["cv_zero_shot"], run["cv_few_shot"]
    reviewed = store.gold(database, codebook.name)
    predicted = store.predictions(database, codebook.hash)
    keys = [k for k in reviewed if k in predicted]
    result.compared = len(keys)
    if keys:
        truth = np.array([[int(c in reviewed[k]) for c in codebook.ids] for k in keys])
        guess = np.array([[predicted[k].get(c, (0, 0))[1] for c in codebook.ids] for k in keys])
        p, r, f, s = precision_recall_fscore_support(truth, guess, average=None, zero_division=0)
        result.rows = [{"category": c, "precision": round(float(p[i]), 3), "recall": round(float(r[i]), 3),
                        "f1": round(float(f[i]), 3), "support": int(s[i])} for i, c in enumerate(codebook.ids)]
        result.macro = {"category": "macro average", "precision": round(float(p.mean()), 3),
                        "recall": round(float(r.mean()), 3), "f1": round(float(f.mean()), 3),
                        "support": int(s.sum())}
    reviewers = store.gold_by_reviewer(database, codebook.name)
    names = sorted(reviewers)
    for a_index, a in enumerate(names):
        for b in names[a_index + 1:]:
            shared = sorted(set(reviewers[a]) & set(reviewers[b]))
            if not shared:
                continue
            for c in codebook.ids:
                x = [int(c in reviewers[a][k]) for k in shared]
                y = [int(c in reviewers[b][k]) for k in shared]
                kappa = 1.0 if x == y else float(cohen_kappa_score(x, y))
                result.agreement.append({"reviewers": f"{a} / {b}", "category": c, "kappa": round(kappa, 3),
                                         "replies": len(shared)})
    return result
