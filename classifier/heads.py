"""Per-category heads on sentence embeddings, trained on the codebook's own text and any gold labels.

A handful of labelled replies alone does worse than zero-shot; pooled with the
codebook's descriptions and examples they help. Each category gets a balanced
logistic regression, so its probability is a calibrated score in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replies.codebook import Codebook

C = 4.0  # inverse regularisation; chosen on the development set, not on any test data


@dataclass
class TrainingSet:
    """Texts with a 0/1 target per category; -1 means 'unknown for this category' (not trained on)."""

    texts: list[str]
    targets: np.ndarray  # shape (n, categories)
    weights: np.ndarray

    def __add__(self, other: "TrainingSet") -> "TrainingSet":
        return TrainingSet(self.texts + other.texts, np.vstack([self.targets, other.targets]),
                           np.concatenate([self.weights, other.weights]))


def codebook_rows(codebook: Codebook) -> TrainingSet:
    """Descriptions and examples (positive for their category, negative for the others) and
    counter-examples (negative for their own category only)."""
    k = len(codebook.categories)
    texts, targets = [], []
    for i, category in enumerate(codebook.categories):
        for text in category.texts():
            texts.append(text)
            targets.append(np.eye(k, dtype=int)[i])
        for text in category.counter_examples:
            row = -np.ones(k, dtype=int)
            row[i] = 0
            texts.append(text)
            targets.append(row)
    return TrainingSet(texts, np.array(targets), np.ones(len(texts)))


def gold_rows(codebook: Codebook, texts: list[str], labels: list[list[str]], weight: float = 1.0) -> TrainingSet:
    ids = codebook.ids
    targets = np.array([[int(c in set(row)) for c in ids] for row in labels], dtype=int).reshape(-1, len(ids))
    return TrainingSet(list(texts), targets, np.full(len(texts), weight))


class Heads:
    """One logistic regression per category."""

    def __init__(self, vectors: np.ndarray, training: TrainingSet):
        from sklearn.linear_model import LogisticRegression

        self.models = []
        for i in range(training.targets.shape[1]):
            known = training.targets[:, i] >= 0
            y = training.targets[known, i]
            if y.min() == y.max():  # a category with no positives or no negatives: constant score
                self.models.append(float(y[0]))
                continue
            model = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
            model.fit(vectors[known], y, sample_weight=training.weights[known])
            self.models.append(model)

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Scores in [0, 1], shape (n, categories)."""
        columns = []
        for model in self.models:
            if isinstance(model, float):
                columns.append(np.full(len(vectors), model))
            else:
                columns.append(model.predict_proba(vectors)[:, 1])
        return np.stack(columns, axis=1) if columns else np.zeros((len(vectors), 0))


def macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """F1 averaged over the categories that the truth or the predictions use at all: a category neither
    raises says nothing about the method and is left out rather than counted as 0."""
    from sklearn.metrics import f1_score
    used = (np.asarray(truth).sum(0) + np.asarray(predicted).sum(0)) > 0
    if not used.any():
        return 0.0
    per = f1_score(truth, predicted, average=None, zero_division=0)
    return float(np.asarray(per)[used].mean())
