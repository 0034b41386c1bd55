"""Test doubles that stand in for the slow parts: a deterministic embedder that loads no model."""

from __future__ import annotations

import zlib

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.text import tokens


def _bucket(feature: str, dim: int) -> int:
    # crc32, not hash(): Python salts str hashes per process, and vectors are stored across runs.
    return 1 + zlib.crc32(feature.encode("utf-8")) % (dim - 1)


class HashEmbedder(Embeddings):
    """Hashed bag of stemmed content words (assistant.text.tokens), plus a little weight for each
    word's character trigrams so related forms ("restore", "restored", "restoring") land near each
    other. Rows are float32 and L2-normalised, like assistant.embeddings.Embedder's.

    1024 buckets rather than a model's 384: with few buckets, two unrelated short texts often share
    one by chance, and a single shared bucket already gives them the similarity (~0.3) of a real match.

    Dimension 0 is reserved for a fixed tiny component, so an empty text (or one of stopwords only)
    still has a unit vector and cosine similarity stays defined; it adds next to nothing to the
    similarity of two real texts.

    `calls` counts the texts encoded (not the calls), `batches` the calls, so tests can assert that
    nothing was embedded twice."""

    def __init__(self, dim: int = 1024, trigram_weight: float = 0.15, bias: float = 1e-3):
        if dim < 16:
            raise ValueError("dim must be at least 16")
        self.dim, self.trigram_weight, self.bias = dim, trigram_weight, bias
        self.calls = 0
        self.batches = 0

    @property
    def dimension(self) -> int:
        return self.dim

    def vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float64)
        vec[0] = self.bias
        for token in tokens(text):
            vec[_bucket("w:" + token, self.dim)] += 1.0
            padded = f"#{token}#"
            grams = [padded[i:i + 3] for i in range(len(padded) - 2)]
            for gram in grams:
                vec[_bucket("c:" + gram, self.dim)] += self.trigram_weight / len(grams)
        return (vec / np.linalg.norm(vec)).astype(np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        self.batches += 1
        self.calls += len(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.vector(t) for t in texts])

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
