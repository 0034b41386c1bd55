"""Index: incremental add / change / delete, build-aside rebuild, and one writer at a time."""

from __future__ import annotations

import pytest

from assistant.errors import UserError
from assistant.indexing import index_corpus, index_lock
from assistant.store import Store
from tests.conftest import copy_corpus, make_settings, stored_ids_and_texts

pytestmark = pytest.mark.slow

EXTRA = "# GitOps\n\n## Basics\n\nGitOps keeps the desired state of a system in Git and lets an agent reconcile it.\n"


def run(settings, embedder, **kw):
    return index_corpus(settings, Store.open(settings), embedder, progress=False, **kw)


def test_incremental_add_change_delete(tmp_path, embedder):
    corpus = copy_corpus(tmp_path / "corpus")
    settings = make_settings(tmp_path, corpus)
    first = run(settings, embedder)
    assert first.documents == 1 and first.embedded == first.chunks > 20 and first.deleted == 0

    again = run(settings, embedder)
    assert (again.embedded, again.deleted, again.chunks) == (0, 0, first.chunks)

    (corpus / "gitops.md").write_text(EXTRA)
    added = run(settings, embedder)
    assert added.documents == 2 and added.embedded == 1 and added.chunks == first.chunks + 1

    article = corpus / "mlops-devops-modelops.md"
    article.write_text(article.read_text().replace("Senko group", "The Senko group"))
    changed = run(settings, embedder)
    assert changed.embedded == 1 and changed.deleted == 1 and changed.chunks == added.chunks

    (corpus / "gitops.md").unlink()
    deleted = run(settings, embedder)
    assert deleted.embedded == 0 and deleted.deleted == 1 and deleted.chunks == first.chunks

    store = Store.open(settings)
    chunks, units = store.count(store.active_generation())
    assert chunks == first.chunks
    ids, docs = stored_ids_and_texts(store)
    assert len(set(ids)) == len(ids) and not any("GitOps keeps" in d for d in docs)
    assert any("The Senko group" in d for d in docs)
    assert units > chunks  # every chunk stored its citable units


def test_rebuild_switches_generation_and_drops_the_old(tmp_path, embedder):
    settings = make_settings(tmp_path, copy_corpus(tmp_path / "corpus"))
    run(settings, embedder)
    store = Store.open(settings)
    old = store.active_generation()
    stats = run(settings, embedder, rebuild=True)
    assert stats.embedded == stats.chunks
    assert store.active_generation() != old
    assert store.leftovers() == []


def test_unreadable_file_keeps_its_old_chunks(tmp_path, embedder):
    corpus = copy_corpus(tmp_path / "corpus")
    (corpus / "gitops.md").write_text(EXTRA)
    settings = make_settings(tmp_path, corpus)
    before = run(settings, embedder)
    (corpus / "gitops.md").write_bytes(b"")  # now unreadable (no text)
    after = run(settings, embedder)
    assert after.skipped == ("gitops.md",) and after.deleted == 0 and after.chunks == before.chunks


def test_no_corpus_files_is_a_user_error(tmp_path, embedder):
    (tmp_path / "corpus").mkdir()
    with pytest.raises(UserError, match="no readable corpus files"):
        run(make_settings(tmp_path), embedder)


def test_second_writer_is_refused(tmp_path, embedder):
    settings = make_settings(tmp_path, copy_corpus(tmp_path / "corpus"))
    with index_lock(settings):
        with pytest.raises(UserError, match="another `assistant index`"):
            run(settings, embedder)


def test_changed_chunking_rules_reach_the_index_on_the_next_incremental_run(tmp_path, embedder, monkeypatch):
    """Every run chunks every document and compares chunk ids (text and units): a change of chunking
    rules reaches an existing index without --rebuild, and only the chunks it changed are embedded again."""
    from dataclasses import replace

    import assistant.indexing as indexing
    from assistant.chunking import chunk_id

    settings = make_settings(tmp_path, copy_corpus(tmp_path / "corpus"))
    first = run(settings, embedder)
    real = indexing.chunk_document

    def new_rules(doc, *args, **kwargs):  # a rule change that alters one unit of the article
        first_chunk, *rest = real(doc, *args, **kwargs)
        units = (*first_chunk.units[:-1], first_chunk.units[-1] + " Revised.")
        text = first_chunk.text + " Revised."
        revised = replace(first_chunk, text=text, units=units,
                          id=chunk_id(doc.source, first_chunk.section, text, units, 0))
        return [revised, *rest]

    monkeypatch.setattr(indexing, "chunk_document", new_rules)
    changed = run(settings, embedder)
    assert (changed.embedded, changed.deleted, changed.chunks) == (1, 1, first.chunks)
    ids, docs = stored_ids_and_texts(Store.open(settings))
    assert any(d.endswith(" Revised.") for d in docs)
