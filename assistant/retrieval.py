"""Retrieve: hybrid search, dense (Chroma) plus BM25 over the same chunks, fused by reciprocal rank."""

from __future__ import annotations

import time

import numpy as np

from assistant.errors import UserError
from assistant.text import tokens
from assistant.types import Hit, Retrieval


def _hit(cid: str, text: str, meta: dict, score: float = 0.0, dense=None, bm25=None) -> Hit:
    return Hit(cid, meta.get("source", ""), meta.get("title", ""), meta.get("section", ""), text, score, dense,
               bm25, int(meta.get("start", 0)), int(meta.get("end", 0)), meta.get("kind", "text"))


class HybridRetriever:
    """Dense and BM25 candidates fused with RRF. The BM25 index is built once per index generation,
    never per query, and rebuilt only when the store's active generation changes. Chunk texts stay
    in the store: the process keeps only ids, the BM25 matrix and the vocabulary."""

    def __init__(self, store, embedder, k: int = 5, candidates: int = 20, rrf_k: int = 60):
        self.store, self.embedder = store, embedder
        self.k, self.candidates, self.rrf_k = k, candidates, rrf_k
        self.generation: str | None = None
        self._bm25 = None
        self._checked = 0.0

    def refresh(self, max_age_s: float = 1.0) -> None:
        """Follow the store's active generation: a re-index is picked up within `max_age_s`, without
        asking the store on every call of the hot path."""
        now = time.monotonic()
        if self.generation is not None and now - self._checked < max_age_s:
            return
        self._checked = now
        generation = self.store.active_generation()
        if generation is None:
            raise UserError("the index is empty: run `assistant index` first")
        if generation == self.generation:
            return
        from assistant.bm25 import SparseBM25

        ids: list[str] = []
        titles, topics = {"Introduction", "Conclusion", "Summary", "Overview"}, {}

        def corpus():
            for batch_ids, docs, metas in self.store.iter_chunks(generation):
                for cid, doc, meta in zip(batch_ids, docs, metas):
                    ids.append(cid)
                    section = meta.get("section", "")
                    titles.add(meta.get("title", ""))
                    if section:
                        topics.setdefault(section.split(" > ")[0], None)
                    yield tokens(f"{section} {doc}") or ["\x00"]

        self._bm25 = SparseBM25(corpus())
        self.ids = ids
        self._vocabulary = set(self._bm25.vocab)
        self._topics = [t for t in topics if t not in titles]
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
        """Stored chunks by id, in the order asked, for evaluations and front ends that hold only ids."""
        self.refresh()
        ids = list(ids)
        if not ids:
            return []
        got = self.store.call(self.chunks.get, ids=ids, include=["documents", "metadatas"])
        found = {cid: (doc, meta) for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])}
        return [_hit(cid, *found[cid]) for cid in ids if cid in found]

    def embed_query(self, query: str) -> np.ndarray:
        return self.embedder.encode([query])[0]

    def dense(self, vector: np.ndarray, n: int) -> tuple[list[tuple[str, float]], dict]:
        """Best chunks by vector, with their texts and metadata (saves a read for most hits)."""
        got = self.store.call(self.chunks.query, query_embeddings=[vector], n_results=min(n, len(self.ids)),
                               include=["distances", "documents", "metadatas"])
        ranked = [(cid, 1.0 - float(dist)) for cid, dist in zip(got["ids"][0], got["distances"][0])]
        return ranked, {cid: (doc, meta) for cid, doc, meta in
                        zip(got["ids"][0], got["documents"][0], got["metadatas"][0])}

    def dense_units(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """Chunks ranked by their best sentence: a one-line table cell or list item is found even when
        the rest of its chunk is about something else."""
        got = self.store.call(self.units.query, query_embeddings=[vector], n_results=n, include=["distances"])
        best: dict[str, float] = {}
        for uid, dist in zip(got["ids"][0], got["distances"][0]):
            cid = uid.rsplit(":", 1)[0]
            best.setdefault(cid, 1.0 - float(dist))
        return list(best.items())

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
        try:
            return self._retrieve(question, query, k)
        except Exception as exc:
            if "NotFound" not in type(exc).__name__:
                raise
            # Another process switched generations and dropped the one we held: follow it, once.
            self.refresh(max_age_s=0)
            return self._retrieve(question, query, k)

    def _retrieve(self, question: str, query: str | None, k: int | None) -> Retrieval:
        self.refresh()
        query = query or question
        k = k or self.k
        if not self.ids:
            return Retrieval(question, query, ())
        vector = self.embed_query(query)
        n = max(self.candidates, k)
        (dense, stored), sparse = self.dense(vector, n), self.sparse(query, n)
        units = self.dense_units(vector, 3 * n)
        fused: dict[str, float] = {}
        for ranked in (dense, units, sparse):
            for rank, (cid, _) in enumerate(ranked):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        dense_score, bm25_score = dict(dense), dict(sparse)
        best = sorted(fused, key=lambda c: (-fused[c], -dense_score.get(c, -1.0)))[:k]
        missing = [cid for cid in best if cid not in stored]
        if missing:
            got = self.store.call(self.chunks.get, ids=missing, include=["documents", "metadatas"])
            stored.update({cid: (doc, meta) for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])})
        hits = tuple(_hit(cid, *stored[cid], fused[cid], dense_score.get(cid), bm25_score.get(cid))
                     for cid in best if cid in stored)
        return Retrieval(question, query, hits, tuple(float(x) for x in vector))
