"""The pipeline end to end on a small runbook corpus, fast: a hashed bag-of-words embedder stands in
for the model (tests/fakes.py), everything else is real (loaders, chunker, embedded Chroma, BM25,
extractive answerer, verifier, web rendering)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.chunking import chunk_document
from assistant.context import REFUSAL, build_context
from assistant.corpus import load_corpus
from assistant.types import Answer, Citation, SentenceCheck
from assistant.verify import parse_sentences, verify
from tests.conftest import make_settings
from tests.fakes import HashEmbedder
from assistant.links import SourceLinks
from ui.render import answer_message, cite_link, sources_panel

BACKUPS = """# Backup Runbook

## Schedule

Database backups are taken every night at 02:00 UTC. Each snapshot is copied to a second region within an hour. \
Snapshots older than thirty days are deleted automatically. The storage team reviews the retention policy every quarter.

## Restore procedure

### Full restore

To restore a database from a snapshot, follow these steps:

- Stop the application servers that write to the database.
- Download the latest verified snapshot from the archive bucket.
- Replay the write-ahead log up to the chosen recovery point.
- Run quorumctl verify before reopening traffic.

## Storage options

| Criterion | Archive bucket | Local disk |
|---|---|---|
| Cost | Low per gigabyte | Included with the server |
| Restore speed | Several hours | A few minutes |
| Durability | Survives a region outage | Lost with the server |
"""

INCIDENTS = """# Incident Response

## Declaring an incident

An incident is declared when a customer-facing service is degraded for more than five minutes. The first responder \
opens a ticket in the incident tracker and posts a link in the team channel. The incident commander assigns roles \
and sets the time of the next update. Status updates go out every thirty minutes until the service recovers.

## Roles

Every major incident has three roles:

- Incident commander: coordinates the response and makes the final decisions.
- Communications lead: writes status updates for customers and stakeholders.
- Scribe: records the timeline, the decisions and the follow-up actions.

## Postmortem

A blameless postmortem is written within five working days of the incident. The postmortem lists the root cause, \
the customer impact and the corrective actions with their owners.
"""

ONCALL = """# On-call Guide

## Rotation

The on-call rotation changes every Monday at 10:00. Each engineer is on call for one week at a time, followed by \
at least three weeks off. Swaps must be recorded in the rotation calendar before they start. A secondary engineer \
backs up the primary during nights and weekends.

## Handover checklist

Before handing over the pager, the outgoing engineer checks:

