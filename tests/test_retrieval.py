"""Hybrid retrieval: dense + BM25 fused; the table and use-case facts are found."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_configuration_tools_find_the_table(shipped):
    hits = shipped.search("Which configuration management tools belong to DevOps?", k=3).hits
    assert any("Ansible" in h.text for h in hits)


def test_merck_use_case_first(shipped):
    hits = shipped.search("What happened at Merck?").hits
    assert hits[0].section == "MLOps > Use cases" and "Merck" in hits[0].text


def test_hits_carry_fused_and_per_method_scores(shipped):
    hits = shipped.search("What are the challenges of ModelOps?", k=5).hits
    assert len(hits) == 5
    assert hits[0].section == "ModelOps > Challenges"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.dense is not None or h.bm25 is not None for h in hits)
    assert all(h.id and h.source and h.section and h.text for h in hits)


def test_bm25_is_built_once_per_generation(shipped):
    retriever = shipped.retriever
    retriever.refresh()
    bm25 = retriever._bm25
    shipped.search("What is DataOps?")
    shipped.search("What is MLOps?")
    assert retriever._bm25 is bm25


def test_k_is_configurable(shipped):
    assert len(shipped.search("DevOps benefits", k=2).hits) == 2
    assert len(shipped.search("DevOps benefits", k=8).hits) == 8
