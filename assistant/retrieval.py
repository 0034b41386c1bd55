"""Retrieve: hybrid search, dense (Chroma) plus BM25 over the same chunks, fused by reciprocal rank."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.errors import UserError
from assistant.text import tokens
from assistant.types import Hit, Retrieval


@dataclass(frozen=True)
class _Meta:
    source: str
    title: str
    section: str
    start: int
    end: int
    kind: str


class HybridRetriever:
    """Dense and BM25 candidates fused with RRF. The BM25 index is built once per index generation,
    never per query, and rebuilt only when the store's active generation changes."""

    def __init__(self, store, embedder, k: int = 5, candidates: int = 20, rrf_k: int = 60):
        self.store, self.embedder = store, embedder
        self.k, self.candidates, self.rrf_k = k, candidates, rrf_k
        self.generation: str | None = None
        self._bm25 = None

    def refresh(self) -> None:
        generation = self.store.active_generation()
        if generation is None:
            raise UserError("the index is empty: run `assistant index` first")
        if generation == self.generation:
            return
        from assistant.bm25 import SparseBM25

        ids, docs, metas = self.store.all_chunks(generation)
        self.ids = ids
        self.texts = docs
        self.metas = [_Meta(m.get("source", ""), m.get("title", ""), m.get("section", ""),
                            int(m.get("start", 0)), int(m.get("end", 0)), m.get("kind", "text")) for m in metas]
        self.position = {cid: i for i, cid in enumerate(ids)}
        corpus = [tokens(f"{m.section} {d}") or ["\x00"] for m, d in zip(self.metas, docs)]
        self._bm25 = SparseBM25(corpus) if corpus else None
        self._vocabulary = set(self._bm25.vocab) if self._bm25 else set()
        titles = {m.title for m in self.metas} | {"Introduction", "Conclusion", "Summary", "Overview"}
        self._topics = list(dict.fromkeys(m.section.split(" > ")[0] for m in self.metas
                                          if m.section and m.section.split(" > ")[0] not in titles))
        self.chunks, self.units = self.store.collections(generation)
        self.generation = generation

    def vocabulary(self) -> set[str]:
        """Every stemmed term of the indexed chunks (answerers refuse names the corpus never uses)."""
        self.refresh()
        return self._vocabulary

    def topics(self) -> list[str]:
        """Top-level sections, in corpus order: what a refusal tells the user the sources cover."""
        self.refresh()
        return self._topics

    def lookup(self, ids) -> list[Hit]:
        """Stored chunks by id, for evaluations and front ends that hold only ids."""
        self.refresh()
        out = []
        for cid in ids:
            i = self.position.get(cid)
            if i is not None:
                m = self.metas[i]
                out.append(Hit(cid, m.source, m.title, m.section, self.texts[i], 0.0, start=m.start, end=m.end,
                               kind=m.kind))
        return out

    def embed_query(self, query: str) -> np.ndarray:
        return self.embedder.encode([query])[0]

    def dense(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        got = self.store._call(self.chunks.query, query_embeddings=[vector], n_results=min(n, len(self.ids)),
                               include=["distances"])
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(got["ids"][0], got["distances"][0])]

    def dense_units(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """Chunks ranked by their best sentence: a one-line table cell or list item is found even when
        the rest of its chunk is about something else."""
        got = self.store._call(self.units.query, query_embeddings=[vector], n_results=n, include=["distances"])
        best: dict[str, float] = {}
        for uid, dist in zip(got["ids"][0], got["distances"][0]):
            cid = uid.rsplit(":", 1)[0]
            best.setdefault(cid, 1.0 - float(dist))
        return [(cid, sim) for cid, sim in best.items() if cid in self.position]

    def sparse(self, query: str, n: int) -> list[tuple[str, float]]:
        terms = tokens(query)
        if not terms or self._bm25 is None:
            return []
        scores = self._bm25.get_scores(terms)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def retrieve(self, question: str, query: str | None = None, k: int | None = None) -> Retrieval:
        """Best-first hits for `query` (defaults to the question), with the query vector kept."""
        self.refresh()
        query = query or question
        k = k or self.k
        if not self.ids:
            return Retrieval(question, query, ())
        vector = self.embed_query(query)
        n = max(self.candidates, k)
        dense, sparse = self.dense(vector, n), self.sparse(query, n)
        units = self.dense_units(vector, 3 * n)
        fused: dict[str, float] = {}
        for ranked in (dense, units, sparse):
            for rank, (cid, _) in enumerate(ranked):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        dense_score, bm25_score = dict(dense), dict(sparse)
        best = sorted(fused, key=lambda c: (-fused[c], -dense_score.get(c, -1.0)))[:k]
        hits = []
        for cid in best:
            i = self.position[cid]
            m = self.metas[i]
            hits.append(Hit(cid, m.source, m.title, m.section, self.texts[i], fused[cid],
                            dense_score.get(cid), bm25_score.get(cid), m.start, m.end, m.kind))
        return Retrieval(question, query, tuple(hits), tuple(float(x) for x in vector))
