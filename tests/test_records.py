"""The store's record file: a process reads the active version's rows without opening Chroma, the same rows."""

from __future__ import annotations

import json
from dataclasses import replace
import subprocess
import sys
import textwrap

import numpy as np

from assistant.config import PROJECT_ROOT
from assistant.store import Store
from assistant.store.chroma import _client
from assistant.store.records import store_stamp
from tests.test_snapshot import _indexed, _retriever, _state
from tests.test_unitvectors import chunk, unit_vectors


def _kept(tmp_path, n: int = 12):
    """An indexed store whose record file the first serving process wrote."""
    settings, store = _indexed(tmp_path, n)
    cards = [replace(chunk(i), id=f"card{i}", kind="card") for i in (1, 0, 3)]  # doc1, doc0, doc1
    store.upsert("g", cards, unit_vectors(3, 5), [unit_vectors(3, 7 + i) for i in range(3)],
                 {"doc0.md": "h", "doc1.md": "h"})
    store.activate("g", model="test", format=7)
    _state(_retriever(store, settings.index_dir / "snapshots" / settings.collection))
    assert store.records.path.exists()
    return settings, store


def _reads(store: Store, ids: list[str]) -> tuple:
    packs = store.unit_packs("g", ids + ["gone"])
    return (store.info(), store.active_version(), store.chunk_count("g"), store.legacy("g"),
            # An id asked twice comes back twice (Chroma itself refuses repeated ids in one get).
            store.get_chunks("g", list(reversed(ids)) + ["gone"] + ids[:2]), store.cards_of("g", ["doc0.md", "doc1.md"]),
            {cid: (p.texts, p.items, p.vectors.tobytes()) for cid, p in packs.items()},
            [(u.chunk_id, u.n, u.text, u.item, u.vector.tobytes()) for u in store.units_of("g", ids[:3])])


def _from_chroma(settings) -> Store:
    store = Store.open(settings)
    store.records = None
    return store


def test_the_record_file_gives_what_chroma_gives_without_opening_it(tmp_path):
    settings, _ = _kept(tmp_path)
    ids = [f"c{i}" for i in range(12)]
    fresh = Store.open(settings)
    assert fresh._records("g") is not None
    assert _reads(fresh, ids) == _reads(_from_chroma(settings), ids)
    assert [h.id for h in fresh.cards_of("g", ["doc1.md", "doc0.md"])] == ["card1", "card0", "card3"]
    assert fresh._view.client is None  # Chroma was never opened


def test_a_fresh_retriever_serves_the_same_from_the_record_file(tmp_path):
    settings, store = _kept(tmp_path)
    folder = settings.index_dir / "snapshots" / settings.collection
    built = _state(_retriever(_from_chroma(settings), folder))
    fresh = Store.open(settings)
    assert _state(_retriever(fresh, folder)) == built and fresh._view.client is None


def test_any_write_to_the_store_sends_the_reads_back_to_chroma(tmp_path):
    settings, store = _kept(tmp_path)
    reader = Store.open(settings)
    assert reader._records("g") is not None
    store.upsert("g", [chunk(99)], unit_vectors(1, 9), [unit_vectors(3, 99)], {"doc1.md": "h"})  # not committed
    assert reader._records("g") is None
    assert reader.chunk_count("g") == 16 and [h.id for h in reader.get_chunks("g", ["c99"])] == ["c99"]


def test_a_process_with_chroma_open_checks_the_file_again_without_rewriting_it(tmp_path):
    settings, store = _kept(tmp_path)
    before = store.records.path.stat().st_ino
    _client(settings, 3)  # another copy (as in another process): opening Chroma writes to the store's file
    reader = Store.open(settings)
    assert reader._records("g") is None
    generation, revision = store.active_version()
    reader.keep_records(generation, revision)
    assert reader._records("g") is not None and store.records.path.stat().st_ino == before


def test_a_file_of_another_version_or_damaged_is_ignored(tmp_path):
    settings, store = _kept(tmp_path)
    ids = [f"c{i}" for i in range(12)]
    expected = _reads(_from_chroma(settings), ids)
    store.activate("g", model="test", format=8)  # a new revision: the file's stamp no longer matches
    reader = Store.open(settings)
    assert reader._records() is None and reader.info()["format"] == 8
    reader.keep_records(*reader.active_version())  # rewritten for the new version
    assert Store.open(settings).info()["format"] == 8
    prefix = json.loads(store.records.path.read_bytes()[:256])
    assert prefix["stamp"] == store_stamp(settings.chroma_path / "chroma.sqlite3")
    store.records.path.write_bytes(b"garbage" + store.records.path.read_bytes()[7:])
    damaged = Store.open(settings)
    assert damaged._records() is None and damaged.chunk_count("g") == 15
    assert _reads(damaged, ids)[4:] == expected[4:]


def test_a_chroma_server_has_no_record_file(tmp_path, monkeypatch):
    from tests.conftest import make_settings

    monkeypatch.setattr("assistant.store.copies._client", lambda settings, spelling=0: object())
    assert Store.open(make_settings(tmp_path, chroma_url="http://127.0.0.1:9")).records is None


def test_a_cold_query_never_imports_chromadb(tmp_path):
    settings, _ = _kept(tmp_path)
    probe = textwrap.dedent(f"""
        import sys
        from assistant.context import build_context
        from assistant.store import Store
        from tests.conftest import make_settings
        from tests.test_snapshot import _retriever
        settings = make_settings(__import__("pathlib").Path({str(tmp_path)!r}))
        retriever = _retriever(Store.open(settings), settings.index_dir / "snapshots" / settings.collection)
        retrieval = retriever.retrieve("chunk 3 text")
        context = build_context(retrieval, retriever.store, retriever.generation, 32)
        assert context.passages and len(context.passages[0].units) == 3, context
        print(sorted(m for m in sys.modules if m.split(".")[0] == "chromadb"))
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT_ROOT,
                          env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_vectors_from_the_record_file_are_the_stored_ones(tmp_path):
    settings, _ = _kept(tmp_path)
    fresh, chroma = Store.open(settings), _from_chroma(settings)
    for cid in ("c0", "c11"):
        assert np.array_equal(fresh.unit_vectors("g", [cid])[cid], chroma.unit_vectors("g", [cid])[cid])
