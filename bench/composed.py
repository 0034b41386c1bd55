"""Bench embedder: real vectors for the sentence pool, composed vectors for recombined texts.

Scale benchmarks measure what the store, BM25 and the answer path cost as the corpus grows; embedding
100k chunks on 2 CPU cores would take hours and measure nothing new (bench/run.py measures embedding
throughput on real text). So a recombined text gets the normalised mean of its sentences' real
vectors; a query still goes through the real model."""

from __future__ import annotations

import hashlib

import numpy as np

from assistant.text import split_sentences


class ComposedEmbedder:
    def __init__(self, real, pool: list[str]):
        self.real = real
        self.cache = dict(zip(pool, real.encode(pool)))
        self.dimension = real.dimension

    def _vector(self, text: str) -> np.ndarray:
        if text in self.cache:
            return self.cache[text]
        parts = []
        for piece in split_sentences(" ".join(text.split())):
            vec = self.cache.get(piece)
            if vec is None and ": " in piece:
                vec = self.cache.get(piece.split(": ", 1)[1])
            if vec is not None:
                parts.append(vec)
        if not parts:  # headings and other short texts: a fixed pseudo-random direction per text
            seed = int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)
            parts.append(np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32))
        vec = np.mean(parts, axis=0)
        return (vec / (np.linalg.norm(vec) or 1.0)).astype(np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        return np.stack([self._vector(t) for t in texts])
