"""Store, its record file: the active version's chunks and unit packs, beside an embedded store, read without Chroma.

A one-shot `assistant ask` needs from the store only the active version, the chunk count, about ten
chunks and five unit packs; the rest comes from the snapshot (assistant/snapshot.py). Opening Chroma for
that (importing chromadb, starting its client) was 0.4-1.7 s of a cold ask. The record file holds every
row of the version as the store returned it (JSON, indexed at the file's end), with the stamp of the
store's SQLite file when they were last checked against the store: while that file shows no write since,
they are what the store would return. Any write (an index run, a restore, even another process opening
Chroma, which records itself in the store) changes the stamp, and the reads go to Chroma again until a
process that has it open checks the file again (see Reads.keep_records).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import struct
import threading
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

FORMAT = 1
_PREFIX = 256  # the file's first bytes: its format, stamp and where its index starts; rewritten in place
_HEADER = b"SQLite format 3\x00"


def store_stamp(db: Path) -> list[int] | None:
    """What every write to the store's SQLite file changes: its file change counter (header bytes 24-27,
    bumped by each transaction that writes, in the rollback-journal mode Chroma uses), with the file's
    identity and size. None when that cannot be told: no store yet, another journal mode (WAL does not
    bump the counter), or a write in progress (its journal is beside the file)."""
    try:
        with open(db, "rb") as f:
            st, header = os.fstat(f.fileno()), f.read(100)
    except OSError:
        return None
    # Read before looking for the journal: a counter read during a write is never taken as settled.
    if len(header) < 100 or header[:16] != _HEADER or header[18:20] != b"\x01\x01":
        return None
    if os.path.exists(f"{db}-journal") or os.path.exists(f"{db}-wal"):
        return None
    return [st.st_dev, st.st_ino, st.st_size, struct.unpack(">I", header[24:28])[0]]


class Records:
    """One open record file, checked current: its head (generation, revision, the pointer's info, the
    chunk count) and the rows, read as Chroma hands them out (document text, metadata dicts)."""

    def __init__(self, file, prefix: dict, head: dict):
        # Closed when the last holder lets go: a thread still reading keeps the file it started on.
        self.file, self.fd, self.stamp, self.head = file, file.fileno(), prefix["stamp"], head
        self.generation, self.revision = head["generation"], head["revision"]
        self._chunks = {row[0]: row for row in head.pop("chunk_rows")}  # id -> [id, at, size, source, kind]
        self._packs = head.pop("pack_rows")  # id -> [at, size]

    def _read(self, at: int, size: int):
        return json.loads(os.pread(self.fd, size, at))

    def chunks(self, ids: list[str]) -> list[tuple[str, str, dict]]:
        """(id, text, metadata) of the stored chunks among `ids`, in the order asked."""
        return [(cid, *self._read(*self._chunks[cid][1:3])) for cid in ids if cid in self._chunks]

    def cards(self, sources: list[str]) -> list[tuple[str, str, dict]]:
        """The front matter cards of these documents, in the store's order (as its filtered read gives them)."""
        wanted = set(sources)
        return [(row[0], *self._read(row[1], row[2])) for row in self._chunks.values()
                if row[4] == "card" and row[3] in wanted]

    def packs(self, ids: list[str]) -> dict[str, dict]:
        """chunk id -> its unit pack's stored metadata, for those of `ids` that have one."""
        return {cid: self._read(*self._packs[cid]) for cid in ids if cid in self._packs}


def _load(file) -> Records:
    fd = file.fileno()
    prefix = json.loads(os.pread(fd, _PREFIX, 0))
    if prefix["format"] != FORMAT:
        raise ValueError(f"format {prefix['format']}, not {FORMAT}")
    at = prefix["index_at"]
    return Records(file, prefix, json.loads(os.pread(fd, os.fstat(fd).st_size - at, at)))


def _prefix(stamp: list[int], index_at: int) -> bytes:
    text = json.dumps({"format": FORMAT, "stamp": stamp, "index_at": index_at}).encode()
    if len(text) >= _PREFIX:
        raise ValueError("the record file's stamp does not fit its prefix")
    return text.ljust(_PREFIX - 1) + b"\n"


class RecordFile:
    """The record file of one collection (`path`) beside the embedded store whose SQLite file is `store_db`."""

    def __init__(self, path: Path, store_db: Path):
        self.path, self.store_db = Path(path), Path(store_db)
        self._lock = threading.Lock()
        self._open: tuple[tuple[int, int], Records] | None = None  # the file's (dev, inode), its records

    def current(self) -> Records | None:
        """The records, when they describe the store as it is now; None sends the caller to Chroma."""
        stamp = store_stamp(self.store_db)
        if stamp is None:
            return None
        with self._lock:
            records = self._opened(stamp)
        return records if records is not None and records.stamp == stamp else None

    def _opened(self, stamp: list[int]) -> Records | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        ident = (st.st_dev, st.st_ino)
        try:
            if self._open is None or self._open[0] != ident:
                self._open = None
                with contextlib.ExitStack() as failing:
                    file = failing.enter_context(open(self.path, "rb", buffering=0))
                    self._open = (ident, _load(file))
                    failing.pop_all()
            elif self._open[1].stamp != stamp:  # checked again since, by another process?
                self._open[1].stamp = json.loads(os.pread(self._open[1].fd, _PREFIX, 0))["stamp"]
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("ignoring the unreadable record file %s (%s)", self.path, exc)
            return None
        return self._open[1]

    def restamp(self, head: dict, stamp: list[int]) -> bool:
        """Mark the file checked at `stamp` when it holds this version (`head`); False when it does
        not (the caller writes it again). The prefix is rewritten in place: a reader that catches it
        half written cannot parse it, and reads from Chroma."""
        try:
            with open(self.path, "r+b", buffering=0) as file:
                held = _load(file)
                if held.head != head:
                    return False
                os.pwrite(file.fileno(), _prefix(stamp, json.loads(os.pread(file.fileno(), _PREFIX, 0))["index_at"]), 0)
            return True
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return False

    def write(self, head: dict, stamp: list[int], chunk_pages: Iterable[list[tuple[str, str, dict]]],
              pack_pages: Iterable[list[tuple[str, dict]]]) -> None:
        """Write the whole file aside and switch to it at once: a reader sees the old file or the new.
        Best effort: a read-only index folder only means the next process opens Chroma."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        chunk_rows, pack_rows = [], {}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                out.write(b" " * _PREFIX)
                # A row deleted during the walk comes back without its text or metadata: left out, as
                # the store's reads leave it out (and the stamp has moved: the file will not be used).
                for page in chunk_pages:
                    for cid, doc, meta in page:
                        if doc is not None and meta is not None:
                            chunk_rows.append([cid, out.tell(), out.write(json.dumps([doc, meta]).encode()),
                                               meta.get("source", ""), meta.get("kind", "text")])
                for page in pack_pages:
                    for cid, meta in page:
                        if meta:
                            pack_rows[cid] = [out.tell(), out.write(json.dumps(meta).encode())]
                index_at = out.tell()
                out.write(json.dumps({**head, "chunk_rows": chunk_rows, "pack_rows": pack_rows}).encode())
                out.seek(0)
                out.write(_prefix(stamp, index_at))
            os.replace(tmp, self.path)
        except (OSError, ValueError) as exc:
            log.info("cannot save the record file %s (%s); the next process opens the store", self.path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
