"""Store: the one module that speaks Chroma (embedded or `chroma run` server); it hands out typed rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from urllib.parse import urlparse

import numpy as np

from assistant.errors import GenerationGone, StoreUnavailable, UserError
from assistant.types import Chunk, Hit, StoredRow, Unit, UnitMatch

BATCH = 1000
_COLLECTION_CONFIG = {"hnsw": {"space": "cosine"}}


def _connection_errors() -> tuple[type[BaseException], ...]:
    """What a lost server raises: httpx's transport errors (chromadb's HTTP client uses httpx)."""
    import httpx

    return (httpx.TransportError, ConnectionError, TimeoutError)


def _client(settings, view: int = 0):
    """A Chroma client. `view` > 0 opens the embedded store under another spelling of its path:
    Chroma keeps one in-memory copy of a store per path and process, and only a fresh copy sees
    vectors another process has written since (see Store.reopen)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise UserError(f"ASSISTANT_CHROMA_URL must look like http://HOST:PORT, got {settings.chroma_url!r}")
        try:
            return chromadb.HttpClient(host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000),
                                       ssl=url.scheme == "https", settings=chroma_settings)
        except (ValueError, *_connection_errors()) as exc:
            # chromadb documents a ValueError ("Could not connect to a Chroma server") from its heartbeat.
            raise StoreUnavailable(f"Chroma server at {settings.chroma_url} is unreachable "
                                   f"({exc.__class__.__name__}); is `chroma run` up?") from exc
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    path = str(settings.chroma_path) + "/." * (view % 64)  # a spelling is reused only after 64 reopens
    return chromadb.PersistentClient(path=path, settings=chroma_settings)


def _close(client) -> None:
    try:
        client.close()
    except Exception:  # a client already closed, or a store gone: nothing left to free
        pass


def _hit(cid: str, text: str, meta: dict, dense: float | None = None) -> Hit:
    return Hit(id=cid, source=meta.get("source", ""), title=meta.get("title", ""), section=meta.get("section", ""),
               text=text, dense=dense, start=int(meta.get("start", 0)), end=int(meta.get("end", 0)),
               kind=meta.get("kind", "text"), file_hash=meta.get("file_hash", ""))


def chunk_metadata(chunk: Chunk, file_hash: str) -> dict:
    return {"source": chunk.source, "title": chunk.title, "section": chunk.section, "start": chunk.start,
            "end": chunk.end, "kind": chunk.kind, "file_hash": file_hash, "units": len(chunk.units)}


