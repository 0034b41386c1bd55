"""Retrieve: hybrid search, dense (Chroma) plus BM25 over the same chunks, fused by reciprocal rank."""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from dataclasses import replace

import numpy as np

from assistant.chunking import CARD_SECTION
from assistant.errors import GenerationGone, UserError
from assistant.outline import named_heading, numbered_heading, question_phrases
from assistant.rerank import Evidence, RerankWeights, rerank, without_repeats
from assistant.snapshot import Snapshot, SnapshotFiles
from assistant.spelling import correct, written_words
from assistant.text import path_words, tokens
from assistant.types import Hit, Retrieval
from assistant.unitvectors import UnitMatrix, UnitSearch, best_per_chunk


class HybridRetriever:
    """Dense and BM25 candidates fused with RRF. The BM25 index is built once per index generation,
    never per query, and rebuilt only when the store's active generation changes. Chunk texts stay
    in the store: the process keeps only ids, the BM25 matrix and the vocabulary."""

    def __init__(self, store, embedder, k: int = 5, candidates: int = 20, rrf_k: int = 60,
                 generic_headings: frozenset[str] = frozenset(), rerank: RerankWeights | None = None,
                 snapshots: SnapshotFiles | None = None, kinds_named=None):
        self.store, self.embedder = store, embedder
        # question -> the kinds of document it points at ("the article"), as word sets (DomainProfile).
        self.kinds_named = kinds_named
        # Where each index version's BM25 and matrices are saved once built (None: built in every process).
        self.snapshots = snapshots
        self.rerank = rerank or RerankWeights()
        self.generic_headings = generic_headings  # never offered as topics ("Introduction", ...)
        self.k, self.candidates, self.rrf_k = k, candidates, rrf_k
        self.generation: str | None = None
        self.revision = ""
        self.known: frozenset[str] = frozenset()
        self._bm25 = None
        self._lexical: tuple = (None, [])
        # How units are searched: one exact matrix of all unit vectors while the corpus is small
        # (self._units), else only the units of each query's candidates; a legacy index's own HNSW.
        self.unit_search: UnitSearch = getattr(store, "unit_search", UnitSearch())
        self._units: UnitMatrix | None = None
        # While the units are searched exactly, so are the chunks (one vector each, fewer than the
        # units): Chroma's HNSW answers differently from one process to the next on the same index
        # (27 of the 242 shipped questions' top 20 differed from the exact one) and misses some.
        self._chunks: UnitMatrix | None = None
        self._legacy_units = False
        self._sections: dict[tuple[str, str], list[str]] = {}  # see subsections
        self._following: dict[str, str] = {}  # chunk id -> the next chunk of its document, see following
        self._words: frozenset[str] = frozenset()  # see spelled
        self._outline: tuple = ()  # (source, section, start) per chunk id, in self.ids order
        self._named: dict[str, tuple] = {}  # heading -> (phrase, numbered, chunks): see named_sections
        self._document_words: tuple = (None, {})  # ((generation, revision), source -> words), see scope
        self._checked = 0.0
        self._reloading = threading.Lock()

    def refresh(self, max_age_s: float = 1.0) -> None:
        """Follow the store's committed index: a rebuild (new generation) or an incremental change
        (new revision, same generation) is picked up within `max_age_s`, without asking the store on
        every call of the hot path."""
        now = time.monotonic()
        if self.generation is not None and now - self._checked < max_age_s:
            return
        # One thread reloads (one reopened store copy, one BM25 build); the others meanwhile serve
        # the committed index they have, and wait only when they have none or it was dropped.
        if not self._reloading.acquire(blocking=self.generation is None or max_age_s <= 0):
            return
        try:
            self._checked = now
            self._reload()
        finally:
            self._reloading.release()

    def _reload(self) -> None:
        generation, revision = self.store.active_version()
        if generation is None:
            raise UserError("the index is empty: run `assistant index` first")
        if (generation, revision) == (self.generation, self.revision):
            return
        if self.generation is not None:
            self.store.reopen()  # another process changed the index: drop this process' stale copy
        legacy = self.store.legacy(generation)
        snapshot = self.snapshots.load(generation, revision, lambda: self.store.chunk_count(generation),
                                       self.unit_search.exact_max, legacy) if self.snapshots else None
        if snapshot is None:
            snapshot = self._walk(generation, legacy)
            if self.snapshots:
                self.snapshots.save(generation, revision, snapshot)
        if self.snapshots and snapshot.chunks is not None:
            # Searched exactly, a query needs from the store only rows by id, which the store's record
            # file can serve to the next process without opening Chroma (assistant/store/records.py).
            self.store.keep_records(generation, revision)
        self._units, self._chunks = snapshot.units, snapshot.chunks
        self._legacy_units = legacy
        # One assignment: a query running meanwhile reads the BM25 matrix and its ids as a pair.
        self._lexical = (snapshot.bm25, snapshot.ids)
        self._bm25, self.ids = snapshot.bm25, snapshot.ids
        # The committed chunks: an index run still writing (it commits with a new revision) adds
        # chunks the dense search may already see; they are served only once committed.
        self.known = frozenset(snapshot.ids)
        self._vocabulary = set(self._bm25.vocab)
        self._words = snapshot.words
        titles = self.generic_headings | set(snapshot.titles)
        self._topics = [t for t in snapshot.topics if t not in titles]
        self._sections = _sections_under(snapshot.ids, snapshot.outline)
        self._following = _following(snapshot.ids, snapshot.outline)
        self._outline = snapshot.outline
        self._named = _named_headings(snapshot.ids, snapshot.outline)
        self.generation, self.revision = generation, revision
        getattr(self.store, "trim", lambda: None)()  # the walk's transient buffers (see Store.trim)

    def _walk(self, generation: str, legacy: bool) -> Snapshot:
        """Read every chunk (BM25, ids, titles, topics) and, while the corpus is small, every vector."""
        from assistant.bm25 import SparseBM25

        ids: list[str] = []
        titles, topics = {}, {}
        outline: list[tuple[str, str, int]] = []
        words: set[str] = set()

        def corpus():
            for batch in self.store.iter_chunks(generation):
                for hit in batch:
                    ids.append(hit.id)
                    words.update(written_words(f"{hit.section} {hit.text}"))
                    outline.append((hit.source, hit.section, hit.start))
                    titles.setdefault(hit.title, None)
                    if hit.section:
                        topics.setdefault(hit.section.split(" > ")[0], None)
                    yield tokens(f"{hit.section} {hit.text}") or ["\x00"]

        bm25 = SparseBM25(corpus())
        units = None if legacy else self._unit_matrix(generation)
        chunks = None if units is None else UnitMatrix(
            [pair for batch in self.store.iter_chunk_vectors(generation) for pair in batch])
        over = -1 if legacy or units is not None else self.unit_search.exact_max
        return Snapshot(bm25, ids, list(titles), list(topics), units, chunks, legacy, over, tuple(outline),
                        frozenset(words))

    def _unit_matrix(self, generation: str) -> UnitMatrix | None:
        """All unit vectors of the generation, or None once they number more than the exact-search bound
        (the walk stops there: a large corpus never has them all in memory at once)."""
        packs, total = [], 0
        for batch in self.store.iter_unit_vectors(generation):
            packs += batch
            total += sum(len(vectors) for _, vectors in batch)
            if total > self.unit_search.exact_max:
                return None
        return UnitMatrix(packs)

    def vocabulary(self) -> set[str]:
        """Every stemmed term of the indexed chunks (answerers refuse names the corpus never uses)."""
        self.refresh()
        return self._vocabulary

    def spelled(self, text: str) -> str:
        """`text` with the words no chunk uses read as the corpus words one keystroke away (spelling.correct)."""
        self.refresh()
        return correct(text, self.chunks_with, self._words)

    def chunks_with(self, text: str) -> int:
        """In how many chunks the rarest word of `text` occurs: how specific a name is to this corpus."""
        self.refresh()
        return min((self._bm25.chunks_with(t) for t in tokens(text)), default=0)

    def subsections(self, source: str, section: str) -> list[str]:
        """The first chunk of each section directly under `section` in `source`, in document order: a
        "## Linters" heading's "### markdownlint", "### write-good", which a search for linters may not
        all find. `section` "": the document's top-level sections."""
        self.refresh()
        return self._sections.get((source, section), [])

    def following(self, chunk_id: str) -> str | None:
        """The chunk after `chunk_id` in its document (what the page says next), or None at its end."""
        self.refresh()
        return self._following.get(chunk_id)

    def scope(self, question: str) -> list[str]:
        """The chunk ids of the documents a question points at by kind ("What does the article recommend
        ...?": the documents whose path, title or front matter says article, blog or post), when those are
        some of the corpus; [] otherwise. One article among 244 playbook pages is otherwise outvoted by
        pages that happen to match the question's words."""
        kinds = self.kinds_named(question) if self.kinds_named else []
        if not kinds or len(self._outline) != len(self.ids):
            return []
        words = self._words_of_documents()
        sources = {source for source, said in words.items() if any(said & kind for kind in kinds)}
        if not sources or len(sources) == len(words):
            return []
        return [cid for cid, (source, _, _) in zip(self.ids, self._outline) if source in sources]

    def _words_of_documents(self) -> dict[str, frozenset[str]]:
        """Per document, the words of its path, title and front matter (its card chunk), read once per
        index version."""
        version, words = self._document_words
        if version == (self.generation, self.revision):
            return words
        first: dict[str, str] = {}
        cards = []
        for cid, (source, section, _) in zip(self.ids, self._outline):
            first.setdefault(source, cid)
            if section == CARD_SECTION:
                cards.append(cid)
        found: dict[str, set[str]] = {source: set(tokens(path_words(source))) for source in first}
        for hit in self.store.get_chunks(self.generation, [*first.values(), *cards]):
            found[hit.source] |= set(tokens(hit.title)) | (set(tokens(hit.text)) if hit.kind == "card" else set())
        words = {source: frozenset(said) for source, said in found.items()}
        self._document_words = ((self.generation, self.revision), words)
        return words

    def topics(self) -> list[str]:
        """Top-level sections, in corpus order: what a refusal tells the user the sources cover."""
        self.refresh()
        return self._topics

    def lookup(self, ids) -> list[Hit]:
        """Stored chunks by id, in the order asked, for evaluations and front ends that hold only ids."""
        self.refresh()
        return self.store.get_chunks(self.generation, list(ids))

    def embed_query(self, query: str) -> np.ndarray:
        return self.embedder.encode([query])[0]

    def dense(self, vector: np.ndarray, n: int) -> tuple[list[tuple[str, float]], list[Hit]]:
        """Best chunks by vector as (id, cosine similarity), and those of them already read from the store
        (Chroma's vector query returns texts and metadata along: that saves a read for most hits)."""
        if self._chunks is not None:
            return self._chunks.top_chunks(vector, n), []
        hits = self.store.query_chunks(self.generation, vector, min(n, len(self.ids)))
        return [(h.id, h.dense) for h in hits], hits

    def dense_units(self, vector: np.ndarray, n: int, candidates: list[str] = ()) -> list[tuple[str, float]]:
        """Chunks ranked by their best sentence: a one-line table cell or list item is found even when
        the rest of its chunk is about something else. While the corpus is small, the chunks of the `n`
        nearest units of all; past that, the `candidates` (dense and BM25 hits), whose unit packs are
        read by id: no vector index of units is held in memory."""
        units = self._units
        if units is not None:
            return units.top_chunks(vector, n)
        if self._legacy_units:
            best: dict[str, float] = {}
            for match in self.store.query_units(self.generation, vector, n):
                best.setdefault(match.chunk_id, match.similarity)
            return list(best.items())
        packs = self.store.unit_vectors(self.generation, [c for c in dict.fromkeys(candidates) if c in self.known])
        return best_per_chunk(vector, packs)[:n]

    def sparse(self, query: str, n: int) -> list[tuple[str, float]]:
        terms = tokens(query)
        bm25, ids = self._lexical
        if not terms or bm25 is None:
            return []
        scores = bm25.get_scores(terms)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [(ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def rare(self, query: str) -> tuple[frozenset[str], list[str]]:
        """The query's words that almost no chunk uses ("JIT environment"), and the chunks holding them:
        the name is the evidence, however little the rest of the chunk resembles the question."""
        bm25, ids = self._lexical
        if bm25 is None or not self.rerank.rare_df:
            return frozenset(), []
        terms, out = set(), []
        for term in dict.fromkeys(tokens(query)):
            rows = bm25.holding(term)
            if 0 < len(rows) <= self.rerank.rare_df:
                terms.add(term)
                out += [ids[i] for i in rows if ids[i] in self.known]
        return frozenset(terms), list(dict.fromkeys(out))

    def named_sections(self, query: str) -> list[str]:
        """The chunks of a section the query names by its heading: a numbered one ("day 3 of a new ISE
        project": "Day 3" of "The First Week of an ISE Project"), or a name as written ("the Process Lead"),
        in a document whose path or outer sections share another word of the query. Numbers are no search
        words, so "Day 3" reads as "Day 1"; and a role's section may say little else of the question."""
        words, phrases = set(tokens(query)), question_phrases(query)
        return [cid for heading, (named, numbered, chunks) in self._named.items()
                if f" {named} " in phrases[0 if numbered else 1]
                for cid, context in chunks if context & (words - set(tokens(heading)))]

    def retrieve(self, question: str, query: str | None = None, k: int | None = None) -> Retrieval:
        """Best-first hits for `query` (defaults to the question), with the query vector kept."""
        try:
            return self._retrieve(question, query, k)
        except GenerationGone:
            # Another process switched generations and dropped the one we held: follow it, once.
            self.refresh(max_age_s=0)
            return self._retrieve(question, query, k)

    def _retrieve(self, question: str, query: str | None, k: int | None) -> Retrieval:
        self.refresh()
        query = query or question
        k = k or self.k
        if not self.ids:
            return Retrieval(question=question, query=query, hits=())
        vector = self.embed_query(query)
        n = max(self.candidates, k)
        # Without a matrix of all units, the units searched are those of more dense hits than fused.
        wide = n if self._units is not None or self._legacy_units else max(n, self.unit_search.candidates)
        # "What does the article recommend ...?": only the documents the question points at are searched
        # (while searching is exact: every similarity of theirs is at hand).
        scoped = frozenset(self.scope(question)) if self._units is not None and self._chunks is not None else frozenset()
        if scoped:
            ranked_dense, stored = _best(self._chunks.best_of(vector, scoped), wide), {}
            units = _best(self._units.best_of(vector, scoped), 3 * n)
            sparse = [(cid, score) for cid, score in self.sparse(query, len(self.ids)) if cid in scoped][:n]
        else:
            (ranked_dense, dense_hits), sparse = self.dense(vector, wide), self.sparse(query, n)
            stored = {h.id: h for h in dense_hits}
            units = self.dense_units(vector, 3 * n, [cid for cid, _ in ranked_dense] + [cid for cid, _ in sparse])
        dense = ranked_dense[:n]
        fused: dict[str, float] = {}
        for ranked in (dense, units, sparse):
            ranked = [(cid, score) for cid, score in ranked if cid in self.known]
            for rank, (cid, _) in enumerate(ranked):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        dense_score, bm25_score = dict(dense), dict(sparse)
        order = sorted(fused, key=lambda c: (-fused[c], -dense_score.get(c, -1.0)))
        pool = order[:max(k, self.rerank.pool)]
        rare, holding = self.rare(query)
        pool += [cid for cid in holding if cid not in pool and (not scoped or cid in scoped)]
        named = frozenset(cid for cid in self.named_sections(query) if not scoped or cid in scoped)
        pool += [cid for cid in named if cid not in pool and cid in self.known]

        missing = [cid for cid in pool if cid not in stored]
        stored.update({h.id: h for h in self.store.get_chunks(self.generation, missing)})
        pool = [cid for cid in pool if cid in stored]
        if self.rerank.pool:
            ranked = self._rerank(query, vector, pool, stored, dict(ranked_dense), dict(units), bm25_score, rare,
                                  named)
        else:
            ranked = [(cid, fused[cid]) for cid in pool]
        ranked = without_repeats(ranked, {cid: frozenset(tokens(stored[cid].text)) for cid, _ in ranked})
        hits = tuple(replace(stored[cid], score=score, dense=dense_score.get(cid), bm25=bm25_score.get(cid))
                     for cid, score in ranked[:k])
        return Retrieval(question=question, query=query, hits=hits, query_vector=tuple(float(x) for x in vector))

    def _rerank(self, query: str, vector: np.ndarray, pool: list[str], stored: dict[str, Hit],
                dense: dict[str, float], units: dict[str, float], bm25: dict[str, float],
                rare: frozenset[str] = frozenset(), named: frozenset[str] = frozenset()) -> list[tuple[str, float]]:
        """The pool scored again on each chunk's evidence (assistant/rerank.py). While the corpus is
        searched exactly, every similarity is exact; past that, a chunk the dense lists did not reach
        counts at the lowest similarity they did."""
        if self._units is not None and self._chunks is not None:
            units, dense = self._units.best_of(vector, pool), self._chunks.best_of(vector, pool)
        floor_unit, floor_dense = min(units.values(), default=0.0), min(dense.values(), default=0.0)
        evidence = [Evidence(cid, units.get(cid, floor_unit), dense.get(cid, floor_dense), bm25.get(cid, 0.0),
                             frozenset(tokens(f"{stored[cid].section} {stored[cid].text}")), cid in named)
                    for cid in pool]
        return rerank(set(tokens(query)), evidence, self.rerank, rare)


def _named_headings(ids: list[str], outline) -> dict[str, tuple[str, bool, list[tuple[str, frozenset[str]]]]]:
    """Headings a question can name (outline.named_heading: "Day 3", "Process Lead") -> (the phrase it names
    them by, whether numbered, their chunks, each with the words of its document's path and outer sections)."""
    out: dict[str, tuple[str, bool, list[tuple[str, frozenset[str]]]]] = {}
    for cid, (source, section, _) in zip(ids, outline):
        *outer, heading = section.split(" > ")
        if named := named_heading(heading):
            context = frozenset(tokens(path_words(source) + " " + " ".join(outer)))
            out.setdefault(heading, (named, bool(numbered_heading(heading)), []))[2].append((cid, context))
    return out


def _best(similarities: dict[str, float], n: int) -> list[tuple[str, float]]:
    return sorted(similarities.items(), key=lambda pair: -pair[1])[:n]


def _following(ids: list[str], outline) -> dict[str, str]:
    """chunk id -> the id of the chunk that starts next in the same document (a table's rows share their
    table's start: the chunk after them all)."""
    documents: dict[str, list[tuple[int, str]]] = {}
    for cid, (source, _, start) in zip(ids, outline):
        documents.setdefault(source, []).append((start, cid))
    out: dict[str, str] = {}
    for chunks in documents.values():
        chunks.sort()
        starts = [start for start, _ in chunks]
        for start, cid in chunks:
            if (after := bisect_right(starts, start)) < len(chunks):
                out[cid] = chunks[after][1]
    return out


def _sections_under(ids: list[str], outline) -> dict[tuple[str, str], list[str]]:
    """(source, section) -> the first chunk id of each of its direct sub-sections, in document order;
    (source, "") -> the document's top-level sections (its introduction's section is its title)."""
    first: dict[tuple[str, str], dict[str, tuple[int, str]]] = {}
    for cid, (source, section, start) in zip(ids, outline):
        if not section:
            continue
        children = first.setdefault((source, section.rpartition(" > ")[0]), {})
        if section not in children or start < children[section][0]:
            children[section] = (start, cid)
    return {key: [cid for _, cid in sorted(children.values())] for key, children in first.items()}
