"""Store: Chroma collections (embedded or `chroma run` server) for chunks and their citable units."""

from __future__ import annotations

import time
from collections.abc import Iterable
from urllib.parse import urlparse

import numpy as np

from assistant.errors import StoreUnavailable, UserError
from assistant.types import Chunk

BATCH = 1000


def _client(settings):
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
        except Exception as exc:
            raise StoreUnavailable(f"Chroma server at {settings.chroma_url} is unreachable ({exc.__class__.__name__}); "
                                   "is `chroma run` up?") from exc
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


class Store:
    """Two collections per generation: chunks (one vector each) and units (sentences, list items, cells).

    A pointer collection names the active generation, so a rebuild fills a new generation aside
    and switches only when it is complete: a half-built index never serves.
    """

    def __init__(self, client, name: str, where: str):
        self.client, self.name, self.where = client, name, where

    @classmethod
    def open(cls, settings) -> "Store":
        where = settings.chroma_url or str(settings.chroma_path)
        return cls(_client(settings), settings.collection, where)

    def call(self, fn, *args, **kwargs):
        """Run one Chroma operation; a lost connection becomes a clear, retryable StoreUnavailable."""
        try:
            return fn(*args, **kwargs)
        except UserError:
            raise
        except Exception as exc:
            if _is_connection_error(exc):
                raise StoreUnavailable(f"Chroma at {self.where} is unreachable; try again when it is back "
                                       f"({exc.__class__.__name__})") from exc
            raise

    # generations
    def _pointer(self):
        return self.call(self.client.get_or_create_collection, f"{self.name}-active",
                          embedding_function=None)

    def info(self) -> dict:
        return dict(self._pointer().metadata or {})

    def active_generation(self) -> str | None:
        return self.info().get("generation")

    def activate(self, generation: str, **info) -> None:
        old = self.active_generation()
        meta = {"generation": generation, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **info}
        self.call(self._pointer().modify, metadata=meta)
        if old and old != generation:
            self.drop(old)

    def drop(self, generation: str) -> None:
        for kind in ("chunks", "units"):
            try:
                self.client.delete_collection(f"{self.name}-{generation}-{kind}")
            except Exception:
                pass  # already gone

    def leftovers(self) -> list[str]:
        """Generations that are neither active nor the pointer: remains of an interrupted rebuild."""
        active, prefix = self.active_generation(), f"{self.name}-"
        names = [c if isinstance(c, str) else c.name for c in self.call(self.client.list_collections)]
        gens = {n[len(prefix):].rsplit("-", 1)[0] for n in names
                if n.startswith(prefix) and n.endswith(("-chunks", "-units"))}
        return sorted(g for g in gens if g != active)

    def collections(self, generation: str):
        make = self.client.get_or_create_collection
        cfg = {"hnsw": {"space": "cosine"}}
        # embedding_function=None: Chroma's default would download a model, and we embed ourselves.
        return (self.call(make, f"{self.name}-{generation}-chunks", configuration=cfg, embedding_function=None),
                self.call(make, f"{self.name}-{generation}-units", configuration=cfg, embedding_function=None))

    # writes
    def upsert(self, generation: str, chunks: list[Chunk], vectors: np.ndarray,
               unit_vectors: list[np.ndarray], file_hashes: dict[str, str]) -> None:
        chunk_col, unit_col = self.collections(generation)
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
                self.call(unit_col.upsert, ids=uids[k:k + BATCH], documents=utexts[k:k + BATCH],
                           metadatas=umetas[k:k + BATCH], embeddings=np.asarray(uvecs[k:k + BATCH]))
            self.call(chunk_col.upsert, ids=ids, documents=texts, metadatas=metas,
                       embeddings=vectors[i:i + BATCH])

    def update_metadata(self, generation: str, chunks: list[Chunk], file_hashes: dict[str, str]) -> None:
        chunk_col, _ = self.collections(generation)
        for i in range(0, len(chunks), BATCH):
            part = chunks[i:i + BATCH]
            self.call(chunk_col.update, ids=[c.id for c in part],
                       metadatas=[chunk_metadata(c, file_hashes[c.source]) for c in part])

    def delete(self, generation: str, ids: Iterable[str]) -> None:
        chunk_col, unit_col = self.collections(generation)
        ids = list(ids)
        for i in range(0, len(ids), BATCH):
            part = ids[i:i + BATCH]
            self.call(chunk_col.delete, ids=part)
            self.call(unit_col.delete, where={"chunk_id": {"$in": part}})

    # reads
    def manifest(self, generation: str) -> dict[str, dict]:
        """chunk id -> {source, file_hash}: what is stored, read back from the store itself."""
        chunk_col, _ = self.collections(generation)
        out, offset = {}, 0
        while True:
            got = self.call(chunk_col.get, include=["metadatas"], limit=BATCH * 5, offset=offset)
            for cid, meta in zip(got["ids"], got["metadatas"]):
                out[cid] = {"source": meta.get("source"), "file_hash": meta.get("file_hash")}
            if len(got["ids"]) < BATCH * 5:
                return out
            offset += BATCH * 5

    def iter_chunks(self, generation: str, batch: int = BATCH * 5):
        """(ids, documents, metadatas) a batch at a time: the corpus never has to fit in memory."""
        chunk_col, _ = self.collections(generation)
        offset = 0
        while True:
            got = self.call(chunk_col.get, include=["documents", "metadatas"], limit=batch, offset=offset)
            if got["ids"]:
                yield got["ids"], got["documents"], got["metadatas"]
            if len(got["ids"]) < batch:
                return
            offset += batch

    def all_chunks(self, generation: str) -> tuple[list[str], list[str], list[dict]]:
        ids, docs, metas = [], [], []
        for batch_ids, batch_docs, batch_metas in self.iter_chunks(generation):
            ids += batch_ids
            docs += batch_docs
            metas += batch_metas
        return ids, docs, metas

    def count(self, generation: str) -> tuple[int, int]:
        chunk_col, unit_col = self.collections(generation)
        return self.call(chunk_col.count), self.call(unit_col.count)


def chunk_metadata(chunk: Chunk, file_hash: str) -> dict:
    return {"source": chunk.source, "title": chunk.title, "section": chunk.section, "start": chunk.start,
            "end": chunk.end, "kind": chunk.kind, "file_hash": file_hash, "units": len(chunk.units)}


def _is_connection_error(exc: BaseException) -> bool:
    names = {"ConnectError", "ConnectionError", "ConnectTimeout", "ReadTimeout", "RemoteProtocolError",
             "ConnectionRefusedError", "ReadError", "WriteError", "NetworkError", "TimeoutException"}
    seen = exc
    while seen is not None:
        if type(seen).__name__ in names or isinstance(seen, (ConnectionError, TimeoutError)):
            return True
        if "Could not connect" in str(seen) or "Connection refused" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
