"""Indexing stays bounded and resumable: huge tables and files are capped (with a warning naming the file),
an interrupted first build resumes, and a generation is switched to only when complete."""

from __future__ import annotations

import logging
import time

import pytest

from assistant.chunking import MAX_UNITS_PER_CHUNK, chunk_document
from assistant.config import Settings
from assistant.errors import UserError
from assistant.indexing import index_corpus
from assistant.store import Store
from assistant.types import Document
from tests.fakes import HashEmbedder


def settings_for(tmp_path, **overrides) -> Settings:
    return Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", data_dir=tmp_path / "data",
                    **overrides)


def big_table(rows: int) -> str:
    lines = ["# Inventory", "", "## Hosts", "", "| host | owner | region |", "| --- | --- | --- |"]
    lines += [f"| host-{i} | team-{i % 37} | region-{i % 5} |" for i in range(rows)]
    return "\n".join(lines) + "\n"


def test_a_50000_row_table_becomes_a_bounded_number_of_chunks_quickly():
    started = time.perf_counter()
    chunks = chunk_document(Document(source="inventory.md", title="Inventory", text=big_table(50_000)))
    elapsed = time.perf_counter() - started
    assert len(chunks) <= 2_000, len(chunks)  # was one chunk per row: 50,000
    assert sum(len(c.units) for c in chunks) <= 2_000 * MAX_UNITS_PER_CHUNK
    assert all(len(c.units) <= MAX_UNITS_PER_CHUNK for c in chunks)
    assert "host-49999" in chunks[-1].text and elapsed < 30
    small = chunk_document(Document(source="s.md", title="S", text=big_table(30)))
    assert len(small) == 30  # small tables keep one chunk per row, as before


def test_a_file_over_the_chunk_cap_is_cut_with_a_warning_naming_it(tmp_path, caplog):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ok.md").write_text("# Ok\n\n## Part\n\nDeploys are reviewed by the platform team every week.\n")
    paragraphs = "\n\n".join(f"Paragraph {i} says that service {i} is deployed by pipeline {i} after "
                             f"review {i} and a canary stage that watches error budget {i} for an hour."
                             for i in range(3_000))
    (corpus / "huge.md").write_text(f"# Huge\n\n## Everything\n\n{paragraphs}\n")
    settings = settings_for(tmp_path, max_chunks_per_file=40)
    with caplog.at_level(logging.WARNING):
        stats = index_corpus(settings, Store.open(settings), HashEmbedder(), progress=False)
    assert stats.chunks <= 41 and "huge.md" in caplog.text and "40" in caplog.text


class Interrupting(HashEmbedder):
    """Dies on its n-th batch, as a killed or crashed first build would."""

    def __init__(self, fail_at: int):
        super().__init__()
        self.fail_at = fail_at

    def encode(self, texts):
        if self.batches + 1 >= self.fail_at:
            raise KeyboardInterrupt("killed")
        return super().encode(texts)


def test_an_interrupted_first_build_resumes_where_it_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr("assistant.indexing.EMBED_BATCH", 8)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(12):
        text = "\n\n".join(f"Team {i} runbook step {j}: restart service {i}-{j} and check dashboard {j}."
                           for j in range(60))
        (corpus / f"runbook-{i}.md").write_text(f"# Runbook {i}\n\n## Steps\n\n{text}\n")
    settings = settings_for(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        index_corpus(settings, Store.open(settings), Interrupting(fail_at=3), progress=False)
    assert Store.open(settings).active_generation() is None  # nothing half-built is served
    again = HashEmbedder()
    stats = index_corpus(settings, Store.open(settings), again, progress=False)
    assert 0 < stats.embedded < stats.chunks  # only what the first run did not finish
    store = Store.open(settings)
    assert store.count(store.active_generation())[0] == stats.chunks
    assert store.leftovers() == []


def test_a_generation_missing_chunks_is_never_switched_to(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\n## One\n\nReleases are cut on Tuesday by the release captain.\n\n"
                                 "## Two\n\nHotfixes skip the train but need two approvals.\n")
    settings = settings_for(tmp_path)
    index_corpus(settings, Store.open(settings), HashEmbedder(), progress=False)
    store = Store.open(settings)
    active = store.active_generation()
    real_upsert = Store.upsert

    def lossy(self, generation, chunks, *args, **kwargs):  # another writer deleting rows under us
        return real_upsert(self, generation, chunks[1:], args[0][1:], args[1][1:], *args[2:], **kwargs)

    monkeypatch.setattr(Store, "upsert", lossy)
    with pytest.raises(UserError, match="incomplete"):
        index_corpus(settings, Store.open(settings), HashEmbedder(), rebuild=True, progress=False)
    assert Store.open(settings).active_generation() == active
