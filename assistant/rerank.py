"""Rerank: order the best fused candidates by what they say, not only by where each list put them.

Reciprocal-rank fusion keeps ranks and drops scores: a chunk whose one sentence answers the question
(a best-unit similarity of 0.7) can sit sixth behind chunks that every list ranks moderately. The
first `pool` fused candidates are scored again on the evidence each one carries: its best unit's
similarity to the query, its own (whole-chunk) similarity, the share of the query's words it uses
(in its text or its section path) and its BM25 score. On the three shipped question sets this put
more expected facts into the five passages handed to the answerer (context fact recall, see
eval/README.md) than the fused order: article 0.831 -> 0.880, playbook 0.924 -> 0.941, holdout
0.833 -> 0.896 (`python bench/rerank.py`). The weights are on the cosine scale, like the extractive answerer's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RerankWeights:
    """How the fused candidates are scored again (from settings; pool 0 keeps the fused order)."""

    pool: int = 10  # the first this many fused candidates are reranked; wider pools let noise in
    unit: float = 1.0  # x best unit (sentence, item, cell) cosine similarity
    chunk: float = 0.5  # x whole-chunk cosine similarity
    coverage: float = 0.3  # x share of the query's words in the chunk or its section path
    bm25: float = 0.1  # x BM25 score / the best BM25 score of the query
    rare_df: int = 2  # chunks holding a query word that at most this many chunks use join the pool (0: none) ...
    rare: float = 0.2  # ... and gain this x the share of such words they hold
    # A chunk of a section the question names by its heading ("day 3 of ...": "Day 3") gains this.
    named: float = 0.4


@dataclass(frozen=True)
class Evidence:
    """What one candidate offers: its similarities, BM25 score and words (stems, section included)."""

    chunk_id: str
    unit: float
    chunk: float
    bm25: float
    terms: frozenset[str]
    named: bool = False  # the question names its section by its heading (HybridRetriever.named_sections)


def rerank(query_terms: set[str], candidates: list[Evidence], weights: RerankWeights,
           rare_terms: frozenset[str] = frozenset()) -> list[tuple[str, float]]:
    """(chunk id, score), best first; ties keep the candidates' given (fused) order. `rare_terms`: the
    query's words that almost no chunk of the corpus uses ("JIT"): holding them is evidence of its own."""
    top_bm25 = max((c.bm25 for c in candidates), default=0.0) or 1.0
    scored = []
    for c in candidates:
        coverage = len(query_terms & c.terms) / len(query_terms) if query_terms else 0.0
        rare = len(rare_terms & c.terms) / len(rare_terms) if rare_terms else 0.0
        scored.append((c.chunk_id, weights.unit * c.unit + weights.chunk * c.chunk
                       + weights.coverage * coverage + weights.bm25 * c.bm25 / top_bm25 + weights.rare * rare
                       + weights.named * c.named))
    return sorted(scored, key=lambda pair: -pair[1])


def without_repeats(ranked: list[tuple[str, float]], terms: dict[str, frozenset[str]],
                    covered: float = 0.9) -> list[tuple[str, float]]:
    """`ranked` with each candidate whose words an earlier one already holds (at least `covered` of
    them) moved to the end: the same paragraph copied into two documents, or a short chunk repeating
    part of a longer one, would spend a second of the few passages the answerer reads on nothing new."""
    kept: list[tuple[str, float]] = []
    repeats: list[tuple[str, float]] = []
    for cid, score in ranked:
        words = terms[cid]
        if words and any(len(words & terms[other]) >= covered * len(words) for other, _ in kept):
            repeats.append((cid, score))
        else:
            kept.append((cid, score))
    return kept + repeats
