"""Quality figures: predictions against gold per category, and agreement between reviewers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlite_utils import Database

from replies.codebook import Codebook
from replies.db import labels as store
from replies.db.schema import ADJUDICATED


@dataclass
class Evaluation:
    rows: list[dict] = field(default_factory=list)   # category, precision, recall, f1, support
    macro: dict = field(default_factory=dict)
    compared: int = 0
    method: str | None = None
    cv_zero_shot: float | None = None
    cv_few_shot: float | None = None
    agreement: list[dict] = field(default_factory=list)  # category, kappa, replies (two reviewers)
    coders: list[dict] = field(default_factory=list)  # every coder against every reviewer, per category


def _kappa(a: list[int], b: list[int]) -> float:
    """Cohen's kappa of two coders' 1/0 decisions on the same replies; 1 where they agree on every one (the
    statistic is undefined when both give one answer throughout)."""
    from sklearn.metrics import cohen_kappa_score

    return 1.0 if a == b else float(np.nan_to_num(cohen_kappa_score(a, b)))


def evaluate(database: Database, codebook: Codebook) -> Evaluation:
    from sklearn.metrics import precision_recall_fscore_support

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
    names = sorted(set(reviewers) - {ADJUDICATED})  # a final decision is not a third independent reviewer
    for a_index, a in enumerate(names):
        for b in names[a_index + 1:]:
            shared = sorted(set(reviewers[a]) & set(reviewers[b]))
            if not shared:
                continue
            for c in codebook.ids:
                x = [int(c in reviewers[a][k]) for k in shared]
                y = [int(c in reviewers[b][k]) for k in shared]
                kappa = _kappa(x, y)
                result.agreement.append({"reviewers": f"{a} / {b}", "category": c, "kappa": round(kappa, 3),
                                         "replies": len(shared)})
    result.coders = coder_agreement(database, codebook, reviewers)
    return result


def coder_agreement(database: Database, codebook: Codebook,
                    reviewers: dict[str, dict[tuple[str, str], list[str]]]) -> list[dict]:
    """Each stored coder (the language model, the embedding classifier: every method and model in
    `coder_labels`) and each other reviewer, against each reviewer's labels as the truth, category by
    category: precision, recall, F1 and Cohen's kappa on the replies both coded, then their macro average.
    A researcher sees whether a model agrees with them as well as their colleagues do."""
    from sklearn.metrics import precision_recall_fscore_support

    ids = codebook.ids
    coders = {f"{method} {model}".strip(): labels
              for (method, model), labels in store.coder_labels(database, codebook.hash).items()}
    rows: list[dict] = []
    names = sorted(reviewers)
    for reviewer in names:
        truth = reviewers[reviewer]
        others = dict(coders)
        for colleague in names:
            if colleague not in (reviewer, ADJUDICATED):
                others[f"{colleague} (reviewer)"] = {k: {c: int(c in v) for c in ids}
                                                     for k, v in reviewers[colleague].items()}
        for name, labels in others.items():
            shared = sorted(k for k in truth if k in labels)
            if not shared:
                continue
            per = []
            for c in ids:
                y = [int(c in truth[k]) for k in shared]
                x = [int(labels[k].get(c, 0)) for k in shared]
                p, r, f, _ = precision_recall_fscore_support(y, x, average="binary", zero_division=0)
                kappa = _kappa(y, x)
                per.append({"category": c, "coder": name, "reviewer": reviewer, "precision": round(float(p), 3),
                            "recall": round(float(r), 3), "f1": round(float(f), 3), "kappa": round(kappa, 3),
                            "replies": len(shared)})
            rows += per
            rows.append({"category": "macro average", "coder": name, "reviewer": reviewer,
                         **{m: round(sum(row[m] for row in per) / len(per), 3)
                            for m in ("precision", "recall", "f1", "kappa")}, "replies": len(shared)})
    order = {c: i for i, c in enumerate([*ids, "macro average"])}
    return sorted(rows, key=lambda row: (order[row["category"]], row["reviewer"], row["coder"]))
