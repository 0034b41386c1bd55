"""Store: the one module that speaks Chroma (embedded or `chroma run` server); it hands out typed rows."""

from __future__ import annotations

import ctypes
import functools
import itertools
import json
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

import numpy as np

from assistant.errors import GenerationGone, StoreUnavailable, UserError
from assistant.types import Chunk, Hit, StoredRow, Unit, UnitMatch
from assistant.unitvectors import UnitPack, UnitSearch, pack_metadata, stored_vectors, unpack

BATCH = 1000
_COLLECTION_CONFIG = {"hnsw": {"space": "cosine"}}
# A pack record is found by its chunk's id only, never by vector; Chroma wants one all the same.
_NO_VECTOR = [1.0]
# The collections of a generation: chunks, their unit packs, and the per-unit rows (with a vector
# index of their own) of indexes written before the packs, still read until they are rebuilt.
_KINDS = ("chunks", "unitpacks", "units")
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h
_MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, held fixed (see _allocator)


def _connection_errors() -> tuple[type[BaseException], ...]:
    """What a lost server raises: httpx's transport errors (chromadb's HTTP client uses httpx)."""
    import httpx

    return (httpx.TransportError, ConnectionError, TimeoutError)


def _spelled(path: str, spelling: int) -> str:
    """The embedded store's path spelled the `spelling`-th way (path, path/., path/./., ...): Chroma
    keeps one in-memory copy of a store per path string and process, so a new spelling is a fresh copy."""
    return path + "/." * spelling


def _client(settings, spelling: int = 0):
    """A Chroma client. `spelling` > 0 opens the embedded store under another spelling of its path,
    so that it is a fresh copy that sees what another process has written since (see Store.reopen)."""
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
    return chromadb.PersistentClient(path=_spelled(str(settings.chroma_path), spelling), settings=chroma_settings)


def live_copies() -> set[str]:
    """The paths (as spelled) of the embedded stores this process holds open: chromadb keeps one
    System per path until its last client closes."""
    from chromadb.api.shared_system_client import SharedSystemClient

    return set(getattr(SharedSystemClient, "_identifier_to_system", {}))


