"""BM25: Okapi weights (rank_bm25's formula: idf with its epsilon floor, k1, b) laid out once as a sparse
term x chunk matrix (compressed rows, numpy only), built in one streaming pass, so a query costs a few
row sums."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable

import numpy as np


class SparseBM25:
    """Scores equal rank_bm25.BM25Okapi.get_scores (tests check it). rank_bm25 keeps a dict per
    chunk and loops over every chunk in Python per query term; at 100k chunks that is hundreds of
    MB and tens of ms. Here memory is 12 bytes per distinct (term, chunk) pair while building and
    8 bytes after, and the corpus is never held in memory at once."""

    def __init__(self, corpus: Iterable[list[str]], k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25):
        self.vocab: dict[str, int] = {}
        rows, cols, freqs, lengths, df = array("i"), array("i"), array("f"), array("i"), array("i")
        for doc, terms in enumerate(corpus):
            lengths.append(len(terms))
            for term, freq in Counter(terms).items():
                i = self.vocab.setdefault(term, len(self.vocab))
                if i == len(df):
                    df.append(0)
                df[i] += 1
                rows.append(i)
                cols.append(doc)
                freqs.append(freq)
        self.size = len(lengths)
        if not self.size:
            self.df = np.zeros(0, np.int32)
            self.data, self.indices, self.indptr = np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(1, np.int64)
            return
        self.df = np.frombuffer(df, dtype=np.int32).copy()
        n = self.df.astype(np.float64)
        idf = np.log(self.size - n + 0.5) - np.log(n + 0.5)
        idf[idf < 0] = epsilon * (idf.sum() / len(idf)) if len(idf) else 0.0
        doc_len = np.frombuffer(lengths, dtype=np.int32).astype(np.float64)
        norm = k1 * (1 - b + b * doc_len / max(doc_len.mean(), 1e-9))
        r, c = np.frombuffer(rows, dtype=np.int32), np.frombuffer(cols, dtype=np.int32)
        f = np.frombuffer(freqs, dtype=np.float32).astype(np.float64)
        weights = (idf[r] * f * (k1 + 1) / (f + norm[c])).astype(np.float32)
        # Compressed rows (term -> the chunks holding it), laid out with numpy alone: scipy's import
        # was a twentieth of a cold `assistant ask`.
        order = np.argsort(r, kind="stable")
        self.data, self.indices = weights[order], c[order].astype(np.int32)
        self.indptr = np.zeros(len(self.vocab) + 1, np.int64)
        np.cumsum(np.bincount(r, minlength=len(self.vocab)), out=self.indptr[1:])
        del rows, cols, freqs

    @classmethod
    def from_arrays(cls, terms: list[str], size: int, df, data, indices, indptr) -> "SparseBM25":
        """The matrix as `arrays` gave it (assistant/snapshot.py keeps it per index version)."""
        bm25 = cls.__new__(cls)
        bm25.vocab = dict(zip(terms, range(len(terms))))
        bm25.size, bm25.df, bm25.data, bm25.indices, bm25.indptr = size, df, data, indices, indptr
        return bm25

    def arrays(self) -> dict[str, np.ndarray]:
        """The matrix and document frequencies; the terms, in row order, are `list(self.vocab)`."""
        return {"df": self.df, "data": self.data, "indices": self.indices, "indptr": self.indptr}

    def chunks_with(self, term: str) -> int:
        """In how many chunks a stemmed term occurs (0 for a term the corpus never uses)."""
        i = self.vocab.get(term)
        return int(self.df[i]) if i is not None else 0

    def holding(self, term: str) -> np.ndarray:
        """The chunks (row numbers) a stemmed term occurs in."""
        i = self.vocab.get(term)
        return self.indices[self.indptr[i]:self.indptr[i + 1]] if i is not None else self.indices[:0]

    def get_scores(self, terms: list[str]) -> np.ndarray:
        scores = np.zeros(self.size, np.float32)
        for t in terms:  # a repeated query term counts again, as in rank_bm25
            i = self.vocab.get(t)
            if i is not None:
                lo, hi = self.indptr[i], self.indptr[i + 1]
                scores[self.indices[lo:hi]] += self.data[lo:hi]  # one chunk appears once per term row
        return scores

    @property
    def nbytes(self) -> int:
        return self.data.nbytes + self.indices.nbytes + self.indptr.nbytes
