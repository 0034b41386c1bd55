"""Unit packs: a chunk's units and their vectors stored per chunk (float16), searched without a vector index."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from assistant.backup import export_index, import_index
from assistant.retrieval import HybridRetriever
from assistant.store import Store
from assistant.types import Chunk
from assistant.unitvectors import UnitMatrix, best_per_chunk, pack_metadata, unpack
from tests.conftest import make_settings, nearest_chunks_by_unit

DIM = 32


def unit_vectors(n: int, seed: int) -> np.ndarray:
    vecs = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def chunk(i: int, units: int = 3) -> Chunk:
    return Chunk(id=f"c{i}", source=f"doc{i % 2}.md", title="Doc", section=f"Part {i}", text=f"chunk {i} text",
                 start=0, end=10, units=tuple(f"chunk {i} unit {u}." for u in range(units)),
                 unit_items=tuple(u if u else -1 for u in range(units)))


@pytest.mark.parametrize("dtype, tolerance", [("float16", 1e-3), ("float32", 0.0)])
def test_a_pack_round_trips_its_texts_items_and_vectors(dtype, tolerance):
    vecs = unit_vectors(4, 1)
    meta = pack_metadata(["a", "b", "c", "d"], [-1, 0, 0, 1], vecs, dtype)
    assert all(isinstance(v, (str, int)) for v in meta.values())  # what Chroma metadata and a backup carry
    pack = unpack("c1", json.loads(json.dumps(meta)))
    assert pack.texts == ("a", "b", "c", "d") and pack.items == (-1, 0, 0, 1)
    assert pack.vectors.dtype == np.float32 and pack.vectors.shape == (4, DIM)
    assert np.abs(pack.vectors - vecs).max() <= tolerance
    if dtype == "float16":
        assert np.abs(pack.vectors - vecs).max() > 0  # it really is stored at half precision
        assert len(meta["vectors"]) < len(pack_metadata(["a"] * 4, [-1] * 4, vecs, "float32")["vectors"]) * 0.6


def test_an_empty_pack_round_trips():
    pack = unpack("c", pack_metadata([], [], np.zeros((0, DIM), np.float32)))
    assert pack.texts == () and pack.vectors.shape[0] == 0


def test_a_chunk_ranks_by_its_best_unit():
    query = unit_vectors(1, 7)[0]
    near = query + 0.05 * unit_vectors(1, 8)[0]
    near /= np.linalg.norm(near)
    packs = {"far": unit_vectors(3, 2), "one good unit": np.vstack([unit_vectors(5, 3), near])}
    ranked = best_per_chunk(query, packs)
    assert [cid for cid, _ in ranked] == ["one good unit", "far"]
    assert ranked[0][1] == pytest.approx(float(near @ query), abs=1e-6)


def test_the_exact_matrix_gives_a_global_nearest_unit_search():
    packs = [(f"c{i}", unit_vectors(1 + i % 4, i)) for i in range(40)] + [("empty", np.zeros((0, DIM), np.float32))]
    matrix = UnitMatrix(packs)
    assert len(matrix) == sum(len(v) for _, v in packs)
    query = unit_vectors(1, 99)[0]
    expected = nearest_chunks_by_unit(packs, query, 12)
    got = matrix.top_chunks(query, 12)
    assert [cid for cid, _ in got] == list(expected)
    assert np.allclose([s for _, s in got], list(expected.values()), atol=1e-6)
    assert UnitMatrix([]).top_chunks(query, 5) == []


@pytest.fixture
def store(tmp_path):
    settings = make_settings(tmp_path)
    store = Store.open(settings)
    chunks = [chunk(i, units=1 + i % 3) for i in range(6)]
    generation = "g1"
    store.upsert(generation, chunks, unit_vectors(len(chunks), 0),
                 [unit_vectors(len(c.units), 10 + i) for i, c in enumerate(chunks)],
                 {"doc0.md": "h0", "doc1.md": "h1"})
    store.activate(generation, model="test", format=7)
    return store


def test_units_of_gives_every_unit_with_its_vector_and_no_unit_index_exists(store):
    generation = store.active_generation()
    units = store.units_of(generation, ["c5", "c1", "gone"])
    assert [(u.chunk_id, u.n, u.text) for u in units] == [
        ("c5", 0, "chunk 5 unit 0."), ("c5", 1, "chunk 5 unit 1."), ("c5", 2, "chunk 5 unit 2."),
        ("c1", 0, "chunk 1 unit 0."), ("c1", 1, "chunk 1 unit 1.")]
    assert [u.item for u in units[:3]] == [-1, 1, 2]
    assert np.abs(np.stack([u.vector for u in units[:3]]) - unit_vectors(3, 15)).max() <= 1e-3
    assert store.count(generation) == (6, 1 + 2 + 3 + 1 + 2 + 3)
    names = {c if isinstance(c, str) else c.name for c in store.client.list_collections()}
    assert not any(n.endswith("-units") for n in names)  # no per-unit rows, no HNSW of units
    assert not store.legacy(generation)


def test_deleting_a_chunk_removes_its_units(store):
    generation = store.active_generation()
    store.delete(generation, ["c2"])
    assert store.units_of(generation, ["c2"]) == [] and store.unit_packs(generation, ["c2", "c3"]).keys() == {"c3"}
    assert store.count(generation) == (5, 1 + 2 + 1 + 2 + 3)


def test_backup_and_restore_keep_the_unit_vectors_bit_for_bit(store, tmp_path):
    generation = store.active_generation()
    backup = tmp_path / "b.jsonl.gz"
    counts = export_index(store, backup)
    assert counts == {"chunks": 6, "units": 12}  # a row per unit, as before packs: one backup format
    target = Store.open(make_settings(tmp_path / "restored"))
    assert import_index(target, backup) == counts
    restored = target.active_generation()
    ids = [f"c{i}" for i in range(6)]
    before, after = store.units_of(generation, ids), target.units_of(restored, ids)
    assert [(u.chunk_id, u.n, u.text, u.item) for u in before] == [(u.chunk_id, u.n, u.text, u.item) for u in after]
    assert all(np.array_equal(a.vector, b.vector) for a, b in zip(before, after))
    assert target.count(restored) == store.count(generation)


def test_an_import_packs_unit_rows_split_across_its_batches(store, tmp_path, monkeypatch):
    """A backup holds a row per unit (also those written before packs, with a format-6 header): the
    import packs them, also when one chunk's units land in two of its batches, and upgrades the format."""
    import assistant.backup as backup_module

    generation = store.active_generation()
    backup = tmp_path / "b.jsonl.gz"
    export_index(store, backup)
    with gzip.open(backup, "rt") as fh:
        lines = fh.read().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "methodology-assistant-index/2"
    assert [json.loads(line)["kind"] for line in lines[1:-1]] == ["chunk"] * 6 + ["unit"] * 12
    header["info"]["format"] = 6
    old = tmp_path / "old.jsonl.gz"
    with gzip.open(old, "wt") as fh:
        fh.write("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    monkeypatch.setattr(backup_module, "BATCH", 4)
    target = Store.open(make_settings(tmp_path / "restored"))
    import_index(target, old)
    restored = target.active_generation()
    ids = [f"c{i}" for i in range(6)]
    before, after = store.units_of(generation, ids), target.units_of(restored, ids)
    assert [(u.chunk_id, u.n, u.text, u.item) for u in before] == [(u.chunk_id, u.n, u.text, u.item) for u in after]
    assert all(np.array_equal(a.vector, b.vector) for a, b in zip(before, after))
    assert target.info()["format"] == 7  # packed on the way in: no rebuild needed


def test_an_index_with_per_unit_rows_is_still_served(tmp_path):
    """An index written before packs (units as rows with their own vectors) serves until rebuilt."""
    settings = make_settings(tmp_path)
    store = Store.open(settings)
    client = store.client
    chunks_col = client.get_or_create_collection("methodology-gold-chunks", configuration={"hnsw": {"space": "cosine"}},
                                                 embedding_function=None)
    units_col = client.get_or_create_collection("methodology-gold-units", configuration={"hnsw": {"space": "cosine"}},
                                                embedding_function=None)
    vecs = unit_vectors(4, 3)
    chunks_col.upsert(ids=["a", "b"], documents=["alpha", "beta"], embeddings=unit_vectors(2, 4),
                      metadatas=[{"source": "x.md", "units": 2}, {"source": "x.md", "units": 2}])
    units_col.upsert(ids=["a:0", "a:1", "b:0", "b:1"], documents=["a0", "a1", "b0", "b1"], embeddings=vecs,
                     metadatas=[{"chunk_id": c, "n": n, "item": -1} for c in "ab" for n in range(2)])
    store.activate("gold", model="test", format=6)
    assert store.legacy("gold")
    assert [(u.chunk_id, u.text) for u in store.units_of("gold", ["b", "a"])] == [
        ("b", "b0"), ("b", "b1"), ("a", "a0"), ("a", "a1")]
    assert store.count("gold") == (2, 4)
    matches = store.query_units("gold", vecs[3], 1)
    assert (matches[0].chunk_id, matches[0].n) == ("b", 1)
    # An export packs its units and the import upgrades it: no re-embedding, no rebuild by `assistant index`
    backup = tmp_path / "old-index.jsonl.gz"
    assert export_index(store, backup) == {"chunks": 2, "units": 4}
    target = Store.open(make_settings(tmp_path / "upgraded"))
    import_index(target, backup)
    upgraded = target.active_generation()
    assert not target.legacy(upgraded) and target.info()["format"] == 7
    assert [u.text for u in target.units_of(upgraded, ["b", "a"])] == ["b0", "b1", "a0", "a1"]
    got = np.stack([u.vector for u in target.units_of(upgraded, ["a", "b"])])
    assert np.abs(got - vecs).max() <= 1e-3  # now stored as float16, like a fresh build


class _Embedder:
    dimension = DIM

    def __init__(self, vector):
        self.vector = vector

    def encode(self, texts):
        return np.stack([self.vector] * len(texts))


@pytest.mark.parametrize("exact_max", [10_000, 0])
def test_the_dense_units_signal_finds_the_chunk_of_the_best_unit(tmp_path, exact_max):
    """Exact over all units while small; past the bound, over the units of the dense and BM25 candidates."""
    settings = make_settings(tmp_path, unit_search_exact_max=exact_max, unit_candidates=3)
    store = Store.open(settings)
    query = unit_vectors(1, 50)[0]
    chunks = [chunk(i) for i in range(8)]
    packs = [unit_vectors(3, 100 + i) for i in range(8)]
    packs[6][1] = query  # chunk 6 holds the one unit that matches the question exactly
    chunk_vecs = unit_vectors(8, 7)
    store.upsert("g", chunks, chunk_vecs, packs, {"doc0.md": "h", "doc1.md": "h"})
    store.activate("g", model="test", format=7)
    retriever = HybridRetriever(store, _Embedder(query), k=3, candidates=3)
    retriever.refresh()
    assert (retriever._units is not None) == (exact_max > 0)
    dense = [cid for cid, _ in retriever.dense(query, 8)[0]]
    candidates = dense[:3] if exact_max == 0 else []
    ranked = retriever.dense_units(query, 9, candidates + ["c6"])
    assert ranked[0][0] == "c6" and ranked[0][1] == pytest.approx(1.0, abs=1e-3)
    if exact_max == 0:  # only candidates are scored: a chunk no other signal found is not searched
        assert {cid for cid, _ in retriever.dense_units(query, 9, dense[:3])} <= set(dense[:3])
    store.delete("g", ["c6"])
    store.activate("g", model="test", format=7)
    retriever.refresh(max_age_s=0)
    assert "c6" not in {cid for cid, _ in retriever.dense_units(query, 30, dense + ["c6"])}


@pytest.mark.parametrize("exact_max", [10_000, 0])
def test_the_dense_chunk_ranking_is_exact_while_the_corpus_is_small(tmp_path, exact_max):
    """Exact: the brute-force order over every stored chunk vector, the same in every process. Past the
    bound it is Chroma's approximate query, with the hits' texts read along."""
    settings = make_settings(tmp_path, unit_search_exact_max=exact_max)
    store = Store.open(settings)
    chunk_vecs = unit_vectors(40, 11)
    store.upsert("g", [chunk(i) for i in range(40)], chunk_vecs, [unit_vectors(3, 200 + i) for i in range(40)],
                 {"doc0.md": "h", "doc1.md": "h"})
    store.activate("g", model="test", format=7)
    query = unit_vectors(1, 99)[0]
    retriever = HybridRetriever(store, _Embedder(query), k=3, candidates=3)
    retriever.refresh()
    ranked, hits = retriever.dense(query, 10)
    sims = chunk_vecs @ query
    brute = [f"c{i}" for i in np.argsort(-sims)[:10]]
    if exact_max:
        assert [cid for cid, _ in ranked] == brute and hits == []
        assert [score for _, score in ranked] == pytest.approx(sorted(sims, reverse=True)[:10], abs=1e-5)
        assert [h.id for h in retriever.retrieve("q").hits] and retriever.retrieve("q").hits[0].text
    else:
        assert [h.id for h in hits] == [cid for cid, _ in ranked] and hits[0].text
        assert len(set(cid for cid, _ in ranked) & set(brute)) >= 8


def test_incremental_indexing_adds_and_removes_a_documents_unit_packs(tmp_path):
    from assistant.indexing import index_corpus
    from tests.fakes import HashEmbedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\n## Backups\n\nBackups run nightly. Each copy goes to a second region.\n")
    (corpus / "b.md").write_text("# B\n\n## Alerts\n\n"
                                 "Alerts page the on-call engineer. Pages repeat after ten minutes.\n")
    settings = make_settings(tmp_path, corpus)
    store, embedder = Store.open(settings), HashEmbedder()
    index_corpus(settings, store, embedder, progress=False)
    generation = store.active_generation()
    by_source = {h.source: h.id for batch in store.iter_chunks(generation) for h in batch if h.kind != "card"}
    assert [u.text for u in store.units_of(generation, [by_source["b.md"]])] == [
        "Alerts page the on-call engineer.", "Pages repeat after ten minutes."]
    (corpus / "b.md").unlink()
    stats = index_corpus(settings, store, embedder, progress=False)
    assert stats.deleted >= 1 and store.active_generation() == generation  # incremental, same generation
    assert store.unit_packs(generation, [by_source["b.md"]]) == {}
    assert store.units_of(generation, [by_source["a.md"]])
    assert store.count(generation)[1] == sum(len(p.texts) for p in store.unit_packs(
        generation, [h.id for batch in store.iter_chunks(generation) for h in batch]).values())


def test_the_exact_matrix_ranks_tied_units_the_same_whatever_order_the_store_pages_in():
    shared = unit_vectors(1, 7)  # one sentence that two overlapping chunks both hold
    packs = [("b", np.vstack([shared, unit_vectors(2, 8)])), ("a", shared.copy()), ("c", unit_vectors(3, 9))]
    query = shared[0]
    assert UnitMatrix(packs).top_chunks(query, 1) == UnitMatrix(packs[::-1]).top_chunks(query, 1)