@functools.cache
def _allocator():
    """glibc's allocator, set up for a process that reopens its store; None elsewhere (macOS, musl).

    Each copy of the embedded store loads its HNSW indexes and SQLite pages on Chroma's Rust
    threads, which glibc serves from per-thread arenas; and once a large block is freed, glibc
    raises its mmap threshold (up to 32 MiB), so the next copy's multi-MB buffers land in those
    arenas too. Freed, they stay with the process: +16 MB RSS per reopen, 187 -> 587 MB after 25
    (bench/soak.py saw 431 -> 890 MB in 30 min). A fixed threshold keeps large buffers in their own
    mappings, returned on free, and malloc_trim (see Store._release) returns the arenas' free pages:
    25 reopens stay within 168-180 MB. MALLOC_MMAP_THRESHOLD_ in the environment wins."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes, libc.mallopt.argtypes = [ctypes.c_size_t], [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):  # not glibc
        return None
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    return libc


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


class _View:
    """One open copy of the store: its client, the collections opened through it, and how many
    calls are running on it now (a replaced copy is closed when the last of them is done)."""

    __slots__ = ("client", "collections", "busy", "retired", "legacy", "unit_counts")

    def __init__(self, client):
        self.client, self.collections = client, {}
        self.busy, self.retired = 0, False
        self.legacy: set[str] = set()  # generations whose units are rows of their own (before packs)
        self.unit_counts: dict[str, tuple[int, int]] = {}  # generation -> (chunks, units) last counted


class Store:
    """Two collections per generation: chunks (one vector each, in an HNSW index) and unit packs
    (per chunk, its sentences, list items and cells with their vectors as float16 bytes; no vector
    index, see assistant/unitvectors.py).

    A pointer collection names the active generation, so a rebuild fills a new generation aside
    and switches only when it is complete: a half-built index never serves.
    """

    def __init__(self, client, name: str, where: str, connect=None, unit_search: UnitSearch = UnitSearch()):
        self.name, self.where, self.unit_search = name, where, unit_search
        self._view, self._connect, self._lock = _View(client), connect, threading.Lock()

    @classmethod
    def open(cls, settings) -> "Store":
        where = settings.chroma_url or str(settings.chroma_path)
        connect = None if settings.chroma_url else (lambda spelling: _client(settings, spelling))
        unit_search = UnitSearch(dtype=settings.unit_vector_dtype, exact_max=settings.unit_search_exact_max,
                                 candidates=settings.unit_candidates)
        return cls(_client(settings), settings.collection, where, connect, unit_search)

    @property
    def client(self):
        """The client of the current copy (for tests and diagnostics; the store's own calls go through _using)."""
        return self._view.client

    def reopen(self) -> None:
        """See the index as committed now. A Chroma server always does; an embedded store keeps an
        in-memory copy per process that misses what another process (`assistant index`) wrote since,
        so a fresh copy is opened, and the old one is closed as soon as no call runs on it: at most
        one copy more than the calls in flight, however often the index changes."""
        if self._connect is None:
            return
        _allocator()  # before the fresh copy allocates
        with self._lock:
            # The first spelling no copy in this process holds: one still open (ours, busy, or
            # another Store's) would be shared, stale, instead of fresh.
            taken = live_copies()
            spelling = next(k for k in itertools.count() if _spelled(self.where, k) not in taken)
            old, self._view = self._view, _View(self._connect(spelling))
            old.retired = True
            idle = old.busy == 0
        if idle:
            self._release(old)

    @staticmethod
    def trim() -> None:
        """Hand freed memory back to the system. A reload reads every chunk and unit pack once (BM25,
        the unit matrix), and glibc would keep those transient buffers: -32 MB on the shipped corpus."""
        libc = _allocator()
        if libc is not None:
            libc.malloc_trim(0)

    @staticmethod
    def _release(view: _View) -> None:
        _close(view.client)
        view.client, view.collections = None, {}
        libc = _allocator()
        if libc is not None:
            libc.malloc_trim(0)  # hand the closed copy's freed pages back (see _allocator)

    @contextmanager
    def _using(self) -> Iterator[_View]:
        """The current copy, held open for the calls made inside: a reopen meanwhile leaves it to them."""
        with self._lock:
            view = self._view
            view.busy += 1
        try:
            yield view
        finally:
            with self._lock:
                view.busy -= 1
                done = view.retired and view.busy == 0
            if done:
                self._release(view)

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
    def _pointer(self, view: _View):
        return self._call(view.client.get_or_create_collection, f"{self.name}-active", embedding_function=None)

    def info(self) -> dict:
        with self._using() as view:
            return dict(self._pointer(view).metadata or {})

    def active_generation(self) -> str | None:
        return self.info().get("generation")

    def active_version(self) -> tuple[str | None, str]:
        """(generation, revision): the revision changes on every committed index change, also the
        incremental ones that keep the generation, so serving processes know to reload."""
        info = self.info()
        return info.get("generation"), str(info.get("revision", ""))

    # the writers' lease (a Chroma server has no lock: this record is one, see indexing.index_lock)
    def _lease_col(self, view: _View):
        return self._call(view.client.get_or_create_collection, f"{self.name}-lease", embedding_function=None)

    def lease(self) -> dict:
        """The current lease record ({"owner", "expires"}), {} when none."""
        with self._using() as view:
            got = self._call(self._lease_col(view).get, ids=["writer"], include=["metadatas"])
        return dict(got["metadatas"][0]) if got["ids"] else {}

    def put_lease(self, owner: str, expires: float) -> None:
        with self._using() as view:
            self._call(self._lease_col(view).upsert, ids=["writer"], embeddings=[[1.0]],
                       metadatas=[{"owner": owner, "expires": expires}])

    def drop_lease(self, owner: str) -> None:
        if self.lease().get("owner") == owner:
            with self._using() as view:
                self._call(self._lease_col(view).delete, ids=["writer"])

    def mark_building(self, generation: str, **info) -> None:
        """Record the generation a fresh build is writing, beside the active one: if the build is
        interrupted, the next run resumes it instead of starting from zero."""
        meta = {k: v for k, v in self.info().items() if not k.startswith("building")}
        meta.update({"building": generation, **{f"building_{k}": v for k, v in info.items()}})
        with self._using() as view:
            self._call(self._pointer(view).modify, metadata=meta)

    def activate(self, generation: str, **info) -> None:
        old = self.active_generation()
        meta = {"generation": generation, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "revision": str(time.time_ns()), **info}
        with self._using() as view:
            self._call(self._pointer(view).modify, metadata=meta)
        if old and old != generation:
            self.drop(old)

    def drop(self, generation: str) -> None:
        from chromadb.errors import NotFoundError

        with self._using() as view:
            view.collections.pop(generation, None)
            for kind in _KINDS:
                try:
                    self._call(view.client.delete_collection, f"{self.name}-{generation}-{kind}")
                except (GenerationGone, NotFoundError):
                    pass  # already gone: dropping is idempotent

    def leftovers(self) -> list[str]:
        """Generations that are neither active nor the pointer: remains of an interrupted rebuild."""
        active, prefix = self.active_generation(), f"{self.name}-"
        with self._using() as view:
            names = [c if isinstance(c, str) else c.name for c in self._call(view.client.list_collections)]
        gens = {n[len(prefix):].rsplit("-", 1)[0] for n in names
                if n.startswith(prefix) and n.endswith(tuple(f"-{kind}" for kind in _KINDS))}
        return sorted(g for g in gens if g != active)

    def _cols(self, view: _View, generation: str, create: bool = False):
        """(chunks, unit packs) collections of this copy; reads never create one (a dropped generation
        is GenerationGone). A generation written before packs gives its per-unit collection instead
        (see `legacy`); writes always go to packs (a format change rebuilds the index aside)."""
        if generation in view.collections:
            return view.collections[generation]
        chunks, packs, units = (f"{self.name}-{generation}-{kind}" for kind in _KINDS)
        # embedding_function=None: Chroma's default would download a model, and we embed ourselves.
        if create:
            cols = (self._call(view.client.get_or_create_collection, chunks, configuration=_COLLECTION_CONFIG,
                               embedding_function=None),
                    self._call(view.client.get_or_create_collection, packs, embedding_function=None))
        else:
            chunk_col = self._call(view.client.get_collection, chunks, embedding_function=None)
            try:
                cols = (chunk_col, self._call(view.client.get_collection, packs, embedding_function=None))
            except GenerationGone:
                cols = (chunk_col, self._call(view.client.get_collection, units, embedding_function=None))
                view.legacy.add(generation)
        view.collections[generation] = cols
        return cols

    def legacy(self, generation: str) -> bool:
        """Whether this generation keeps its units as rows of their own, each in a vector index
        (an index written before unit packs: served as it was until `assistant index` rebuilds it)."""
        with self._using() as view:
            self._cols(view, generation)
            return generation in view.legacy

    # writes
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

    # reads
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
        with self._using() as view:
            chunk_col, _ = self._cols(view, generation)
            got = self._call(chunk_col.get, ids=list(ids), include=["documents", "metadatas"])
        found = {cid: _hit(cid, doc, meta) for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])
                 if doc is not None and meta is not None}
        return [found[cid] for cid in ids if cid in found]

    def cards_of(self, generation: str, sources: list[str]) -> list[Hit]:
        """The front matter cards (author, publisher, date) of these documents, those that have one."""
        if not sources:
            return []
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
