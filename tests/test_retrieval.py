"""Hybrid retrieval: dense + BM25 fused; the table and use-case facts are found."""

from __future__ import annotations

import pytest

from tests.conftest import nearest_chunks_by_unit

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


def test_units_of_the_article_are_searched_exactly_and_match_a_brute_force(shipped):
    """Small corpora keep every unit vector in one matrix: the chunks of the 60 nearest units, each at
    its best unit, exactly as a scan of every stored pack gives them."""
    import numpy as np

    retriever = shipped.retriever
    retriever.refresh()
    assert retriever._units is not None and len(retriever._units) > len(retriever.ids)
    generation = retriever.generation
    packs = shipped.store.unit_packs(generation, list(retriever.ids))
    vector = retriever.embed_query("Which configuration management tools belong to DevOps?")
    expected = nearest_chunks_by_unit([(cid, p.vectors) for cid, p in packs.items()], vector, 60)
    got = retriever.dense_units(vector, 60)
    assert [cid for cid, _ in got] == list(expected)
    assert np.allclose([s for _, s in got], list(expected.values()), atol=1e-5)


def test_past_the_exact_bound_units_of_the_candidates_still_find_the_facts(shipped):
    """A corpus with more units than unit_search_exact_max scores only the units of its dense and
    BM25 candidates, read per query: the article's table and use-case facts are still found."""
    from assistant.retrieval import HybridRetriever
    from assistant.unitvectors import UnitSearch

    retriever = HybridRetriever(shipped.store, shipped.embedder, k=5)
    retriever.unit_search = UnitSearch(exact_max=0, candidates=60)
    retriever.refresh()
    assert retriever._units is None
    hits = retriever.retrieve("Which configuration management tools belong to DevOps?", k=3).hits
    assert any("Ansible" in h.text for h in hits)
    merck = retriever.retrieve("What happened at Merck?").hits
    assert merck[0].section == "MLOps > Use cases" and "Merck" in merck[0].text


def test_a_reload_hands_its_transient_memory_back(shipped, monkeypatch):
    """Loading an index generation reads every chunk and unit pack once; the freed buffers go back to
    the system after it (Store.trim), not at the next reopen."""
    from assistant.retrieval import HybridRetriever

    trims = []
    monkeypatch.setattr(type(shipped.store), "trim", staticmethod(lambda: trims.append(1)))
    retriever = HybridRetriever(shipped.store, shipped.embedder, k=5)
    retriever.refresh()
    assert trims == [1]
    retriever.refresh(max_age_s=0)  # same generation and revision: nothing read, nothing to trim
    assert trims == [1]


ARTICLE = """---
title: "Release habits"
author: "A. Writer"
publisher: "Example Engineering Blog"
---

# Release habits

## Conclusion

Teams should keep reviewing their release cadence as they grow.
"""


def test_a_question_pointing_at_the_article_searches_only_the_article(tmp_path):
    """"What does the article recommend ...?" in a corpus of one blog article and many playbook pages:
    pages matching the question's words outvoted the article. The article is the document whose front
    matter names a blog; only it is searched. Without the pointer, every document competes."""
    from assistant.domain import DomainProfile
    from tests.conftest import toy_assistant

    profile = DomainProfile()
    assert profile.document_kinds_named("What does the MLOps/DevOps/ModelOps article say?") == [
        frozenset({"articl", "blog", "post"})]
    assert profile.document_kinds_named("Which post-deployment checks matter?") == []
    assert profile.document_kinds_named("What does the playbook recommend?") == [frozenset({"playbook"})]
    pages = {f"playbook-{i}.md": f"# Release cadence {i}\n\n## Cadence\n\nWe recommend a release cadence review "
                                 f"every sprint for team {i} as the team grows.\n" for i in range(6)}
    assistant = toy_assistant(tmp_path, {"release-habits.md": ARTICLE, **pages})
    question = "What does the article recommend about the release cadence as the team grows?"
    hits = assistant.retriever.retrieve(question).hits
    assert hits and {h.source for h in hits} == {"release-habits.md"}
    everyone = assistant.retriever.retrieve("What is recommended about the release cadence as the team grows?").hits
    assert everyone[0].source.startswith("playbook-")
    # A kind every document is of ("the playbook" when the corpus is all playbook) narrows nothing.
    playbook = toy_assistant(tmp_path / "p", pages)
    assert len(playbook.retriever.retrieve("What does the playbook recommend about the release cadence?").hits) == 5


def test_a_section_the_question_names_by_its_numbered_heading_is_retrieved_and_answers(tmp_path):
    """"What do we do on day 3 of the kickoff week?": numbers are no search words, so "Day 1" ... "Day 4" of a
    page read alike; the heading's own phrase in the question picks "Day 3", in the page the question's
    other words point at, and its items are the answer."""
    from assistant.outline import names_heading, numbered_heading
    from tests.conftest import toy_assistant

    assert numbered_heading("Day 3") == "day 3" and numbered_heading("Step 2: Deploy") == "step 2 deploy"
    assert numbered_heading("Introduction") == "" and numbered_heading("2023") == ""
    assert names_heading("What happens on day 3?", "Day 3") and not names_heading("What happens on day 30?", "Day 3")
    # A heading that is a name counts as the question writes it: "the Process Lead" names the role's section;
    # "an ML feasibility study" is a topic, not the section "Feasibility Study".
    assert names_heading("What does the Process Lead do?", "Process Lead") and names_heading("on day 3", "Day 3")
    assert not names_heading("How long does an ML feasibility study run?", "Feasibility Study")
    assert not names_heading("Which tools do we use?", "Tools")  # one word is a topic
    days = "".join(f"## Day {n}\n\n- {task}\n- Review the {topic} board with the team\n\n" for n, task, topic in (
        (1, "Plan the first sprint", "sprint"), (2, "Set up source control", "repository"),
        (3, "Agree on code style", "review"), (4, "Set up continuous deployment", "release")))
    assistant = toy_assistant(tmp_path, {
        "kickoff-week.md": "# The Kickoff Week of a Project\n\nWhat a team does in its first week.\n\n" + days,
        "sprints.md": "# Sprints\n\n## Planning\n\nEach sprint starts with planning the week of work for the team.\n"})
    hits = assistant.retriever.retrieve("What do we do on day 3 of the kickoff week?").hits
    sections = [h.section for h in hits]
    assert "Day 3" in sections and all(sections.index("Day 3") < i for i, s in enumerate(sections)
                                       if s.startswith("Day ") and s != "Day 3"), sections
    answer = assistant.ask("What do we do on day 3 of the kickoff week?")
    assert "Agree on code style" in answer.text and "Plan the first sprint" not in answer.text, answer.text
    # The same heading in a page the question does not point at is no match.
    assert assistant.retriever.named_sections("What happens on day 3 of the sprint?") == []