class Store:
    """Two collections per generation: chunks (one vector each) and units (sentences, list items, cells).

    A pointer collection names the active generation, so a rebuild fills a new generation aside
    and switches only when it is complete: a half-built index never serves.
    """

    def __init__(self, client, name: str, where: str, connect=None):
        self.client, self.name, self.where = client, name, where
        self._collections: dict[str, tuple] = {}
        self._connect, self._views = connect, 0

    @classmethod
    def open(cls, settings) -> "Store":
        where = settings.chroma_url or str(settings.chroma_path)
        connect = None if settings.chroma_url else (lambda view: _client(settings, view))
        return cls(_client(settings), settings.collection, where, connect)

    def reopen(self) -> None:
        """See the index as committed now. A Chroma server always does; an embedded store keeps an
        in-memory copy per process that misses what another process (`assistant index`) wrote since,
        so a fresh copy is opened and the old one closed once queries in flight are done with it."""
        if self._connect is None:
            return
        self._views += 1
        old, self.client = self.client, self._connect(self._views)
        self._collections = {}
        closer = threading.Timer(30.0, _close, args=(old,))
        closer.daemon = True
        closer.start()

    def _call(self, fn, *args, **kwargs):
        """Run one Chroma operation: a lost connection becomes a retryable StoreUnavailable, a
        collection dropped by another process a GenerationGone; anything else is a bug and passes."""
        from chromadb.errors import NotFoundError

        try:
            return fn(*args, **kwargs)
        except NotFoundError as exc:
            raise GenerationGone(str(exc)) from exc
        except _connection_errors() as exc:
            raise StoreUnavailable(f"Chroma at {self.where} is unreachable; try again when it is back "
                                   f"({exc.__class__.__name__})") from exc

    # generations
    def _pointer(self):
        return self._call(self.client.get_or_create_collection, f"{self.name}-active", embedding_function=None)

    def info(self) -> dict:
        return dict(self._pointer().metadata or {})

    def active_generation(self) -> str | None:
        return self.info().get("generation")

    def active_version(self) -> tuple[str | None, str]:
        """(generation, revision): the revision changes on every committed index change, also the
        incremental ones that keep the generation, so serving processes know to reload."""
        info = self.info()
        return info.get("generation"), str(info.get("revision", ""))

    # the writers' lease (a Chroma server has no lock: this record is one, see indexing.index_lock)
    def _lease_col(self):
        return self._call(self.client.get_or_create_collection, f"{self.name}-lease", embedding_function=None)

    def lease(self) -> dict:
        """The current lease record ({"owner", "expires"}), {} when none."""
        got = self._call(self._lease_col().get, ids=["writer"], include=["metadatas"])
        return dict(got["metadatas"][0]) if got["ids"] else {}

    def put_lease(self, owner: str, expires: float) -> None:
        self._call(self._lease_col().upsert, ids=["writer"], embeddings=[[1.0]],
                   metadatas=[{"owner": owner, "expires": expires}])

    def drop_lease(self, owner: str) -> None:
        if self.lease().get("owner") == owner:
            self._call(self._lease_col().delete, ids=["writer"])

    def mark_building(self, generation: str, **info) -> None:
        """Record the generation a fresh build is writing, beside the active one: if the build is
        interrupted, the next run resumes it instead of starting from zero."""
        meta = {k: v for k, v in self.info().items() if not k.startswith("building")}
        meta.update({"building": generation, **{f"building_{k}": v for k, v in info.items()}})
        self._call(self._pointer().modify, metadata=meta)

    def activate(self, generation: str, **info) -> None:
        old = self.active_generation()
        meta = {"generation": generation, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "revision": str(time.time_ns()), **info}
        self._call(self._pointer().modify, metadata=meta)
        if old and old != generation:
            self.drop(old)

    def drop(self, generation: str) -> None:
        from chromadb.errors import NotFoundError

        self._collections.pop(generation, None)
        for kind in ("chunks", "units"):
            try:
                self._call(self.client.delete_collection, f"{self.name}-{generation}-{kind}")
            except (GenerationGone, NotFoundError):
                pass  # already gone: dropping is idempotent

    def leftovers(self) -> list[str]:
        """Generations that are neither active nor the pointer: remains of an interrupted rebuild."""
        active, prefix = self.active_generation(), f"{self.name}-"
        names = [c if isinstance(c, str) else c.name for c in self._call(self.client.list_collections)]
        gens = {n[len(prefix):].rsplit("-", 1)[0] for n in names
                if n.startswith(prefix) and n.endswith(("-chunks", "-units"))}
        return sorted(g for g in gens if g != active)

    def _cols(self, generation: str, create: bool = False):
        """(chunks, units) collections; reads never create one (a dropped generation is GenerationGone)."""
        if generation in self._collections:
            return self._collections[generation]
        names = (f"{self.name}-{generation}-chunks", f"{self.name}-{generation}-units")
        # embedding_function=None: Chroma's default would download a model, and we embed ourselves.
        if create:
            cols = tuple(self._call(self.client.get_or_create_collection, n, configuration=_COLLECTION_CONFIG,
                                    embedding_function=None) for n in names)
        else:
            cols = tuple(self._call(self.client.get_collection, n, embedding_function=None) for n in names)
        self._collections[generation] = cols
        return cols

    # writes
    def upsert(self, generation: str, chunks: list[Chunk], vectors: np.ndarray,
               unit_vectors: list[np.ndarray], file_hashes: dict[str, str]) -> None:
        chunk_col, unit_col = self._cols(generation, create=True)
        for i in range(0, len(chunks), BATCH):
            part = chunks[i:i + BATCH]
            ids, metas, texts, uids, umetas, utexts, uvecs = [], [], [], [], [], [], []
            for j, chunk in enumerate(part):
                ids.append(chunk.id)
                texts.append(chunk.text)
                metas.append(chunk_metadata(chunk, file_hashes[chunk.source]))
                items = chunk.unit_items or (-1,) * len(chunk.units)
                for u, (unit, vec, item) in enumerate(zip(chunk.units, unit_vectors[i + j], items)):
                    uids.append(f"{chunk.id}:{u}")
                    utexts.append(unit)
                    umetas.append({"chunk_id": chunk.id, "n": u, "item": int(item)})
                    uvecs.append(vec)
            # Units first: a chunk is only visible once everything it needs is stored.
            for k in range(0, len(uids), BATCH):
                self._call(unit_col.upsert, ids=uids[k:k + BATCH], documents=utexts[k:k + BATCH],
                           metadatas=umetas[k:k + BATCH], embeddings=np.asarray(uvecs[k:k + BATCH]))
            self._call(chunk_col.upsert, ids=ids, documents=texts, metadatas=metas, embeddings=vectors[i:i + BATCH])

    def update_metadata(self, generation: str, chunks: list[Chunk], file_hashes: dict[str, str]) -> None:
        chunk_col, _ = self._cols(generation, create=True)
        for i in range(0, len(chunks), BATCH):
            part = chunks[i:i + BATCH]
            self._call(chunk_col.update, ids=[c.id for c in part],
                       metadatas=[chunk_metadata(c, file_hashes[c.source]) for c in part])

    def delete(self, generation: str, ids: Iterable[str]) -> None:
        chunk_col, unit_col = self._cols(generation, create=True)
        ids = list(ids)
        for i in range(0, len(ids), BATCH):
            part = ids[i:i + BATCH]
            self._call(chunk_col.delete, ids=part)
            self._call(unit_col.delete, where={"chunk_id": {"$in": part}})

    def write_rows(self, generation: str, kind: str, rows: list[StoredRow]) -> None:
        """Rows read back from a backup (`export`), written as they were: no re-embedding."""
        chunk_col, unit_col = self._cols(generation, create=True)
        col = chunk_col if kind == "chunk" else unit_col
        self._call(col.upsert, ids=[r.id for r in rows], documents=[r.text for r in rows],
                   metadatas=[r.meta for r in rows], embeddings=np.asarray([r.vector for r in rows], np.float32))

    # reads
    def manifest(self, generation: str) -> dict[str, dict]:
        """chunk id -> {source, file_hash}: what is stored, read back from the store itself."""
        return {h.id: {"source": h.source, "file_hash": h.file_hash}
                for batch in self.iter_chunks(generation) for h in batch}

    def iter_chunks(self, generation: str, batch: int = BATCH * 5) -> Iterator[list[Hit]]:
        """Stored chunks a batch at a time: the corpus never has to fit in memory."""
        chunk_col, _ = self._cols(generation)
        offset = 0
        while True:
            got = self._call(chunk_col.get, include=["documents", "metadatas"], limit=batch, offset=offset)
            if got["ids"]:
                yield [_hit(*row) for row in zip(got["ids"], got["documents"], got["metadatas"])]
            if len(got["ids"]) < batch:
                return
            offset += batch

    def count(self, generation: str) -> tuple[int, int]:
        chunk_col, unit_col = self._cols(generation)
        return self._call(chunk_col.count), self._call(unit_col.count)

    def query_chunks(self, generation: str, vector: np.ndarray, n: int) -> list[Hit]:
        """The n chunks nearest to `vector`, best first, with their cosine similarity as `dense`."""
        chunk_col, _ = self._cols(generation)
        got = self._call(chunk_col.query, query_embeddings=[vector], n_results=max(1, n),
                         include=["distances", "documents", "metadatas"])
        # A row another process deleted a moment ago can still come back from the vector index
        # without its text and metadata: it is gone, so it is left out.
        return [_hit(cid, doc, meta, 1.0 - float(dist)) for cid, dist, doc, meta in
                zip(got["ids"][0], got["distances"][0], got["documents"][0], got["metadatas"][0])
                if doc is not None and meta is not None]

    def query_units(self, generation: str, vector: np.ndarray, n: int, where: dict | None = None) -> list[UnitMatch]:
        """The n units (sentences, items, cells) nearest to `vector`, best first."""
        _, unit_col = self._cols(generation)
        got = self._call(unit_col.query, query_embeddings=[vector], n_results=max(1, n), where=where,
                         include=["distances"])
        return [UnitMatch(chunk_id=uid.rsplit(":", 1)[0], n=int(uid.rsplit(":", 1)[1]), similarity=1.0 - float(d))
                for uid, d in zip(got["ids"][0], got["distances"][0])]

    def get_chunks(self, generation: str, ids: list[str]) -> list[Hit]:
        """Stored chunks by id, in the order asked; ids no longer stored are left out."""
        if not ids:
            return []
        chunk_col, _ = self._cols(generation)
        got = self._call(chunk_col.get, ids=list(ids), include=["documents", "metadatas"])
        found = {cid: _hit(cid, doc, meta) for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])
                 if doc is not None and meta is not None}
        return [found[cid] for cid in ids if cid in found]

    def units_of(self, generation: str, chunk_ids: list[str]) -> list[Unit]:
        """All units of these chunks with their stored vectors, in chunk order then unit order."""
        if not chunk_ids:
            return []
        _, unit_col = self._cols(generation)
        got = self._call(unit_col.get, where={"chunk_id": {"$in": list(chunk_ids)}},
                         include=["documents", "metadatas", "embeddings"])
        units = [Unit(chunk_id=meta["chunk_id"], n=int(meta["n"]), text=text, item=int(meta.get("item", -1)),
                      vector=np.asarray(vec, dtype=np.float32))
                 for text, meta, vec in zip(got["documents"], got["metadatas"], got["embeddings"])]
        order = {cid: i for i, cid in enumerate(chunk_ids)}
        return sorted(units, key=lambda u: (order[u.chunk_id], u.n))

    def export(self, generation: str) -> Iterator[tuple[str, StoredRow]]:
        """("chunk" | "unit", row) for everything in a generation: what a backup holds."""
        for kind, col in zip(("chunk", "unit"), self._cols(generation)):
            offset = 0
            while True:
                got = self._call(col.get, include=["documents", "metadatas", "embeddings"], limit=BATCH,
                                 offset=offset)
                for cid, doc, meta, vec in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"]):
                    yield kind, StoredRow(id=cid, text=doc, meta=dict(meta), vector=tuple(float(x) for x in vec))
                if len(got["ids"]) < BATCH:
                    break
                offset += BATCH
