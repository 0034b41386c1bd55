"""BM25: rank_bm25's Okapi weights laid out once as a sparse term x chunk matrix, so a query costs a
few sparse row sums instead of a Python loop over every chunk."""

from __future__ import annotations

import numpy as np


class SparseBM25:
    """Scores equal rank_bm25.BM25Okapi.get_scores (same idf, epsilon floor, k1 and b); memory is one
    float32 per (term, chunk) pair that occurs, instead of a dict per chunk."""

    def __init__(self, corpus: list[list[str]], k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25):
        from rank_bm25 import BM25Okapi
        from scipy.sparse import csr_matrix

        okapi = BM25Okapi(corpus, k1=k1, b=b, epsilon=epsilon)
        self.vocab = {term: i for i, term in enumerate(okapi.idf)}
        rows, cols, vals = [], [], []
        for doc, freqs in enumerate(okapi.doc_freqs):
            norm = k1 * (1 - b + b * okapi.doc_len[doc] / okapi.avgdl)
            for term, freq in freqs.items():
                rows.append(self.vocab[term])
                cols.append(doc)
                vals.append(okapi.idf[term] * freq * (k1 + 1) / (freq + norm))
        self.size = len(corpus)
        self.matrix = csr_matrix((np.asarray(vals, np.float32), (rows, cols)),
                                 shape=(len(self.vocab), self.size), dtype=np.float32)

    def get_scores(self, terms: list[str]) -> np.ndarray:
        ids = [self.vocab[t] for t in terms if t in self.vocab]
        if not ids:
            return np.zeros(self.size, np.float32)
        return np.asarray(self.matrix[ids].sum(axis=0)).ravel()

    @property
    def nbytes(self) -> int:
        m = self.matrix
        return m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
