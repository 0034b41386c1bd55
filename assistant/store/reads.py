"""Store, its reads: typed rows (chunks, unit packs, units) by page, by id, by vector, and for a backup."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from assistant.store.copies import BATCH
from assistant.store.generations import Generations
from assistant.store.records import store_stamp
from assistant.types import Hit, StoredRow, Unit, UnitMatch
from assistant.unitvectors import UnitPack, pack_metadata, stored_vectors, unpack


def _hit(cid: str, text: str, meta: dict, dense: float | None = None) -> Hit:
    return Hit(id=cid, source=meta.get("source", ""), title=meta.get("title", ""), section=meta.get("section", ""),
               text=text, dense=dense, start=int(meta.get("start", 0)), end=int(meta.get("end", 0)),
               kind=meta.get("kind", "text"), file_hash=meta.get("file_hash", ""))


class Reads(Generations):
    """The reads: typed rows out of a generation, which must exist (reads never create one); on
    Generations, since counting units reads the active generation's info."""

    def manifest(self, generation: str) -> dict[str, dict]:
        """chunk id -> {source, file_hash}: what is stored, read back from the store itself."""
        return {h.id: {"source": h.source, "file_hash": h.file_hash}
                for batch in self.iter_chunks(generation) for h in batch}

    def _page(self, generation: str, kind: int, include: list[str], limit: int, offset: int) -> dict:
        """One page of a generation's chunks (kind 0) or units (1). A page at a time, not the whole
        walk, holds a copy open: a caller that stops iterating never keeps a replaced copy alive."""
        with self._using() as view:
            return self._call(self._cols(view, generation)[kind].get, include=include, limit=limit, offset=offset)

    def iter_chunks(self, generation: str, batch: int = BATCH * 5) -> Iterator[list[Hit]]:
        """Stored chunks a batch at a time: the corpus never has to fit in memory."""
        offset = 0
        while True:
            got = self._page(generation, 0, ["documents", "metadatas"], batch, offset)
            if got["ids"]:
                yield [_hit(*row) for row in zip(got["ids"], got["documents"], got["metadatas"])]
            if len(got["ids"]) < batch:
                return
            offset += batch

    def iter_chunk_vectors(self, generation: str, batch: int = BATCH * 5) -> Iterator[list[tuple[str, np.ndarray]]]:
        """(chunk id, its vector as a 1-row matrix) for a generation's chunks, a batch at a time."""
        offset = 0
        while True:
            got = self._page(generation, 0, ["embeddings"], batch, offset)
            vectors = np.asarray(got["embeddings"], dtype=np.float32)
            if got["ids"]:
                yield [(cid, vectors[row:row + 1]) for row, cid in enumerate(got["ids"])]
            if len(got["ids"]) < batch:
                return
            offset += batch

    def chunk_count(self, generation: str) -> int:
        records = self._records(generation)
        if records is not None:
            return records.head["chunks"]
        with self._using() as view:
            return self._call(self._cols(view, generation)[0].count)

    def count(self, generation: str) -> tuple[int, int]:
        """(chunks, units). The index run records the units it committed in the active generation's
        info; otherwise (a restored or resumed index) they are summed from the chunks' metadata, a walk
        over the generation (19 s at 100k chunks), kept until this copy writes or the chunks change."""
        info = self.info()
        with self._using() as view:
            chunk_col, unit_col = self._cols(view, generation)
            chunks = self._call(chunk_col.count)
            if generation in view.legacy:
                return chunks, self._call(unit_col.count)
            if info.get("generation") == generation and info.get("chunks") == chunks and "units" in info:
                return chunks, int(info["units"])
            counted = view.unit_counts.get(generation)
        if counted is None or counted[0] != chunks:
            units, offset = 0, 0
            while True:
                got = self._page(generation, 0, ["metadatas"], BATCH * 5, offset)
                units += sum(int(meta.get("units", 0)) for meta in got["metadatas"] if meta)
                if len(got["ids"]) < BATCH * 5:
                    break
                offset += BATCH * 5
            counted = (chunks, units)
            with self._using() as view:
                view.unit_counts[generation] = counted
        return counted

    def query_chunks(self, generation: str, vector: np.ndarray, n: int) -> list[Hit]:
        """The n chunks nearest to `vector`, best first, with their cosine similarity as `dense`."""
        with self._using() as view:
            chunk_col, _ = self._cols(view, generation)
            got = self._call(chunk_col.query, query_embeddings=[vector], n_results=max(1, n),
                             include=["distances", "documents", "metadatas"])
        # A row another process deleted a moment ago can still come back from the vector index
        # without its text and metadata: it is gone, so it is left out.
        return [_hit(cid, doc, meta, 1.0 - float(dist)) for cid, dist, doc, meta in
                zip(got["ids"][0], got["distances"][0], got["documents"][0], got["metadatas"][0])
                if doc is not None and meta is not None]

    def query_units(self, generation: str, vector: np.ndarray, n: int, where: dict | None = None) -> list[UnitMatch]:
        """The n units (sentences, items, cells) nearest to `vector`, best first: only a `legacy`
        generation has a vector index of units (see HybridRetriever.dense_units for the others)."""
        with self._using() as view:
            _, unit_col = self._cols(view, generation)
            if generation not in view.legacy:
                raise ValueError(f"generation {generation} keeps unit packs, which have no vector index")
            got = self._call(unit_col.query, query_embeddings=[vector], n_results=max(1, n), where=where,
                             include=["distances"])
        return [UnitMatch(chunk_id=uid.rsplit(":", 1)[0], n=int(uid.rsplit(":", 1)[1]), similarity=1.0 - float(d))
                for uid, d in zip(got["ids"][0], got["distances"][0])]

    def get_chunks(self, generation: str, ids: list[str]) -> list[Hit]:
        """Stored chunks by id, in the order asked; ids no longer stored are left out."""
        if not ids:
            return []
        records = self._records(generation)
        if records is not None:
            rows = records.chunks(list(dict.fromkeys(ids)))
        else:
            with self._using() as view:
                chunk_col, _ = self._cols(view, generation)
                got = self._call(chunk_col.get, ids=list(dict.fromkeys(ids)), include=["documents", "metadatas"])
            rows = zip(got["ids"], got["documents"], got["metadatas"])
        found = {cid: _hit(cid, doc, meta) for cid, doc, meta in rows if doc is not None and meta is not None}
        return [found[cid] for cid in ids if cid in found]

    def cards_of(self, generation: str, sources: list[str]) -> list[Hit]:
        """The front matter cards (author, publisher, date) of these documents, those that have one."""
        if not sources:
            return []
        records = self._records(generation)
        if records is not None:
            return [_hit(*row) for row in records.cards(list(sources))]
        with self._using() as view:
            chunk_col, _ = self._cols(view, generation)
            got = self._call(chunk_col.get, where={"$and": [{"source": {"$in": list(sources)}}, {"kind": "card"}]},
                             include=["documents", "metadatas"])
        return [_hit(cid, doc, meta) for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])
                if doc is not None and meta is not None]

    def _stored_packs(self, generation: str, chunk_ids: list[str]) -> dict[str, dict]:
        """chunk id -> its pack's stored metadata, for the chunks that have one; a `legacy`
        generation's unit rows are packed here (as float32: nothing is lost)."""
        if not chunk_ids:
            return {}
        records = self._records(generation)
        if records is not None:
            return records.packs(list(dict.fromkeys(chunk_ids)))
        with self._using() as view:
            _, unit_col = self._cols(view, generation)
            if generation not in view.legacy:
                got = self._call(unit_col.get, ids=list(dict.fromkeys(chunk_ids)), include=["metadatas"])
                return {cid: meta for cid, meta in zip(got["ids"], got["metadatas"]) if meta}
            got = self._call(unit_col.get, where={"chunk_id": {"$in": list(chunk_ids)}},
                             include=["documents", "metadatas", "embeddings"])
        rows: dict[str, list] = {}
        for text, meta, vec in zip(got["documents"], got["metadatas"], got["embeddings"]):
            rows.setdefault(meta["chunk_id"], []).append((int(meta["n"]), text, int(meta.get("item", -1)), vec))
        packs = {}
        for cid, units in rows.items():
            units.sort(key=lambda u: u[0])
            packs[cid] = pack_metadata([u[1] for u in units], [u[2] for u in units],
                                       np.asarray([u[3] for u in units], np.float32), "float32")
        return packs

    def unit_vectors(self, generation: str, chunk_ids: list[str]) -> dict[str, np.ndarray]:
        """The units' vectors (as stored) of these chunks, by chunk id: what a query scores, without
        decoding the units' texts."""
        return {cid: stored_vectors(meta) for cid, meta in self._stored_packs(generation, chunk_ids).items()}

    def unit_packs(self, generation: str, chunk_ids: list[str]) -> dict[str, UnitPack]:
        """The unit packs of these chunks (those stored), by chunk id: one read by id, no vector search."""
        return {cid: unpack(cid, meta) for cid, meta in self._stored_packs(generation, chunk_ids).items()}

    def iter_unit_vectors(self, generation: str, batch: int = 250) -> Iterator[list[tuple[str, np.ndarray]]]:
        """(chunk id, its units' vectors as stored) for a generation's chunks, a batch at a time (not
        for a `legacy` one); small batches, since each pack's texts come along and are dropped."""
        offset = 0
        while True:
            got = self._page(generation, 1, ["metadatas"], batch, offset)
            if got["ids"]:
                yield [(cid, stored_vectors(meta)) for cid, meta in zip(got["ids"], got["metadatas"]) if meta]
            if len(got["ids"]) < batch:
                return
            offset += batch

    def units_of(self, generation: str, chunk_ids: list[str]) -> list[Unit]:
        """All units of these chunks with their stored vectors, in chunk order then unit order."""
        packs = self.unit_packs(generation, list(chunk_ids))
        return [Unit(chunk_id=cid, n=n, text=text, item=item, vector=vec)
                for cid in dict.fromkeys(chunk_ids) if cid in packs
                for n, (text, item, vec) in enumerate(zip(packs[cid].texts, packs[cid].items, packs[cid].vectors))]

    def keep_records(self, generation: str, revision: str) -> None:
        """Check the record file (see assistant/store/records.py) against the store, opened now, when
        it holds this version, or write it when not: the next processes read their chunks and unit
        packs there without opening Chroma. For the active, unit-packed generation only; best effort."""
        if self.records is None or self._records(generation) is not None:
            return
        with self._using():  # opening Chroma writes to its file: the stamp is taken past that
            stamp = store_stamp(self.records.store_db)
        info = self.info()  # read after the stamp: a write meanwhile leaves the file unchecked
        if stamp is None or (info.get("generation"), str(info.get("revision", ""))) != (generation, revision) \
                or self.legacy(generation):
            return
        head = {"generation": generation, "revision": revision, "info": info, "chunks": self.chunk_count(generation)}
        if self.records.restamp(head, stamp):
            return

        def pages(kind: int, include: list[str], batch: int):
            offset = 0
            while True:
                got = self._page(generation, kind, include, batch, offset)
                yield list(zip(got["ids"], *(got[part] for part in include)))
                if len(got["ids"]) < batch:
                    return
                offset += batch

        self.records.write(head, stamp, pages(0, ["documents", "metadatas"], BATCH * 5),
                           pages(1, ["metadatas"], 250))

    def export(self, generation: str) -> Iterator[tuple[str, StoredRow]]:
        """("chunk" | "unit", row) for everything in a generation, chunks first: what a backup holds.
        A unit is a row of its own ("chunk:n", its text, {chunk_id, n, item}, its vector), as when
        units were stored that way, so backups keep one format; `write_rows` packs them again."""
        for kind in ("chunk", "unit"):
            offset = 0
            while True:
                include = ["documents", "metadatas", "embeddings"] if kind == "chunk" else []
                got = self._page(generation, 0, include, BATCH, offset)
                if kind == "chunk":
                    for cid, doc, meta, vec in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"]):
                        yield kind, StoredRow(id=cid, text=doc, meta=dict(meta), vector=tuple(float(x) for x in vec))
                else:
                    packs = self.unit_packs(generation, got["ids"])
                    for cid in got["ids"]:
                        pack = packs.get(cid)
                        units = zip(pack.texts, pack.items, pack.vectors) if pack else ()
                        for n, (text, item, vec) in enumerate(units):
                            yield kind, StoredRow(id=f"{cid}:{n}", text=text, vector=tuple(float(x) for x in vec),
                                                  meta={"chunk_id": cid, "n": n, "item": item})
                if len(got["ids"]) < BATCH:
                    break
                offset += BATCH
