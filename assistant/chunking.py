"""Chunk: split Markdown documents into heading-aware, citable chunks (paragraphs, list items, table cells)."""

from __future__ import annotations

import hashlib
import re

from assistant.blocks import Block, is_lead_in, parse_blocks, plain
from assistant.tables import MAX_UNITS_PER_CHUNK, table_chunks
from assistant.text import split_sentences, words
from assistant.types import Chunk, Document


def _windows(block: Block, max_words: int, overlap: int) -> list[Block]:
    """Split a block longer than max_words into sentence windows that overlap a little."""
    sentences = block.units or split_sentences(block.text)
    out, current = [], []
    for sentence in sentences:
        if current and words(" ".join(current + [sentence])) > max_words:
            out.append(current)
            keep: list[str] = []
            for s in reversed(current):
                if words(" ".join(keep + [s])) > overlap:
                    break
                keep.insert(0, s)
            current = keep
        current.append(sentence)
    if current:
        out.append(current)
    prefix = "  " * block.depth + "- " if block.kind == "item" else ""
    return [Block(block.kind, prefix + " ".join(w), w, block.start, block.end, block.section, depth=block.depth)
            for w in out]


def chunk_id(source: str, section: str, text: str, units: tuple[str, ...] = (), ordinal: int = 0) -> str:
    """Stable across runs: the same content at the same place gets the same id. The units are part
    of it, so a change in how a chunk splits into citable sentences re-embeds that chunk."""
    raw = "\x1f".join((source, section, text, "\x1e".join(units), str(ordinal))).encode()
    return hashlib.sha1(raw).hexdigest()[:20]


def chunk_document(doc: Document, min_words: int = 60, max_words: int = 250,
                   overlap_words: int = 30) -> list[Chunk]:
    """Pack a document's blocks into chunks of about min..max words, never across sections."""
    target = (min_words + max_words) // 2
    groups: list[list[Block]] = []
    tables: list[tuple[Block, str, list[str]]] = []
    for block in parse_blocks(doc):
        if block.kind == "table":
            name = block.section.split(" > ")[-1]
            tables += [(block, text, units) for text, units in table_chunks(block.rows, name, max_words)]
            groups.append([])  # a table ends the paragraph group before it
            continue
        pieces = _windows(block, max_words, overlap_words) if words(block.text) > max_words else [block]
        for piece in pieces:
            last = groups[-1] if groups else []
            size = sum(words(b.text) for b in last)
            same = bool(last) and last[0].section == piece.section
            fits = size + words(piece.text) <= max_words and len(pieces) == 1
            # A list stays with its lead-in ("Loki has three main components:") and its other items
            # up to the size cap: a chunk that ends on a lead-in answers nothing.
            listed = piece.kind == "item" or (piece.kind == "code" and bool(piece.units))  # an example too
            in_list = same and listed and (last[-1].kind == "item" or is_lead_in(last[-1]))
            if same and fits and (size < target or in_list):
                last.append(piece)
            elif same and listed and is_lead_in(last[-1]) and len(last) > 1:
                groups.append([last.pop(), piece])
            else:
                groups.append([piece])
    groups = [g for g in groups if g]
    # A short tail (e.g. a one-line remark) joins the group before it in the same section.
    merged: list[list[Block]] = []
    for group in groups:
        size = sum(words(b.text) for b in group)
        prev = merged[-1] if merged else None
        if prev and size < min_words and prev[0].section == group[0].section \
                and sum(words(b.text) for b in prev) + size <= max_words:
            prev.extend(group)
        else:
            merged.append(group)

    chunks: list[Chunk] = []
    seen: dict[str, int] = {}

    def add(section: str, text: str, units: list[tuple[str, int]], start: int, end: int, kind: str) -> None:
        key = f"{section}\x1f{text}"
        ordinal = seen.get(key, 0)
        seen[key] = ordinal + 1
        units = [(u, item) for u, item in units if u][:MAX_UNITS_PER_CHUNK]  # a bound on vectors per chunk
        kept = tuple(u for u, _ in units)
        chunks.append(Chunk(id=chunk_id(doc.source, section, text, kept, ordinal), source=doc.source,
                            title=doc.title, section=section, text=text, start=start, end=end, kind=kind,
                            units=kept, unit_items=tuple(item for _, item in units)))

    for group in merged:
        kind = "list" if any(b.kind == "item" for b in group) else "text"
        units = [(u, j if b.kind in ("item", "code") else -1) for j, b in enumerate(group) for u in b.units]
        add(group[0].section, "\n".join(b.text for b in group), units, group[0].start, group[-1].end, kind)
    for block, text, units in tables:
        add(block.section, text, [(u, -1) for u in units], block.start, block.end, "table")
    if card := _card(doc):
        # Cited at the document's title heading (front matter is not part of the text): kind "card".
        title = re.search(r"^#\s+.+$", doc.text, re.M)
        start, end = (title.start(), title.end()) if title else (0, min(len(doc.text), 1))
        # Without the title: it would outweigh "Who wrote this?" in the vectors; the citation names the
        # document.
        add(CARD_SECTION, " ".join(card), [(u, -1) for u in card], start, end, "card")
    chunks.sort(key=lambda c: (c.start, c.kind == "table"))
    return chunks


CARD_SECTION = "About this document"
# Front matter keys a reader asks about ("Who wrote the article?", "Which blog published it?").
_CARD_KEYS = (("author", "This document was written by {value}."), ("authors", "This document was written by {value}."),
              ("publisher", "This document was published by {value}."), ("date", "This document is dated {value}."),
              ("published", "This document was published on {value}."))


def _card(doc: Document) -> list[str]:
    """A document's own facts from its front matter, as sentences a passage can cite: the body
    rarely repeats who wrote or published it, and the title alone answers neither."""
    out = []
    for key, template in _CARD_KEYS:
        value = doc.metadata.get(key)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value if v)
        value = plain(str(value)).strip() if value not in (None, "") else ""
        if value:
            out.append(template.format(value=value[:200]))
    return out
