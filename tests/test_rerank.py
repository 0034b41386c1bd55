"""Rerank: the fused candidates ordered again by their best sentence, whole chunk and query words."""

from __future__ import annotations

import pytest

from assistant.rerank import Evidence, RerankWeights, rerank, without_repeats


def ev(cid, unit=0.5, chunk=0.5, bm25=0.0, terms=()):
    return Evidence(cid, unit, chunk, bm25, frozenset(terms))


def test_a_chunk_whose_sentence_answers_outranks_one_fused_first():
    # RRF put "broad" first (every list ranked it moderately); "answer" has the one matching sentence.
    ranked = rerank({"restor", "snapshot"}, [ev("broad", unit=0.45, chunk=0.55), ev("answer", unit=0.75, chunk=0.5)],
                    RerankWeights())
    assert [cid for cid, _ in ranked] == ["answer", "broad"]


def test_query_words_in_the_chunk_or_its_section_count():
    w = RerankWeights(unit=0.0, chunk=0.0, bm25=0.0, coverage=1.0)
    ranked = dict(rerank({"restor", "snapshot"}, [ev("a", terms={"restor"}), ev("b", terms={"restor", "snapshot"})], w))
    assert ranked == {"a": pytest.approx(0.5), "b": pytest.approx(1.0)}


def test_bm25_is_relative_to_the_best_candidate():
    w = RerankWeights(unit=0.0, chunk=0.0, coverage=0.0, bm25=1.0)
    ranked = rerank(set(), [ev("low", bm25=2.0), ev("top", bm25=8.0), ev("none")], w)
    assert ranked == [("top", pytest.approx(1.0)), ("low", pytest.approx(0.25)), ("none", 0.0)]


def test_ties_keep_the_fused_order():
    ranked = rerank({"x"}, [ev("first"), ev("second"), ev("third")], RerankWeights())
    assert [cid for cid, _ in ranked] == ["first", "second", "third"]


def test_empty_query_and_no_candidates():
    assert rerank(set(), [], RerankWeights()) == []
    assert rerank(set(), [ev("a", unit=0.2, chunk=0.4)], RerankWeights(coverage=1.0)) == [("a", pytest.approx(0.4))]


def test_a_candidate_whose_words_an_earlier_one_holds_goes_last():
    terms = {"guide": frozenset({"restor", "snapshot", "archiv", "bucket"}),
             "copy": frozenset({"restor", "snapshot", "archiv", "bucket"}),  # the same paragraph elsewhere
             "part": frozenset({"snapshot", "bucket"}),  # a short chunk repeating part of "guide"
             "other": frozenset({"replay", "log", "snapshot"})}
    ranked = [("guide", 0.9), ("copy", 0.8), ("part", 0.7), ("other", 0.6)]
    assert [cid for cid, _ in without_repeats(ranked, terms)] == ["guide", "other", "copy", "part"]


def test_a_longer_chunk_after_a_short_one_it_contains_is_kept():
    # The later chunk holds the earlier one's words and more: it says something new.
    terms = {"short": frozenset({"snapshot", "bucket"}), "long": frozenset({"snapshot", "bucket", "replay", "log"}),
             "empty": frozenset()}
    ranked = [("short", 0.9), ("long", 0.8), ("empty", 0.1)]
    assert without_repeats(ranked, terms) == ranked


def test_holding_a_word_almost_no_chunk_uses_is_evidence_of_its_own():
    """"Why is there a JIT environment in the middle step?": the one chunk saying "JIT" resembles the question
    less than the chunks about environments in general, and still answers it."""
    general, specific = ev("general", unit=0.55, terms={"environ", "step"}), ev("jit", unit=0.4, terms={"jit", "environ"})
    assert [c for c, _ in rerank({"jit", "environ", "step"}, [general, specific], RerankWeights())][0] == "general"
    ranked = rerank({"jit", "environ", "step"}, [general, specific], RerankWeights(), frozenset({"jit"}))
    assert [c for c, _ in ranked][0] == "jit"
