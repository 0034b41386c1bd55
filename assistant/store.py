"""Store: the one module that speaks Chroma (embedded or `chroma run` server); it hands out typed rows."""

from __future__ import annotations

import ctypes
import functools
import itertools
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

BATCH = 1000
_COLLECTION_CONFIG = {"hnsw": {"space": "cosine"}}
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

    __slots__ = ("client", "collections", "busy", "retired")

    def __init__(self, client):
        self.client, self.collections = client, {}
        self.busy, self.retired = 0, False


class Store:
    """Two collections per generation: chunks (one vector each) and units (sentences, list items, cells).

    A pointer collection names the active generation, so a rebuild fills a new generation aside
    and switches only when it is complete: a half-built index never serves.
    """

    def __init__(self, client, name: str, where: str, connect=None):
        self.name, self.where = name, where
        self._view, self._connect, self._lock = _View(client), connect, threading.Lock()

    @classmethod
    def open(cls, settings) -> "Store":
        where = settings.chroma_url or str(settings.chroma_path)
        connect = None if settings.chroma_url else (lambda spelling: _client(settings, spelling))
        return cls(_client(settings), settings.collection, where, connect)

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
            for kind in ("chunks", "units"):
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
                if n.startswith(prefix) and n.endswith(("-chunks", "-units"))}
        return sorted(g for g in gens if g != active)

    def _cols(self, view: _View, generation: str, create: bool = False):
        """(chunks, units) collections of this copy; reads never create one (a dropped generation is GenerationGone)."""
        if generation in view.collections:
            return view.collections[generation]
        names = (f"{self.name}-{generation}-chunks", f"{self.name}-{generation}-units")
        # embedding_function=None: Chroma's default would download a model, and we embed ourselves.
        if create:
            cols = tuple(self._call(view.client.get_or_create_collection, n, configuration=_COLLECTION_CONFIG,
                                    embedding_function=None) for n in names)
        else:
            cols = tuple(self._call(view.client.get_collection, n, embedding_function=None) for n in names)
        view.collections[generation] = cols
        return cols

    # writes
    def upsert(self, generation: str, chunks: list[Chunk], vectors: np.ndarray,
               unit_vectors: list[np.ndarray], file_hashes: dict[str, str]) -> None:
        with self._using() as view:
            chunk_col, unit_col = self._cols(view, generation, create=True)
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
                self._call(chunk_col.upsert, ids=ids, documents=texts, metadatas=metas,
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
            chunk_col, unit_col = self._cols(view, generation, create=True)
            for i in range(0, len(ids), BATCH):
                part = ids[i:i + BATCH]
                self._call(chunk_col.delete, ids=part)
                self._call(unit_col.delete, where={"chunk_id": {"$in": part}})

    def write_rows(self, generation: str, kind: str, rows: list[StoredRow]) -> None:
        """Rows read back from a backup (`export`), written as they were: no re-embedding."""
        with self._using() as view:
            chunk_col, unit_col = self._cols(view, generation, create=True)
            col = chunk_col if kind == "chunk" else unit_col
            self._call(col.upsert, ids=[r.id for r in rows], documents=[r.text for r in rows],
                       metadatas=[r.meta for r in rows],
                       embeddings=np.asarray([r.vector for r in rows], np.float32))

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

    def count(self, generation: str) -> tuple[int, int]:
        with self._using() as view:
            chunk_col, unit_col = self._cols(view, generation)
            return self._call(chunk_col.count), self._call(unit_col.count)

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
        """The n units (sentences, items, cells) nearest to `vector`, best first."""
        with self._using() as view:
            _, unit_col = self._cols(view, generation)
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

    def units_of(self, generation: str, chunk_ids: list[str]) -> list[Unit]:
        """All units of these chunks with their stored vectors, in chunk order then unit order."""
        if not chunk_ids:
            return []
        with self._using() as view:
            _, unit_col = self._cols(view, generation)
            got = self._call(unit_col.get, where={"chunk_id": {"$in": list(chunk_ids)}},
                             include=["documents", "metadatas", "embeddings"])
        units = [Unit(chunk_id=meta["chunk_id"], n=int(meta["n"]), text=text, item=int(meta.get("item", -1)),
                      vector=np.asarray(vec, dtype=np.float32))
                 for text, meta, vec in zip(got["documents"], got["metadatas"], got["embeddings"])]
        order = {cid: i for i, cid in enumerate(chunk_ids)}
        return sorted(units, key=lambda u: (order[u.chunk_id], u.n))

    def export(self, generation: str) -> Iterator[tuple[str, StoredRow]]:
        """("chunk" | "unit", row) for everything in a generation: what a backup holds."""
        for kind_n, kind in enumerate(("chunk", "unit")):
            offset = 0
            while True:
                got = self._page(generation, kind_n, ["documents", "metadatas", "embeddings"], BATCH, offset)
                for cid, doc, meta, vec in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"]):
                    yield kind, StoredRow(id=cid, text=doc, meta=dict(meta), vector=tuple(float(x) for x in vec))
                if len(got["ids"]) < BATCH:
                    break
                offset += BATCH
