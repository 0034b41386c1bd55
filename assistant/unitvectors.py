"""Unit vectors: a chunk's citable units packed as one stored record, and chunks ranked by their best unit.

A chunk's units (sentences, list items, table cells) used to be rows of their own in a second
HNSW index: ~5.5 vectors per chunk, 550k at 100k chunks, which Chroma loads whole into every
serving process (and loads even for a plain `get`). Packed per chunk, as float16 bytes in the
metadata of one record, they cost nothing in memory until a query reads the few chunks it needs.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import numpy as np

DTYPES = {"float16": "<f2", "float32": "<f4"}


@dataclass(frozen=True)
class UnitSearch:
    """How the dense-units signal is computed (from the settings; see config.Settings)."""

    dtype: str = "float16"  # how unit vectors are stored
    exact_max: int = 50_000  # up to this many units, one exact search over all of them
    candidates: int = 60  # past it: the units of this many dense chunk hits (plus the BM25 ones)


@dataclass(frozen=True)
class UnitPack:
    """The units of one chunk, as stored: texts, list items and a (units, dim) float32 matrix."""

    chunk_id: str
    texts: tuple[str, ...]
    items: tuple[int, ...]
    vectors: np.ndarray


def pack_metadata(texts, items, vectors: np.ndarray, dtype: str = "float16") -> dict:
    """The stored metadata of a pack: strings and numbers only (what Chroma and a backup carry)."""
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1) if len(texts) else \
        np.zeros((0, 0), np.float32)
    raw = np.ascontiguousarray(vectors, dtype=DTYPES[dtype]).tobytes()
    return {"texts": json.dumps(list(texts)), "items": json.dumps([int(i) for i in items]),
            "vectors": base64.b64encode(raw).decode("ascii"), "dtype": dtype,
            "dim": int(vectors.shape[1]) if len(texts) else 0}


def stored_vectors(meta: dict) -> np.ndarray:
    """A pack's (units, dim) vectors as stored (float16 or float32), without decoding its texts."""
    dim = int(meta.get("dim", 0))
    raw = np.frombuffer(base64.b64decode(meta["vectors"]), dtype=DTYPES[meta.get("dtype", "float16")])
    return raw.reshape(-1, dim) if dim else raw.reshape(0, 0)


def unpack(chunk_id: str, meta: dict) -> UnitPack:
    texts = tuple(json.loads(meta["texts"]))
    items = tuple(int(i) for i in json.loads(meta["items"]))
    vectors = stored_vectors(meta).astype(np.float32)
    return UnitPack(chunk_id=chunk_id, texts=texts, items=items, vectors=vectors)


def best_per_chunk(vector: np.ndarray, packs: dict[str, np.ndarray]) -> list[tuple[str, float]]:
    """Chunks ranked by their best unit's cosine similarity to `vector` (vectors are normalised)."""
    query = np.asarray(vector, dtype=np.float32)
    best = [(cid, float(np.max(vecs.astype(np.float32) @ query))) for cid, vecs in packs.items() if len(vecs)]
    return sorted(best, key=lambda pair: -pair[1])


class UnitMatrix:
    """Every unit vector of a generation in one float32 matrix, for an exact search while the corpus
    is small (the shipped one: ~13k units, 20 MB): the same ranking a global nearest-unit search gives."""

    def __init__(self, packs: list[tuple[str, np.ndarray]]):
        # In chunk id order, not the store's paging order (which may differ between processes): units
        # with equal similarity (a sentence two overlapping chunks share) then rank the same everywhere.
        packs = sorted(packs, key=lambda pack: pack[0])
        self.ids = [cid for cid, vecs in packs if len(vecs)]
        self.row = {cid: i for i, cid in enumerate(self.ids)}
        blocks = [vecs for _, vecs in packs if len(vecs)]
        self.owner = np.repeat(np.arange(len(blocks), dtype=np.int32), [len(b) for b in blocks])
        # Filled block by block: the stored (float16) blocks and one float32 matrix, never two of it.
        self.matrix = np.empty((len(self.owner), blocks[0].shape[1] if blocks else 0), np.float32)
        row = 0
        for block in blocks:
            self.matrix[row:row + len(block)] = block
            row += len(block)

    @classmethod
    def from_arrays(cls, ids: list[str], owner: np.ndarray, matrix: np.ndarray) -> "UnitMatrix":
        """A matrix as built before (ids in chunk id order, each row's owner index): see assistant/snapshot.py."""
        units = cls.__new__(cls)
        units.ids, units.owner, units.matrix = ids, owner, matrix
        units.row = {cid: i for i, cid in enumerate(ids)}
        return units

    def __len__(self) -> int:
        return len(self.matrix)

    @property
    def nbytes(self) -> int:
        return self.matrix.nbytes + self.owner.nbytes

    def top_chunks(self, vector: np.ndarray, n_units: int) -> list[tuple[str, float]]:
        """The chunks of the `n_units` units nearest to `vector`, each ranked by its best unit."""
        if not len(self.matrix):
            return []
        sims = self.matrix @ np.asarray(vector, dtype=np.float32)
        n = min(n_units, len(sims))
        top = np.argpartition(-sims, n - 1)[:n]
        top = top[np.argsort(-sims[top], kind="stable")]
        best: dict[str, float] = {}
        for i in top:
            best.setdefault(self.ids[self.owner[i]], float(sims[i]))
        return list(best.items())

    def best_of(self, vector: np.ndarray, chunk_ids) -> dict[str, float]:
        """Each of `chunk_ids`' best unit similarity to `vector` (chunks without units are left out)."""
        rows = [self.row[cid] for cid in chunk_ids if cid in self.row]
        if not rows or not len(self.matrix):
            return {}
        mask = np.isin(self.owner, rows)
        sims = self.matrix[mask] @ np.asarray(vector, dtype=np.float32)
        owners = self.owner[mask]
        best: dict[str, float] = {}
        for owner, sim in zip(owners.tolist(), sims.tolist()):
            cid = self.ids[owner]
            best[cid] = max(best.get(cid, -1.0), sim)
        return best
