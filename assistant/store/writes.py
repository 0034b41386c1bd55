"""Store, its writes: chunks with their unit packs, metadata, deletions, rows restored from a backup."""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np

from assistant.store.copies import BATCH, Copies
from assistant.types import Chunk, StoredRow
from assistant.unitvectors import pack_metadata, unpack

# A pack record is found by its chunk's id only, never by vector; Chroma wants one all the same.
_NO_VECTOR = [1.0]


def chunk_metadata(chunk: Chunk, file_hash: str) -> dict:
    return {"source": chunk.source, "title": chunk.title, "section": chunk.section, "start": chunk.start,
            "end": chunk.end, "kind": chunk.kind, "file_hash": file_hash, "units": len(chunk.units)}


class Writes(Copies):
    """The writes: into a generation's collections, created on the first write."""

    def upsert(self, generation: str, chunks: list[Chunk], vectors: np.ndarray,
               unit_vectors: list[np.ndarray], file_hashes: dict[str, str]) -> None:
        with self._using() as view:
            chunk_col, pack_col = self._cols(view, generation, create=True)
            view.unit_counts.pop(generation, None)
            for i in range(0, len(chunks), BATCH):
                part = chunks[i:i + BATCH]
                ids = [c.id for c in part]
                packs = [pack_metadata(c.units, c.unit_items or (-1,) * len(c.units), unit_vectors[i + j],
                                       self.unit_search.dtype) for j, c in enumerate(part)]
                # Units first: a chunk is only visible once everything it needs is stored.
                self._call(pack_col.upsert, ids=ids, metadatas=packs, embeddings=[_NO_VECTOR] * len(ids))
                self._call(chunk_col.upsert, ids=ids, documents=[c.text for c in part],
                           metadatas=[chunk_metadata(c, file_hashes[c.source]) for c in part],
                           embeddings=vectors[i:i + BATCH])

    def update_metadata(self, generation: str, chunks: list[Chunk], file_hashes: dict[str, str]) -> None:
        with self._using() as view:
            chunk_col, _ = self._cols(view, generation, create=True)
            for i in range(0, len(chunks), BATCH):
                part = chunks[i:i + BATCH]
                self._call(chunk_col.update, ids=[c.id for c in part],
                           metadatas=[chunk_metadata(c, file_hashes[c.source]) for c in part])

    def delete(self, generation: str, ids: Iterable[str]) -> None:
        ids = list(ids)
        with self._using() as view:
            chunk_col, pack_col = self._cols(view, generation, create=True)
            view.unit_counts.pop(generation, None)
            for i in range(0, len(ids), BATCH):
                part = ids[i:i + BATCH]
                self._call(chunk_col.delete, ids=part)
                self._call(pack_col.delete, ids=part)

    def write_rows(self, generation: str, kind: str, rows: list[StoredRow]) -> None:
        """Rows read back from a backup (`export`), written as they were: no re-embedding. "unit" rows
        (one per unit) are merged into their chunks' packs."""
        with self._using() as view:
            chunk_col, pack_col = self._cols(view, generation, create=True)
            view.unit_counts.pop(generation, None)
            if kind == "chunk":
                self._call(chunk_col.upsert, ids=[r.id for r in rows], documents=[r.text for r in rows],
                           metadatas=[r.meta for r in rows],
                           embeddings=np.asarray([r.vector for r in rows], np.float32))
                return
            packs = self._merged_packs(pack_col, rows)
            self._call(pack_col.upsert, ids=[p.id for p in packs], metadatas=[p.meta for p in packs],
                       embeddings=[_NO_VECTOR] * len(packs))

    def _merged_packs(self, pack_col, rows: list[StoredRow]) -> list[StoredRow]:
        """Per-unit rows (id "chunk:n") merged into their chunks' packs, with what is stored already:
        one chunk's units may be split across the batches of an import."""
        by_chunk: dict[str, dict[int, tuple[str, int, tuple[float, ...]]]] = {}
        for row in rows:
            by_chunk.setdefault(str(row.meta["chunk_id"]), {})[int(row.meta["n"])] = (
                row.text, int(row.meta.get("item", -1)), row.vector)
        got = self._call(pack_col.get, ids=list(by_chunk), include=["metadatas"])
        for cid, meta in zip(got["ids"], got["metadatas"]):
            pack = unpack(cid, meta)
            positions = json.loads(meta.get("positions", "null")) or range(len(pack.texts))
            for n, text, item, vec in zip(positions, pack.texts, pack.items, pack.vectors):
                by_chunk[cid].setdefault(n, (text, item, tuple(vec)))
        merged = []
        for cid, units in by_chunk.items():
            order = sorted(units)  # a gap mid-import is filled by a later batch
            meta = pack_metadata([units[n][0] for n in order], [units[n][1] for n in order],
                                 np.asarray([units[n][2] for n in order], np.float32), self.unit_search.dtype)
            meta["positions"] = json.dumps(order)
            merged.append(StoredRow(id=cid, text="", meta=meta, vector=()))
        return merged
