"""Sparse BM25 scores equal rank_bm25's Okapi scores."""

from __future__ import annotations

import numpy as np
from rank_bm25 import BM25Okapi

from assistant.bm25 import SparseBM25
from assistant.text import tokens

DOCS = ["DevOps uses Jenkins and Ansible for delivery.", "MLOps tracks experiments and models.",
        "ModelOps governs models in production; models need monitoring.", "DataOps manages data pipelines.",
        "Jenkins Jenkins Jenkins pipelines"]


def test_scores_match_rank_bm25():
    corpus = [tokens(d) for d in DOCS]
    ours, reference = SparseBM25(corpus), BM25Okapi(corpus)
    for query in ("jenkins pipelines", "models models monitoring", "unknown words", "devops"):
        q = tokens(query)
        assert np.allclose(ours.get_scores(q), reference.get_scores(q), atol=1e-5)
    assert ours.nbytes > 0 and ours.get_scores([]).shape == (len(DOCS),)


def test_scores_match_rank_bm25_on_random_corpora():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    words = st.sampled_from(["alpha", "beta", "gamma", "delta", "eps", "zeta"])

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.lists(words, min_size=1, max_size=12), min_size=1, max_size=15), st.lists(words, max_size=5))
    def check(corpus, query):
        assert np.allclose(SparseBM25(corpus).get_scores(query), BM25Okapi(corpus).get_scores(query), atol=1e-4)

    check()


def test_the_chunks_holding_a_term_are_those_its_document_frequency_counts():
    bm25 = SparseBM25([tokens(d) for d in DOCS])
    assert sorted(bm25.holding("jenkin").tolist()) == [0, 4] and bm25.chunks_with("jenkin") == 2
    assert bm25.holding("unknown").tolist() == [] and bm25.chunks_with("unknown") == 0
