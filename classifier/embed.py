"""Embeddings through the database cache: only texts never seen with this model reach the model."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np
from sqlite_utils import Database

from replies.db import labels as label_store

from .model import BACKEND_KEYS, Encoder, resolve, shared_encoder


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


Progress = Callable[[str, int, int], None]  # (stage, done, total), as `classify` reports


class CachedEmbedder:
    """Embeds texts, loading the model only when a text is missing from the cache. `progress` hears of the
    model's loading and of each batch embedded, so a caller can show them from the first second."""

    def __init__(self, database: Database, model: str | None = None, *, cache_key: str | None = None,
                 device: str | None = None, encoder: Encoder | None = None, backend: str = "fp32",
                 progress: Progress | None = None):
        self.database = database
        self.model = model
        self.base_name = resolve(model)[0] if cache_key is None else cache_key
        self.key = cache_key or self.base_name + BACKEND_KEYS.get(backend, f"+{backend}")
        self.device = device
        self.backend = backend
        self._encoder = encoder
        self.computed = 0
        self.progress = progress or (lambda stage, done, total: None)

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self.progress("loading the model", 0, 1)  # seconds: torch, the weights, their checksum
            self._encoder = shared_encoder(self.model, device=self.device, backend=self.backend)
            self.progress("loading the model", 1, 1)
        return self._encoder

    def missing(self, texts: Sequence[str]) -> int:
        """How many of `texts` (distinct) are not cached, so would reach the model."""
        hashes = {text_hash(t) for t in texts}
        return len(hashes) - len(label_store.cached_hashes(self.database, self.key, list(hashes)))

    def embed(self, texts: Sequence[str], batch_size: int = 64, *, stage: str | None = None,
              on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Unit vectors for `texts`, in order. Texts not cached are embedded in batches, each reported as
        `progress(stage, done, total)` where `stage` is given, and to `on_batch(done)`."""
        hashes = [text_hash(t) for t in texts]
        found = label_store.cached_embeddings(self.database, self.key, hashes)
        missing = {h: t for h, t in zip(hashes, texts) if h not in found}
        if missing:
            todo = list(missing.items())
            encoder = self.encoder
            fresh = {}
            if stage:
                self.progress(stage, 0, len(todo))
            for index, vectors in encoder.encode_batches([t for _, t in todo], batch_size):
                fresh.update((todo[i][0], v) for i, v in zip(index, vectors))
                if stage:
                    self.progress(stage, len(fresh), len(todo))
                if on_batch:
                    on_batch(len(fresh))
            label_store.store_embeddings(self.database, self.key, fresh)
            found.update(fresh)
            self.computed += len(fresh)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[h] for h in hashes])
