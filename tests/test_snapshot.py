"""Index snapshots: a process loads the BM25 and vector matrices another one built, and serves the same."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.retrieval import HybridRetriever
from assistant.snapshot import SnapshotFiles
from assistant.store import Store
from tests.conftest import make_settings
from tests.test_unitvectors import _Embedder, chunk, unit_vectors


def _indexed(tmp_path, n: int = 12):
    settings = make_settings(tmp_path)
    store = Store.open(settings)
    store.upsert("g", [chunk(i) for i in range(n)], unit_vectors(n, 7), [unit_vectors(3, 100 + i) for i in range(n)],
                 {"doc0.md": "h", "doc1.md": "h"})
    store.activate("g", model="test", format=7)
    return settings, store


def _retriever(store, folder, exact_max: int = 10_000) -> HybridRetriever:
    retriever = HybridRetriever(store, _Embedder(unit_vectors(1, 50)[0]), k=3, candidates=3,
                                generic_headings=frozenset({"Part 1"}), snapshots=SnapshotFiles(folder))
    retriever.unit_search = type(retriever.unit_search)(exact_max=exact_max, candidates=3)
    return retriever


def _state(retriever: HybridRetriever):
    retriever.refresh(max_age_s=0)
    vector = unit_vectors(1, 50)[0]
    return (retriever.ids, sorted(retriever.vocabulary()), retriever.topics(), retriever.chunks_with("chunk"),
            retriever.sparse("chunk 3 text", 5), retriever.dense(vector, 5), retriever.dense_units(vector, 9, ["c1"]),
            [(h.id, h.score) for h in retriever.retrieve("chunk 3 text").hits], retriever.spelled("which chnuk"))


@pytest.mark.parametrize("exact_max", [10_000, 0])
def test_a_second_process_loads_the_snapshot_and_serves_the_same(tmp_path, monkeypatch, exact_max):
    settings, store = _indexed(tmp_path)
    folder = tmp_path / "snapshots"
    built = _state(_retriever(store, folder, exact_max))
    assert len(list(folder.glob("*.npz"))) == 1
    walks = []
    monkeypatch.setattr(HybridRetriever, "_walk", lambda self, *a: walks.append(1))
    loaded = _retriever(Store.open(settings), folder, exact_max)
    assert _state(loaded) == built and walks == []
    assert built[-1] == "which chunk"  # the words the chunks write came back with the snapshot
    assert (loaded._units is None) == (exact_max == 0)
    if exact_max:
        fresh = _retriever(store, tmp_path / "none", exact_max)
        fresh.snapshots = None
        monkeypatch.undo()
        _state(fresh)
        assert np.array_equal(loaded._units.matrix, fresh._units.matrix)
        assert np.array_equal(loaded._chunks.matrix, fresh._chunks.matrix)


def test_a_new_revision_or_other_chunks_are_never_served_from_an_old_snapshot(tmp_path):
    settings, store = _indexed(tmp_path)
    folder = tmp_path / "snapshots"
    _state(_retriever(store, folder))
    store.delete("g", ["c3"])  # written, not committed: same revision, one chunk fewer
    stale = _retriever(Store.open(settings), folder)
    stale.refresh()
    assert "c3" not in stale.ids and "c4" in stale.ids
    store.activate("g", model="test", format=7)  # a new revision: a new file, the old one dropped
    retriever = _retriever(Store.open(settings), folder)
    retriever.refresh()
    assert [p.name for p in folder.glob("*.npz")] == [SnapshotFiles(folder).path("g", retriever.revision).name]


def test_a_snapshot_without_matrices_is_not_used_under_a_higher_exact_bound(tmp_path):
    settings, store = _indexed(tmp_path)
    folder = tmp_path / "snapshots"
    _state(_retriever(store, folder, exact_max=0))
    higher = _retriever(Store.open(settings), folder, exact_max=10_000)
    higher.refresh()
    assert higher._units is not None and len(higher._units) == 36


def test_a_damaged_or_unwritable_snapshot_only_costs_a_walk(tmp_path):
    settings, store = _indexed(tmp_path)
    folder = tmp_path / "snapshots"
    built = _state(_retriever(store, folder))
    (path,) = folder.glob("*.npz")
    path.write_bytes(b"not a zip")
    assert _state(_retriever(Store.open(settings), folder)) == built
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder would be")
    assert _state(_retriever(Store.open(settings), blocked / "snapshots")) == built


def test_the_outline_gives_each_sub_section_first_chunk_in_document_order_and_survives_the_snapshot(
        tmp_path, monkeypatch):
    from assistant.types import Chunk

    def part(cid, source, section, start):
        return Chunk(id=cid, source=source, title="Doc", section=section, text=f"{section} text", start=start,
                     end=start + 5, units=(f"{section} unit.",), unit_items=(-1,))

    chunks = [part("w", "md.md", "Linters > write-good", 50), part("m2", "md.md", "Linters > markdownlint", 30),
              part("m1", "md.md", "Linters > markdownlint", 10), part("l", "md.md", "Linters", 0),
              part("x", "md.md", "Linters > markdownlint > Install", 40), part("o", "other.md", "Linters > Ruff", 0)]
    settings = make_settings(tmp_path)
    store = Store.open(settings)
    store.upsert("g", chunks, unit_vectors(len(chunks), 7), [unit_vectors(1, 100 + i) for i in range(len(chunks))],
                 {"md.md": "h", "other.md": "h"})
    store.activate("g", model="test", format=7)
    folder = tmp_path / "snapshots"
    built = _retriever(store, folder)
    assert built.subsections("md.md", "Linters") == ["m1", "w"]  # each section once, by its first chunk
    assert built.subsections("md.md", "Linters > markdownlint") == ["x"]
    assert built.subsections("md.md", "Linters > write-good") == [] and built.subsections("nope.md", "Linters") == []
    assert built.subsections("md.md", "") == ["l"]  # the top-level sections
    monkeypatch.setattr(HybridRetriever, "_walk", lambda self, *a: pytest.fail("walked again"))
    loaded = _retriever(Store.open(settings), folder)
    assert loaded.subsections("md.md", "Linters") == ["m1", "w"] and loaded.subsections("other.md", "Linters") == ["o"]
