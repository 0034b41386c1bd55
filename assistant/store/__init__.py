"""Store: the one package that speaks Chroma (embedded or `chroma run` server); it hands out typed rows."""

from __future__ import annotations

# Every name assistant/store.py had at module level stays importable from here, the private ones too
# (benches and notes reach for them: BENCHMARKS.md names `store._allocator`).
from assistant.store.chroma import (_M_MMAP_THRESHOLD, _MMAP_THRESHOLD, _allocator, _client, _close,  # noqa: F401
                                    _connection_errors, _spelled, live_copies)
from assistant.store.copies import _COLLECTION_CONFIG, _KINDS, BATCH, _View  # noqa: F401
from assistant.store.reads import Reads, _hit  # noqa: F401
from assistant.store.writes import _NO_VECTOR, Writes, chunk_metadata  # noqa: F401

__all__ = ["BATCH", "Store", "chunk_metadata", "live_copies"]


class Store(Reads, Writes):
    """Two collections per generation: chunks (one vector each, in an HNSW index) and unit packs
    (per chunk, its sentences, list items and cells with their vectors as float16 bytes; no vector
    index, see assistant/unitvectors.py).

    A pointer collection names the active generation, so a rebuild fills a new generation aside
    and switches only when it is complete: a half-built index never serves.
    """
