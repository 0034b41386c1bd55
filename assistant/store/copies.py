"""Store, its copies: the open copy of the store, reopened fresh, and each Chroma call made on it."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

from assistant.errors import GenerationGone, StoreUnavailable
from assistant.store.chroma import _allocator, _client, _close, _connection_errors, _spelled, live_copies
from assistant.store.records import Records, RecordFile
from assistant.unitvectors import UnitSearch

BATCH = 1000
_COLLECTION_CONFIG = {"hnsw": {"space": "cosine"}}
# The collections of a generation: chunks, their unit packs, and the per-unit rows (with a vector
# index of their own) of indexes written before the packs, still read until they are rebuilt.
_KINDS = ("chunks", "unitpacks", "units")


class _View:
    """One open copy of the store: its client, the collections opened through it, and how many
    calls are running on it now (a replaced copy is closed when the last of them is done)."""

    __slots__ = ("client", "collections", "busy", "retired", "legacy", "unit_counts")

    def __init__(self, client):
        self.client, self.collections = client, {}
        self.busy, self.retired = 0, False
        self.legacy: set[str] = set()  # generations whose units are rows of their own (before packs)
        self.unit_counts: dict[str, tuple[int, int]] = {}  # generation -> (chunks, units) last counted


class Copies:
    """The store's copy lifecycle, which the rest of Store (generations, writes, reads) builds on:
    the current copy (`_using`), a fresh one when the index changed (`reopen`), and each Chroma
    call through `_call`, with the collections of a generation (`_cols`)."""

    def __init__(self, client, name: str, where: str, connect=None, unit_search: UnitSearch = UnitSearch(),
                 records: RecordFile | None = None):
        """`client` None: opened by `connect(0)` on the first call that needs Chroma (an embedded
        store whose reads the record file serves may never need it)."""
        self.name, self.where, self.unit_search, self.records = name, where, unit_search, records
        self._view, self._connect, self._lock = _View(client), connect, threading.Lock()
        self._fresh = False  # a reopen was asked before the first copy was opened

    @classmethod
    def open(cls, settings) -> Self:
        unit_search = UnitSearch(dtype=settings.unit_vector_dtype, exact_max=settings.unit_search_exact_max,
                                 candidates=settings.unit_candidates)
        if settings.chroma_url:  # a server: connected now, so that an unreachable one is said at once
            return cls(_client(settings), settings.collection, settings.chroma_url, None, unit_search)
        # Beside the snapshots (assistant/snapshot.py), in the same folder per collection.
        records = RecordFile(settings.index_dir / "snapshots" / settings.collection / "records.dat",
                             settings.chroma_path / "chroma.sqlite3")
        return cls(None, settings.collection, str(settings.chroma_path),
                   lambda spelling: _client(settings, spelling), unit_search, records)

    @property
    def client(self):
        """The client of the current copy (for tests and diagnostics; the store's own calls go through _using)."""
        with self._using() as view:
            return view.client

    def _records(self, generation: str | None = None) -> Records | None:
        """The record file, when it describes the store as it is now (and holds `generation`, if given)."""
        records = self.records.current() if self.records is not None else None
        return records if records is not None and generation in (None, records.generation) else None

    def reopen(self) -> None:
        """See the index as committed now. A Chroma server always does; an embedded store keeps an
        in-memory copy per process that misses what another process (`assistant index`) wrote since,
        so a fresh copy is opened, and the old one is closed as soon as no call runs on it: at most
        one copy more than the calls in flight, however often the index changes."""
        if self._connect is None:
            return
        _allocator()  # before the fresh copy allocates
        with self._lock:
            if self._view.client is None:  # none opened yet: the first call opens a fresh one
                self._fresh = True
                return
            old, self._view = self._view, _View(self._connect(self._free_spelling()))
            old.retired = True
            idle = old.busy == 0
        if idle:
            self._release(old)

    def _free_spelling(self) -> int:
        """The first spelling no copy in this process holds: one still open (ours, busy, or another
        Store's) would be shared, stale, instead of fresh."""
        taken = live_copies()
        return next(k for k in itertools.count() if _spelled(self.where, k) not in taken)

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
            if view.client is None:  # the first call to need Chroma (see __init__)
                view.client = self._connect(self._free_spelling() if self._fresh else 0)
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
        if self._records(generation) is not None:
            return False  # the record file holds only unit packs
        with self._using() as view:
            self._cols(view, generation)
            return generation in view.legacy
