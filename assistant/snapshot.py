"""Snapshot: what a serving process builds from a walk over an index version, saved beside the store per version.

A fresh process used to read every chunk and unit pack back from Chroma to build BM25 and the exact
vector matrices: 0.6-0.8 s of a 2.6 s cold `assistant ask` on the shipped corpus. The same arrays,
saved once per (generation, revision) as one .npz, load in a few hundredths of a second. A file that
does not match (another version, other code, another chunk count) is ignored and written again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.bm25 import SparseBM25
from assistant.unitvectors import UnitMatrix

log = logging.getLogger(__name__)

FORMAT = 1


@dataclass(frozen=True)
class Snapshot:
    """One index version as the retriever holds it. `units_over`: when the unit matrices were left out
    because the units numbered more than this (-1 when they are here, or the generation is legacy)."""

    bm25: SparseBM25
    ids: list[str]
    titles: list[str]  # the chunks' document titles (refusals never offer them as topics)
    topics: list[str]  # top-level sections, in corpus order
    units: UnitMatrix | None
    chunks: UnitMatrix | None
    legacy: bool
    units_over: int = -1
    # Per chunk, in `ids` order: (source, section, start). Which sections a document has under a heading.
    outline: tuple[tuple[str, str, int], ...] = ()
    # The lower-case words of five letters or more the chunks use, as written (spelling.correct's candidates).
    words: frozenset[str] = frozenset()


def _code() -> str:
    """The modules whose code decides the arrays: a change to tokens, BM25 or the matrices is a new file."""
    from assistant import bm25, text, unitvectors

    digest = hashlib.sha256(str(FORMAT).encode())
    for module in (text, bm25, unitvectors):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def _compact(matrix: np.ndarray) -> np.ndarray:
    """float16 when that keeps every value exactly (unit packs are stored as float16), else as is."""
    small = matrix.astype(np.float16)
    return small if np.array_equal(small.astype(np.float32), matrix) else matrix


def snapshot_files(settings) -> SnapshotFiles | None:
    """Where the settings' store keeps its snapshots: beside an embedded store; none for a Chroma server,
    whose index this machine's folder does not follow."""
    return None if settings.chroma_url else SnapshotFiles(settings.index_dir / "snapshots" / settings.collection)


class SnapshotFiles:
    """The snapshots of one collection in `folder`: at most one file per index version, the latest kept."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, generation: str, revision: str) -> Path:
        return self.folder / f"{generation}-{revision}.npz"

    def load(self, generation: str, revision: str, chunk_count, exact_max: int, legacy: bool) -> Snapshot | None:
        """The saved snapshot of this version, or None when there is none that matches (the caller walks
        the store). `chunk_count()` is the store's count: rows written without a new revision (an index
        run that stopped half way) make the file stale."""
        path = self.path(generation, revision)
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, EOFError) as exc:
            if not isinstance(exc, (FileNotFoundError, NotADirectoryError)):  # none saved yet: no news
                log.warning("ignoring the unreadable index snapshot %s (%s)", path, exc)
            return None
        try:
            meta = json.loads(arrays.pop("meta").tobytes())
            if meta["key"] != [generation, revision, _code()]:
                return None
            snapshot = self._snapshot(meta, arrays, exact_max, legacy)
            if snapshot is None:
                return None
            if chunk_count() != len(snapshot.ids):
                log.info("the index snapshot %s is stale (the store's chunks changed); rebuilding it", path)
                return None
            return snapshot
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            log.warning("ignoring the malformed index snapshot %s (%s)", path, exc)
            return None

    @staticmethod
    def _snapshot(meta: dict, arrays: dict, exact_max: int, legacy: bool) -> Snapshot | None:
        if meta["legacy"] != legacy:
            return None
        ids = meta["ids"]
        bm25 = SparseBM25.from_arrays(meta["terms"], len(ids), arrays["df"], arrays["data"], arrays["indices"],
                                      arrays["indptr"])
        if len(bm25.indptr) != len(bm25.vocab) + 1 or len(bm25.df) != len(bm25.vocab):
            raise ValueError("the BM25 arrays do not match its terms")
        units = chunks = None
        units_over = meta["units_over"]
        if "unit_matrix" in arrays:
            # The walk stops past exact_max: a snapshot holding more units than this process allows
            # gives what that walk gives, no matrices.
            if len(arrays["unit_matrix"]) <= exact_max:
                units = UnitMatrix.from_arrays(meta["unit_ids"], arrays["unit_owner"],
                                               arrays["unit_matrix"].astype(np.float32))
                chunks = UnitMatrix.from_arrays(meta["chunk_ids"], np.arange(len(meta["chunk_ids"]), dtype=np.int32),
                                                arrays["chunk_matrix"].astype(np.float32))
                if len(units.owner) != len(units.matrix) or len(chunks.matrix) != len(chunks.ids):
                    raise ValueError("the vector matrices do not match their ids")
        elif not legacy and exact_max > units_over:
            return None  # saved without matrices under a lower bound: whether they fit now is unknown
        outline = tuple((source, section, int(start)) for source, section, start in meta["outline"])
        if len(outline) != len(ids):
            raise ValueError("the outline does not match the chunk ids")
        return Snapshot(bm25, ids, meta["titles"], meta["topics"], units, chunks, legacy, units_over, outline,
                        frozenset(meta["words"]))

    def save(self, generation: str, revision: str, snapshot: Snapshot) -> None:
        """Write the snapshot (atomically: readers see the old file or the new one) and drop the other
        versions' files. Best effort: a read-only index folder only means the next process walks again."""
        meta = {"key": [generation, revision, _code()], "ids": snapshot.ids, "terms": list(snapshot.bm25.vocab),
                "titles": snapshot.titles, "topics": snapshot.topics, "legacy": snapshot.legacy,
                "units_over": snapshot.units_over, "outline": [list(row) for row in snapshot.outline],
                "words": sorted(snapshot.words)}
        arrays = dict(snapshot.bm25.arrays())
        if snapshot.units is not None and snapshot.chunks is not None:
            meta["unit_ids"], meta["chunk_ids"] = snapshot.units.ids, snapshot.chunks.ids
            arrays.update(unit_owner=snapshot.units.owner, unit_matrix=_compact(snapshot.units.matrix),
                          chunk_matrix=_compact(snapshot.chunks.matrix))
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        path = self.path(generation, revision)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                np.savez(out, **arrays)
            os.replace(tmp, path)
            for old in self.folder.glob("*.npz"):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError as exc:
            log.info("cannot save the index snapshot %s (%s); the next process reads the store again", path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
