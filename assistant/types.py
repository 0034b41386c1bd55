"""Types passed between the steps: small frozen dataclasses, never loose dicts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True, kw_only=True)
class Document:
    source: str  # path relative to the corpus folder
    title: str
    text: str  # Markdown
    metadata: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, kw_only=True)
class Chunk:
    id: str
    source: str
    title: str
    section: str  # heading path, e.g. "Monitoring > Challenges"
    text: str
    start: int  # character span in the document's text
    end: int
    kind: str = "text"  # text | list | table | card (the front matter's author, publisher, date)
    units: tuple[str, ...] = ()  # citable sentences, list items or table cells
    unit_items: tuple[int, ...] = ()  # per unit: which list item of the chunk it belongs to, or -1


@dataclass(frozen=True, kw_only=True)
class Hit:
    id: str
    source: str
    title: str
    section: str
    text: str
    score: float = 0.0  # fused (RRF) score
    dense: float | None = None  # cosine similarity, when dense retrieval found it
    bm25: float | None = None
    start: int = 0
    end: int = 0
    kind: str = "text"  # text | list | table | card (the front matter's author, publisher, date)
    file_hash: str = ""  # of the document version the chunk came from (incremental indexing)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class Unit:
    """A citable unit of a stored chunk (sentence, list item or table cell) with its stored vector."""

    chunk_id: str
    n: int  # position in the chunk
    text: str
    item: int = -1  # the list item of the chunk it belongs to, or -1
    vector: np.ndarray = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class UnitMatch:
    """A unit found by vector search: which chunk, which unit, how similar."""

    chunk_id: str
    n: int
    similarity: float


@dataclass(frozen=True, kw_only=True)
class StoredRow:
    """One stored record as a backup carries it: id, text, metadata, vector."""

    id: str
    text: str
    meta: dict
    vector: tuple[float, ...]


@dataclass(frozen=True, kw_only=True)
class Retrieval:
    """What retrieval hands to the answerer: the hits plus the query vector, embedded once."""

    question: str
    query: str  # the retrieval query (the question, expanded for follow-ups)
    hits: tuple[Hit, ...]
    query_vector: tuple[float, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Citation:
    n: int
    id: str
    source: str
    title: str
    section: str
    text: str
    start: int = 0
    end: int = 0


@dataclass(frozen=True, kw_only=True)
class SentenceCheck:
    text: str
    citations: tuple[int, ...]
    supported: bool
    score: float
    bullet: bool = False  # part of a list item: the Markdown answer shows it as "- text [n]"
    item: int = -1  # which list item (sentences of one item share a line), -1 for a paragraph
    depth: int = 0  # a list item's nesting: "  - Hot Site ..." under "- Failover:" is 1
    paragraph: int = 0  # which paragraph (its line in the drafted text): a new one starts a new paragraph
    code: str = ""  # a fenced code block shown after the sentence, verbatim from the passage it cites


@dataclass(frozen=True, kw_only=True)
class Answer:
    question: str
    text: str
    citations: tuple[Citation, ...]
    refused: bool
    sentences: tuple[SentenceCheck, ...] = ()
    removed: int = 0  # sentences dropped by the verifier
    reattributed: int = 0  # supported sentences whose missing or wrong citation the verifier corrected
    retrieved: tuple[str, ...] = ()  # ids of the passages the answerer saw, best first
    query: str = ""
    answerer: str = "extractive"
    reason: str = ""  # why the answerer refused (or fell back): logged, shown with --verbose and in evals

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "format": "markdown",
            "refused": self.refused,
            "citations": [
                {"n": c.n, "id": c.id, "source": c.source, "title": c.title,
                 "section": c.section, "text": c.text, "start": c.start, "end": c.end}
                for c in self.citations
            ],
            "sentences": [
                {"text": s.text, "citations": list(s.citations), "supported": s.supported,
                 "score": round(s.score, 4), "bullet": s.bullet, "item": s.item,
                 "depth": s.depth, "paragraph": s.paragraph, **({"code": s.code} if s.code else {})}
                for s in self.sentences
            ],
            "removed": self.removed,
            "reattributed": self.reattributed,
            "retrieved": list(self.retrieved),
            "query": self.query,
            "answerer": self.answerer,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Answer":
        """The inverse of to_json (a reopened conversation, a stored turn); raises on a malformed record."""
        citations = tuple(Citation(n=int(c["n"]), id=str(c["id"]), source=str(c["source"]), title=str(c["title"]),
                                   section=str(c["section"]), text=str(c["text"]), start=int(c.get("start", 0)),
                                   end=int(c.get("end", 0))) for c in data["citations"])
        sentences = tuple(SentenceCheck(text=str(s["text"]), citations=tuple(int(n) for n in s["citations"]),
                                        supported=bool(s["supported"]), score=float(s["score"]),
                                        bullet=bool(s.get("bullet")), item=int(s.get("item", -1)),
                                        depth=int(s.get("depth", 0)), paragraph=int(s.get("paragraph", 0)),
                                        code=str(s.get("code", "")))
                          for s in data.get("sentences", ()))
        return cls(question=str(data["question"]), text=str(data["answer"]), citations=citations,
                   refused=bool(data["refused"]), sentences=sentences, removed=int(data.get("removed", 0)),
                   reattributed=int(data.get("reattributed", 0)),
                   retrieved=tuple(str(r) for r in data.get("retrieved", ())), query=str(data.get("query", "")),
                   answerer=str(data.get("answerer", "extractive")), reason=str(data.get("reason", "")))


@dataclass(frozen=True)
class IndexStats:
    documents: int
    chunks: int
    embedded: int
    deleted: int
    seconds: float
    skipped: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"documents": self.documents, "chunks": self.chunks, "embedded": self.embedded,
                "deleted": self.deleted, "seconds": round(self.seconds, 3),
                "skipped": list(self.skipped)}
