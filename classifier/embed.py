"""Embeddings through the database cache: only texts never seen with this model reach the model."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from sqlite_utils import Database

from replies.db import labels as store

from .model import BACKEND_KEYS, Encoder, resolve, shared_encoder


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class CachedEmbedder:
    """Embeds texts, loading the model only when a text is missing from the cache."""

    def __init__(self, database: Database, model: str | None = None, *, cache_key: str | None = None,
                 device: str | None = None, encoder: Encoder | None = None, backend: str = "fp32"):
        self.database = database
        self.model = model
        self.base_name = resolve(model)[0] if cache_key is None else cache_key
        self.key = cache_key or self.base_name + BACKEND_KEYS.get(backend, f"+{backend}")
        self.device = device
        self.backend = backend
        self._encoder = encoder
        self.computed = 0

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = shared_encoder(self.model, device=self.device, backend=self.backend)
        return self._encoder

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        hashes = [text_hash(t) for t in texts]
        found = store.cached_embeddings(self.database, self.key, hashes)
        missing = {h: t for h, t in zip(hashes, texts) if h not in found}
        if missing:
            todo = list(missing.items())
            vectors = self.encoder.encode([t for _, t in todo], batch_size)
            fresh = {h: v for (h, _), v in zip(todo, vectors)}
            store.store_embeddings(self.database, self.key, fresh)
            found.update(fresh)
            self.computed += len(fresh)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[h] for h in hashes])
