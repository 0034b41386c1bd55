"""Context: number the retrieved passages and attach their citable units (with stored vectors)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.safety import mask_injections
from assistant.types import Hit, Retrieval

REFUSAL = "I can't find that in the sources I have."


@dataclass(frozen=True)
class Passage:
    n: int  # the number the answerer cites: [n]
    hit: Hit
    units: tuple[str, ...]
    unit_vectors: np.ndarray  # (len(units), dim), normalised
    items: tuple[int, ...] = ()  # per unit: the list item it belongs to, or -1


@dataclass(frozen=True)
class Context:
    retrieval: Retrieval
    passages: tuple[Passage, ...]
    query_vector: np.ndarray

    def by_number(self) -> dict[int, Passage]:
        return {p.n: p for p in self.passages}

    def prompt_block(self, max_chars: int = 1200) -> str:
        """Passages as the generative answerer sees them: numbered, fenced as data."""
        parts = []
        for p in self.passages:
            body = mask_injections(p.hit.text[:max_chars]).replace("</passage>", "")
            parts.append(f'<passage n="{p.n}" source="{p.hit.source}" section="{p.hit.section}">\n'
                         f"{body}\n</passage>")
        return "\n".join(parts)


def build_context(retrieval: Retrieval, store, generation: str, dimension: int) -> Context:
    """One store read for all units of the retrieved chunks: no re-embedding at question time."""
    ids = [h.id for h in retrieval.hits]
    units: dict[str, list[tuple[int, str, np.ndarray, int]]] = {cid: [] for cid in ids}
    if ids:
        _, unit_col = store.collections(generation)
        got = store.call(unit_col.get, where={"chunk_id": {"$in": ids}},
                          include=["documents", "metadatas", "embeddings"])
        for text, meta, vec in zip(got["documents"], got["metadatas"], got["embeddings"]):
            units[meta["chunk_id"]].append((int(meta["n"]), text, np.asarray(vec, dtype=np.float32),
                                            int(meta.get("item", -1))))
    passages = []
    for n, hit in enumerate(retrieval.hits, start=1):
        found = sorted(units[hit.id], key=lambda u: u[0])
        vectors = np.stack([u[2] for u in found]) if found else np.zeros((0, dimension), np.float32)
        passages.append(Passage(n, hit, tuple(u[1] for u in found), vectors, tuple(u[3] for u in found)))
    return Context(retrieval, tuple(passages), np.asarray(retrieval.query_vector, dtype=np.float32))