- Check the open incidents and their current owners.
- Check the alerts that fired more than twice during the week.
- Check the planned maintenance windows for the coming week.
"""

CORPUS = {"backups.md": BACKUPS, "incident-response.md": INCIDENTS, "on-call.md": ONCALL}
RESTORE_STEPS = ("Stop the application servers that write to the database.",
                 "Download the latest verified snapshot from the archive bucket.",
                 "Replay the write-ahead log up to the chosen recovery point.",
                 "Run quorumctl verify before reopening traffic.")
HANDOVER_CHECKS = ("Check the open incidents and their current owners.",
                   "Check the alerts that fired more than twice during the week.",
                   "Check the planned maintenance windows for the coming week.")
SCHEDULE_FACT = "Database backups are taken every night at 02:00 UTC."


def write_corpus(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in CORPUS.items():
        (folder / name).write_text(text)
    return folder


def build(root, embedder=None) -> Assistant:
    corpus = write_corpus(root / "corpus")
    return Assistant.from_settings(make_settings(root, corpus), embedder=embedder or HashEmbedder())


def embedded_texts(chunks) -> int:
    """What indexing these chunks costs the embedder: one text per chunk plus one per unit."""
    return sum(1 + len(c.units) for c in chunks)


@pytest.fixture(scope="module")
def runbooks(tmp_path_factory):
    """One indexed Assistant over the runbooks, shared by the tests that only read it. Built before
    the per-test `isolated` fixture applies, so it isolates itself the same way while wiring."""
    root = tmp_path_factory.mktemp("runbooks")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # no developer .env is read
        for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
            mp.delenv(key)
        assistant = build(root)
        stats = assistant.ensure_index(progress=False)
    assert stats is not None and stats.documents == 3
    return assistant


@pytest.fixture(scope="module")
def chunks_by_source(runbooks):
    docs, skipped = load_corpus(runbooks.settings.corpus_dir)
    assert skipped == []
    return {d.source: (d, chunk_document(d)) for d in docs}


# Chunking ------------------------------------------------------------------------------------------

def test_documents_are_titled_by_their_first_heading(chunks_by_source):
    titles = {source: doc.title for source, (doc, _) in chunks_by_source.items()}
    assert titles == {"backups.md": "Backup Runbook", "incident-response.md": "Incident Response",
                      "on-call.md": "On-call Guide"}


def test_section_paths_skip_the_title_and_nest_subheadings(chunks_by_source):
    doc, chunks = chunks_by_source["backups.md"]
    assert [(c.section, c.kind) for c in chunks] == [
        ("Schedule", "text"), ("Restore procedure > Full restore", "list"),
        ("Storage options", "table"), ("Storage options", "table")]
    for chunk in chunks:
        assert chunk.source == "backups.md" and chunk.title == "Backup Runbook"
        assert 0 <= chunk.start < chunk.end <= len(doc.text)
    prose = [c for c in chunks if c.kind != "table"]
    for chunk in prose:  # the span points at the text the chunk came from
        assert chunk.text.lstrip("- ").split("\n")[0][:30] in doc.text[chunk.start:chunk.end]


def test_paragraph_units_are_its_sentences(chunks_by_source):
    _, chunks = chunks_by_source["backups.md"]
    schedule = chunks[0]
    assert schedule.units == (SCHEDULE_FACT, "Each snapshot is copied to a second region within an hour.",
                              "Snapshots older than thirty days are deleted automatically.",
                              "The storage team reviews the retention policy every quarter.")
    assert schedule.unit_items == (-1, -1, -1, -1)


def test_list_items_become_units_after_their_lead_in(chunks_by_source):
    _, chunks = chunks_by_source["backups.md"]
    steps = next(c for c in chunks if c.kind == "list")
    assert steps.units == ("To restore a database from a snapshot, follow these steps:", *RESTORE_STEPS)
    # The lead-in belongs to no item; each step is its own item of the chunk.
    assert steps.unit_items[0] == -1
    assert len(set(steps.unit_items[1:])) == 4 and min(steps.unit_items[1:]) >= 0
    assert steps.text.splitlines()[1:] == [f"- {s}" for s in RESTORE_STEPS]


def test_comparison_table_gives_one_chunk_per_compared_column(chunks_by_source):
    doc, chunks = chunks_by_source["backups.md"]
    tables = [c for c in chunks if c.kind == "table"]
    archive, local = tables
    assert archive.text.splitlines()[0] == "Storage options - Archive bucket"
    assert local.text.splitlines()[0] == "Storage options - Local disk"
    assert archive.units == ("Cost of Archive bucket: Low per gigabyte",
                             "Restore speed of Archive bucket: Several hours",
                             "Durability of Archive bucket: Survives a region outage")
    assert "Restore speed of Local disk: A few minutes" in local.units
    for table in tables:
        assert all(u in table.text for u in table.units)
        assert doc.text[table.start:table.end].startswith("| Criterion |")
    assert "Local disk" not in archive.text and "Archive bucket" not in local.text


def test_chunk_ids_are_unique_and_change_only_where_the_text_changed(chunks_by_source):
    doc, chunks = chunks_by_source["incident-response.md"]
    ids = [c.id for c in chunks]
    assert len(set(ids)) == len(ids) and ids == [c.id for c in chunk_document(doc)]
    edited = type(doc)(source=doc.source, title=doc.title, text=doc.text.replace("five working days", "ten working days"))
    assert len(set(ids) - {c.id for c in chunk_document(edited)}) == 1


# Indexing ------------------------------------------------------------------------------------------

def test_indexing_is_incremental(tmp_path):
    embedder = HashEmbedder()
    assistant = build(tmp_path, embedder)
    first = assistant.index(progress=False)
    docs, _ = load_corpus(assistant.settings.corpus_dir)
    all_chunks = [c for d in docs for c in chunk_document(d)]
    assert (first.documents, first.chunks, first.embedded, first.deleted) == (3, len(all_chunks), len(all_chunks), 0)
    assert embedder.calls == embedded_texts(all_chunks)
    generation = assistant.index_version

    calls = embedder.calls
    again = assistant.index(progress=False)
    assert (again.embedded, again.deleted, again.chunks) == (0, 0, first.chunks)
    assert embedder.calls == calls and assistant.index_version == generation

    # One sentence of one file changes: only that file's changed chunk is embedded again.
    oncall = assistant.settings.corpus_dir / "on-call.md"
    old_ids = {c.id for c in all_chunks}
    oncall.write_text(ONCALL.replace("every Monday at 10:00", "every Tuesday at 10:00"))
    _, new_oncall = next((d, chunk_document(d)) for d in load_corpus(assistant.settings.corpus_dir)[0]
                         if d.source == "on-call.md")
    fresh = [c for c in new_oncall if c.id not in old_ids]
    assert len(fresh) == 1 and "Tuesday" in fresh[0].text
    changed = assistant.index(progress=False)
    assert (changed.embedded, changed.deleted, changed.chunks) == (1, 1, first.chunks)
    assert embedder.calls - calls == embedded_texts(fresh)

    # The retriever serves the new generation's text at once.
    hits = assistant.search("When does the on-call rotation change?", k=2).hits
    assert "Tuesday" in hits[0].text and not any("Monday" in h.text for h in hits)

    # A removed file's chunks are deleted without embedding anything.
    calls = embedder.calls
    oncall.unlink()
    removed = assistant.index(progress=False)
    assert (removed.documents, removed.embedded, removed.deleted) == (2, 0, len(new_oncall))
    assert removed.chunks == first.chunks - len(new_oncall) and embedder.calls == calls


# Retrieval -----------------------------------------------------------------------------------------

def test_rare_exact_word_ranks_its_chunk_first(runbooks):
    retriever = runbooks.retriever
    sparse = retriever.sparse("When is quorumctl run?", 20)
    hits = runbooks.search("When is quorumctl run?").hits
    assert "quorumctl" in hits[0].text and hits[0].section == "Restore procedure > Full restore"
    assert sparse[0][0] == hits[0].id and hits[0].bm25 == pytest.approx(sparse[0][1])
    assert all(h.bm25 is None or h.bm25 < hits[0].bm25 for h in hits[1:])


def test_hits_are_best_first_and_k_is_respected(runbooks):
    for k in (1, 3, 6):
        hits = runbooks.search("How are database snapshots restored?", k=k).hits
        assert len(hits) == k and len({h.id for h in hits}) == k
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert k == 1 or scores[0] > scores[-1]
        # Reranked on evidence (assistant/rerank.py): at most the sum of its weights.
        w = runbooks.retriever.rerank
        assert all(0 < s <= w.unit + w.chunk + w.coverage + w.bm25 + 1e-6 for s in scores)
        assert all(h.dense is not None or h.bm25 is not None for h in hits)
    assert runbooks.search("How are database snapshots restored?", k=1).hits[0].section == \
        "Restore procedure > Full restore"


def test_a_paragraph_copied_into_another_document_takes_one_place_in_the_hits(tmp_path):
    # The playbook copies whole paragraphs between pages; the second copy would spend one of the few
    # passages the answerer reads on nothing new.
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "restore-faq.md").write_text("# Restore FAQ\n\n## Restoring\n\n" + BACKUPS.split("## Restore procedure")[1]
                                           .split("### Full restore")[1].split("##")[0].strip() + "\n")
    assistant = Assistant.from_settings(make_settings(tmp_path, corpus), embedder=HashEmbedder())
    assistant.ensure_index(progress=False)
    hits = assistant.search("How are database snapshots restored?", k=4).hits
    texts = [" ".join(h.text.split()) for h in hits]
    assert sum("quorumctl" in t for t in texts) == 1, [h.source for h in hits]
    assert len(hits) == 4


def test_default_k_comes_from_settings(runbooks):
    assert len(runbooks.search("incident commander roles").hits) == runbooks.settings.k


# Extractive answering ------------------------------------------------------------------------------

def test_answer_quotes_the_fact_and_cites_it(runbooks):
    calls = runbooks.embedder.calls
    answer = runbooks.ask("How often are database backups taken?")
    assert not answer.refused and answer.reason == ""
    assert SCHEDULE_FACT in answer.text
    numbers = {c.n for c in answer.citations}
    assert numbers == set(range(1, len(numbers) + 1))
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)} == numbers
    by_n = {c.n: c for c in answer.citations}
    for sentence in answer.sentences:
        assert sentence.supported and sentence.citations and set(sentence.citations) <= numbers
        assert any(sentence.text in by_n[n].text for n in sentence.citations)  # quoted, not invented
    assert by_n[1].source == "backups.md" and by_n[1].section == "Schedule"
    assert answer.retrieved and answer.retrieved[0] == by_n[1].id
    # Only the question is embedded: passage units come with their stored vectors.
    assert runbooks.embedder.calls - calls == 1


def test_list_question_returns_the_items(runbooks):
    answer = runbooks.ask("What should be checked at handover?")
    assert not answer.refused
    # The lead-in comes with its items, and the items are a Markdown list, one a line, each cited.
    lead, *items = answer.sentences
    assert lead.text.endswith("outgoing engineer checks:") and not lead.bullet
    assert [s.text for s in items] == list(HANDOVER_CHECKS) and all(s.bullet for s in items)
    assert all(s.supported and s.citations == (1,) for s in answer.sentences)
    assert [c.section for c in answer.citations] == ["Handover checklist"]
    assert answer.text.splitlines()[2:] == [f"- {item} [1]" for item in HANDOVER_CHECKS]


@pytest.mark.parametrize("question, reason", [
    ("What does the runbook say about Kubernetes Helm charts?", "names not in the corpus"),
    # A subject the profile names ("GitOps") that these documents never use is a name they lack.
    ("How do the backup runbooks fit with GitOps?", "names not in the corpus: ['gitops']"),
    ("Which sourdough recipe bakes crusty bread?", "none of the question's words occur"),
    # "makes" is the one word the corpus shares ("makes the final decisions"): too weak to answer.
    ("Which sourdough recipe makes crusty bread?", "below threshold"),
])
def test_questions_outside_the_corpus_are_refused(runbooks, question, reason):
    answer = runbooks.ask(question)
    assert answer.refused and reason in answer.reason
    assert answer.citations == () and answer.sentences == ()
    assert answer.text.startswith(REFUSAL)
    # What the sources do cover: real document titles and sections, a few, nearest first.
    offered = answer.text.split("cover: ", 1)[1].rstrip(".").split("; ")
    stored = [h for batch in runbooks.store.iter_chunks(runbooks.index_version) for h in batch]
    real = {h.title for h in stored} | {h.section.split(" > ")[0] for h in stored}
    assert 3 <= len(offered) <= 5 and set(offered) <= real
    assert {"Backup Runbook", "On-call Guide", "Incident Response"} <= set(offered)


@pytest.mark.parametrize("question", ["What is a full restore?", "What is the restore procedure?",
                                      "What are the restore steps for the database?",
                                      # a word judging the thing, and a last word said apart, are no part of its name
                                      "What is the usual full restore procedure?",
                                      # a possessive is a relation, like "of": "the runbook's restore steps"
                                      "What is the on-call guide's restore procedure?"])
def test_a_term_the_passages_say_is_not_refused_as_unknown(runbooks, question):
    answer = runbooks.ask(question)
    assert "term asked about" not in answer.reason, answer.reason


def test_a_term_no_passage_says_is_refused(runbooks):
    # Both words are in the runbooks ("snapshot", "the application servers that write"), the term is not.
    answer = runbooks.ask("What is snapshot writing?")
    assert answer.refused and "the term asked about is not in the corpus: 'snapshot writing'" in answer.reason
    answer = runbooks.ask("What is the recommended snapshot writing?")
    assert answer.refused and "the term asked about is not in the corpus: 'snapshot writing'" in answer.reason


# Verification --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def schedule_context(runbooks):
    retrieval = runbooks.retriever.retrieve("How often are database backups taken?")
    context = build_context(retrieval, runbooks.store, runbooks.retriever.generation, runbooks.embedder.dimension)
    assert context.passages[0].hit.section == "Schedule" and SCHEDULE_FACT in context.passages[0].units
    return context


def check(runbooks, text, context, attribute=False):
    return verify(text, context, runbooks.embedder.encode, runbooks.settings.support_min_score,
                  profile=runbooks.profile, attribute=attribute)


def test_made_up_sentence_is_unsupported(runbooks, schedule_context):
    text = f"{SCHEDULE_FACT} [1] Penguins guard the snapshots on the Moon during leap years. [1]"
    checked = check(runbooks, text, schedule_context)
    assert [s.supported for s in checked.sentences] == [True, False]
    assert checked.removed == 1 and checked.invalid_citations == 0
    assert checked.sentences[0].score > checked.sentences[1].score


def test_true_sentence_cited_to_the_wrong_passage_is_unsupported(runbooks, schedule_context):
    wrong = next(p.n for p in schedule_context.passages if SCHEDULE_FACT not in p.hit.text)
    checked = check(runbooks, f"{SCHEDULE_FACT} [{wrong}]", schedule_context)
    assert checked.removed == 1 and not checked.sentences[0].supported
    # With attribution (the chain's default) the sentence is cited to the passage that holds it.
    recited = check(runbooks, f"{SCHEDULE_FACT} [{wrong}]", schedule_context, attribute=True)
    assert recited.removed == 0 and recited.reattributed == 1
    [n] = recited.sentences[0].citations
    assert SCHEDULE_FACT in schedule_context.by_number()[n].hit.text


def test_citation_numbers_outside_the_passages_are_counted(runbooks, schedule_context):
    absent = len(schedule_context.passages) + 1
    only_invalid = check(runbooks, f"{SCHEDULE_FACT} [{absent}]", schedule_context)
    assert only_invalid.invalid_citations == 1 and only_invalid.removed == 1
    assert only_invalid.sentences[0].citations == ()
    mixed = check(runbooks, f"{SCHEDULE_FACT} [1][{absent}]", schedule_context)
    assert mixed.invalid_citations == 1 and mixed.removed == 0
    assert mixed.sentences[0].supported and mixed.sentences[0].citations == (1,)


def test_parse_sentences_moves_trailing_markers_onto_their_sentence():
    parsed = parse_sentences("Backups run nightly. [1] Check the alerts [2][3] Swaps are recorded [1, 3].")
    assert parsed == [("Backups run nightly.", (1,)), ("Check the alerts", (2, 3)), ("Swaps are recorded.", (1, 3))]


# Rendering -----------------------------------------------------------------------------------------

def rendered_answer() -> Answer:
    citation = Citation(n=1, id="c1", source="backups.md", title="Backup <Runbook>", section="Schedule",
                        text=f"{SCHEDULE_FACT} Each snapshot is copied to a second region within an hour.")
    sentence = SentenceCheck(text=SCHEDULE_FACT, citations=(1,), supported=True, score=0.9)
    return Answer(question="q", text=f'{SCHEDULE_FACT} [1] <script>alert("x")</script> [2]', citations=(citation,),
                  refused=False, sentences=(sentence,))


def test_answer_message_links_known_citations_and_escapes_html():
    from dataclasses import replace

    # From the text alone (no checked sentences): an unknown number stays plain text, not a link.
    links = SourceLinks(Path("/nonexistent"))
    html = answer_message(replace(rendered_answer(), sentences=()), links)
    assert cite_link(rendered_answer().citations[0], links) in html and html.count('class="cite"') == 1
    assert 'href="source/backups.md#schedule"' in html
    assert "[2]" not in html and "&#91;2&#93;" in html
    assert "<script>" not in html and "&#60;script&#62;" in html
    # From the checked sentences: only what the verifier kept, escaped, each with its link.
    hostile = SentenceCheck(text='Snapshots <script>alert("x")</script> are kept.', citations=(1,),
                            supported=True, score=0.9)
    html = answer_message(replace(rendered_answer(), sentences=(hostile,)), links)
    assert html.startswith('<div class="answer"><p>') and html.count('class="cite" href="source/backups.md#schedule"') == 1
    assert "<script>" not in html and "&#60;script&#62;" in html


def test_sources_panel_escapes_and_marks_the_supporting_words():
    panel = sources_panel(rendered_answer())
    assert 'class="src cited-1"' in panel and "Backup &lt;Runbook&gt;" in panel and "<Runbook>" not in panel
    assert "<mark>backups</mark>" in panel and "<mark>night</mark>" in panel
    assert "<mark>region</mark>" not in panel  # from a sentence the answer did not use


def test_refusal_renders_without_sources(runbooks):
    answer = runbooks.ask("What does the runbook say about Kubernetes Helm charts?")
    assert 'class="refusal"' in answer_message(answer) and "cite" not in answer_message(answer)
    assert 'class="sources refused"' in sources_panel(answer)


def test_a_real_answer_renders_a_link_per_citation(runbooks):
    answer = runbooks.ask("How often are database backups taken?")
    html = answer_message(answer, runbooks.links)
    assert all(cite_link(c, runbooks.links) in html for c in answer.citations)
    assert all(f'class="src cited-{c.n}"' in sources_panel(answer, runbooks.links) for c in answer.citations)
    # Each citation opens the cited document, served by the app at the cited section.
    assert all(f'href="source/{c.source}?at={c.start}-{c.end}#cited"' in html for c in answer.citations)


def test_a_lead_in_picked_as_a_sentence_brings_its_items():
    from assistant.extractive import ExtractiveAnswerer

    unit = lambda pos, text: (1.0 - pos / 10, 0.5, 1, pos, text)  # noqa: E731
    by_unit = {(1, p): unit(p, t) for p, t in enumerate(["Popular frameworks:", "Flux", "Argo CD",
                                                          "It syncs from Git.", "Fleet"])}
    items = {1: (-1, 1, 2, 2, 3)}  # item 2 has two sentences: only its first is quoted
    picked = ExtractiveAnswerer().with_items([by_unit[1, 0]], by_unit, items)
    assert [p[4] for p in picked] == ["Popular frameworks:", "Flux", "Argo CD", "Fleet"]
    assert ExtractiveAnswerer().with_items([by_unit[1, 1]], by_unit, items) == [by_unit[1, 1]]


def test_rerank_pool_zero_keeps_the_fused_order(runbooks):
    """With rerank off, hits come in reciprocal-rank-fusion order with RRF scores (at most
    3 / (rrf_k + 1): three rankings); with it on, the same candidates, reordered on their evidence."""
    from dataclasses import replace

    retriever = runbooks.retriever
    on = retriever.retrieve("How are database snapshots restored?", k=3).hits
    saved = retriever.rerank
    try:
        retriever.rerank = replace(saved, pool=0)
        off = retriever.retrieve("How are database snapshots restored?", k=10).hits
    finally:
        retriever.rerank = saved
    assert all(0 < h.score <= 3 / (runbooks.settings.rrf_k + 1) + 1e-9 for h in off)
    assert {h.id for h in on} <= {h.id for h in off[:saved.pool]}


def test_wiring_limits_numpy_blas_threads_as_set(tmp_path):
    from threadpoolctl import threadpool_info, threadpool_limits

    from assistant.app import limit_blas_threads

    def blas() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    before = blas()
    with threadpool_limits(limits=None):  # whatever the wiring sets is undone after the test
        Assistant.from_settings(make_settings(tmp_path, blas_threads=1), embedder=HashEmbedder())
        assert blas() <= {1}
        limit_blas_threads(0)  # 0 leaves the library's threads as they are
        assert blas() <= {1}
    assert blas() == before


def test_chunks_holding_a_word_almost_no_chunk_uses_join_the_reranked_pool(tmp_path):
    """"Why is there a JIT environment in the middle step?": the one chunk saying "JIT" is reranked (and gains
    for holding it) even when neither dense nor BM25 lists rank it high enough to be fused into the pool."""
    from dataclasses import replace

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("staging", "testing", "preview"):
        (corpus / f"{name}.md").write_text(f"# The {name} environment\n\nThe {name} environment hosts {name} jobs.\n")
    (corpus / "lowcode.md").write_text("# Low-code delivery\n\n## Step 2\n\nUse a JIT environment to import the "
                                       "unmanaged solution and export it as managed.\n")
    assistant = Assistant.from_settings(make_settings(tmp_path, corpus), embedder=HashEmbedder())
    assistant.ensure_index(progress=False)
    retriever = assistant.chain.retriever
    retriever.refresh()
    [jit] = [h.id for h in retriever.lookup(retriever.ids) if "JIT" in h.text]
    # "jit" and "step": one chunk, once
    assert retriever.rare("Why a JIT environment in step 2?") == (frozenset({"jit", "step"}), [jit])
    assert retriever.rare("Which environment hosts jobs?") == (frozenset(), [])  # words most chunks use
    retriever.rerank = replace(retriever.rerank, rare_df=0)
    assert retriever.rare("Why a JIT environment in step 2?") == (frozenset(), [])
