"""Quality figures: predictions against gold per category, and agreement between reviewers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlite_utils import Database

from replies.codebook import Codebook
from replies.db import labels as label_store
from replies.db.schema import ADJUDICATED
from replies.db.versions import Reader, differences

SMALL_SAMPLE = 30  # below this many replies, every figure is said to be rough


def small_sample_note(replies: int) -> str | None:
    """What to say beside figures measured on `replies` replies: None from SMALL_SAMPLE up."""
    if replies >= SMALL_SAMPLE:
        return None
    return (f"only {replies} repl{'y' if replies == 1 else 'ies'}: these figures can swing widely with each reply "
            f"coded; read them as rough until at least {SMALL_SAMPLE} are")


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def scores(truth: list[int], guess: list[int]) -> dict:
    """Precision, recall and F1 of one category's 1/0 decisions against the truth; None ("n/a") where a figure
    has nothing to stand on: precision when nothing was predicted, recall when nothing is true, F1 when both."""
    hits = sum(1 for t, g in zip(truth, guess) if t and g)
    precision, recall = _ratio(hits, sum(guess)), _ratio(hits, sum(truth))
    if precision is None and recall is None:
        f1 = None
    elif not hits:
        f1 = 0.0
    else:
        f1 = round(2 * hits / (sum(guess) + sum(truth)), 3)
    return {"precision": precision, "recall": recall, "f1": f1}


def macro(rows: list[dict], metrics=("precision", "recall", "f1")) -> dict:
    """The mean of each metric over the categories where it is defined: a category nobody coded or predicted
    says nothing about the model and is left out, not counted as 0."""
    out = {}
    for metric in metrics:
        values = [row[metric] for row in rows if row[metric] is not None]
        out[metric] = round(sum(values) / len(values), 3) if values else None
    return out


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
    versions: list = field(default_factory=list)  # other codebook versions codes were given under (Difference)

    @property
    def note(self) -> str | None:
        """The small-sample warning for the model's figures, if any."""
        return small_sample_note(self.compared) if self.compared else None


def _kappa(a: list[int], b: list[int]) -> float | None:
    """Cohen's kappa of two coders' 1/0 decisions on the same replies; None ("n/a") where neither coder ever
    gave the category (agreeing that nothing applies says nothing about the category), 1 where they agree on
    every reply otherwise."""
    from sklearn.metrics import cohen_kappa_score

    if not any(a) and not any(b):
        return None
    return 1.0 if a == b else round(float(np.nan_to_num(cohen_kappa_score(a, b))), 3)


def evaluate(database: Database, codebook: Codebook) -> Evaluation:

    result = Evaluation()
    run = label_store.last_classify_run(database, codebook.hash)
    if run:
        result.method, result.cv_zero_shot, result.cv_few_shot = run["method"], run["cv_zero_shot"], run["cv_few_shot"]
    # codes are read under the version in use: a category a code's own version lacked is left out for it
    reader = Reader(database, codebook.hash, codebook.ids)
    result.versions = differences(database, codebook.name, codebook.hash, codebook.ids)
    reviewed = label_store.gold_readings(database, codebook.name, reader)
    predicted = label_store.predictions(database, codebook.hash)
    keys = [k for k in reviewed if k in predicted]
    result.compared = len(keys)
    if keys:
        for c in codebook.ids:
            known = [k for k in keys if c not in reviewed[k].unknown]
            truth = [int(c in reviewed[k].labels) for k in known]
            guess = [int(predicted[k].get(c, (0, 0))[1]) for k in known]
            result.rows.append({"category": c, **scores(truth, guess), "support": sum(truth)})
        result.macro = {"category": "macro average", **macro(result.rows),
                        "support": sum(row["support"] for row in result.rows)}
    reviewers = label_store.gold_by_reviewer(database, codebook.name, reader)
    names = sorted(set(reviewers) - {ADJUDICATED})  # a final decision is not a third independent reviewer
    for a_index, a in enumerate(names):
        for b in names[a_index + 1:]:
            shared = sorted(set(reviewers[a]) & set(reviewers[b]))
            if not shared:
                continue
            for c in codebook.ids:
                both = [k for k in shared if c not in reviewers[a][k].unknown | reviewers[b][k].unknown]
                if not both:
                    continue
                x = [int(c in reviewers[a][k].labels) for k in both]
                y = [int(c in reviewers[b][k].labels) for k in both]
                result.agreement.append({"reviewers": f"{a} / {b}", "category": c, "kappa": _kappa(x, y),
                                         "replies": len(both)})
    result.coders = coder_agreement(database, codebook, reviewers)
    return result


def coder_agreement(database: Database, codebook: Codebook, reviewers: dict[str, dict]) -> list[dict]:
    """Each stored coder (the language model, the embedding classifier: every method and model in
    `coder_labels`) and each other reviewer, against each reviewer's labels as the truth, category by
    category: precision, recall, F1 and Cohen's kappa on the replies both coded, then their macro average.
    A researcher sees whether a model agrees with them as well as their colleagues do. `reviewers` holds each
    reviewer's codes as `versions.Reading`s; a category a code's version lacked is left out for that code."""

    ids = codebook.ids
    coders = {f"{method} {model}".strip(): labels
              for (method, model), labels in label_store.coder_labels(database, codebook.hash).items()}
    rows: list[dict] = []
    names = sorted(reviewers)
    for reviewer in names:
        truth = reviewers[reviewer]
        others = dict(coders)
        for colleague in names:
            if colleague not in (reviewer, ADJUDICATED):
                others[f"{colleague} (reviewer)"] = {k: {c: int(c in v.labels) for c in ids if c not in v.unknown}
                                                     for k, v in reviewers[colleague].items()}
        for name, labels in others.items():
            shared = sorted(k for k in truth if k in labels)
            if not shared:
                continue
            per = []
            for c in ids:
                known = [k for k in shared if c not in truth[k].unknown and c in labels[k]]
                y = [int(c in truth[k].labels) for k in known]
                x = [int(labels[k][c]) for k in known]
                per.append({"category": c, "coder": name, "reviewer": reviewer, **scores(y, x),
                            "kappa": _kappa(y, x), "replies": len(shared)})
            rows += per
            rows.append({"category": "macro average", "coder": name, "reviewer": reviewer,
                         **macro(per, ("precision", "recall", "f1", "kappa")), "replies": len(shared)})
    order = {c: i for i, c in enumerate([*ids, "macro average"])}
    return sorted(rows, key=lambda row: (order[row["category"]], row["reviewer"], row["coder"]))
