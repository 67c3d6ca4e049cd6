"""The NLI method: transformers' zero-shot-classification pipeline with a user's MNLI model.

Each reply is paired with one hypothesis per category ("This reply is about
<label>: <description>"), so it costs one cross-encoder pass per category.
"""

from __future__ import annotations

import numpy as np

from replies.codebook import Codebook

from .errors import ModelError
from .model import offline, pick_device, resolve

TEMPLATE = "This reply is about {}."


class NliScorer:
    def __init__(self, model: str, codebook: Codebook, device: str | None = None):
        if not model:
            raise ModelError("--method nli needs --model: a local folder or cached hub name of an MNLI model")
        self.name, source = resolve(model)
        try:
            import transformers
            from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
            transformers.utils.logging.set_verbosity_error()
            transformers.utils.logging.disable_progress_bar()
            device_name = pick_device(device)
            self.pipe = pipeline("zero-shot-classification",
                                 model=AutoModelForSequenceClassification.from_pretrained(
                                     source, local_files_only=offline()),
                                 tokenizer=AutoTokenizer.from_pretrained(source, local_files_only=offline()),
                                 device=0 if device_name == "cuda" else -1)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot use {model!r} for NLI: {str(exc).splitlines()[0]}") from None
        self.labels = [c.label for c in codebook.categories]

    def scores(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        results = self.pipe(list(texts), candidate_labels=self.labels, hypothesis_template=TEMPLATE,
                            multi_label=True, batch_size=batch_size)
        if isinstance(results, dict):
            results = [results]
        position = {label: i for i, label in enumerate(self.labels)}
        for row, result in enumerate(results):
            for label, score in zip(result["labels"], result["scores"]):
                out[row, position[label]] = score
        return out
