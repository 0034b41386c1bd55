"""Context: number the retrieved passages and attach their citable units (with stored vectors)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from assistant.safety import mask_injections
from assistant.types import Hit, Retrieval, Unit

# A chunk shows a code block fenced as its page does (blocks.parse_blocks): ``` or ~~~ and a language.
_FENCE = re.compile(r"^(```|~~~)[\w+.#-]*$")

REFUSAL = "I can't find that in the sources I have."
# A unit more similar to a question's scene than to what it asks by this much restates the scene (restating).
RESTATES_GAP = 0.15


def code_body(block: str) -> str:
    """A fenced code block's lines between its fences (Passage.code_after gives blocks with them)."""
    return "\n".join(block.split("\n")[1:-1])


@dataclass(frozen=True)
class Passage:
    n: int  # the number the answerer cites: [n]
    hit: Hit
    units: tuple[str, ...]
    unit_vectors: np.ndarray  # (len(units), dim), normalised
    items: tuple[int, ...] = ()  # per unit: the list item it belongs to, or -1

    @cached_property
    def depths(self) -> tuple[int, ...]:
        """Per unit: how deep its list item is nested, 0 for a top-level item or prose ("  - Hot Site: ..."
        under "- Failover and Redundancy:" is 1). Read from the chunk's text, which indents nested items."""
        lines = [(len(line) - len(line.lstrip(" ")), line.lstrip(" ")[2:]) for line in self.hit.text.split("\n")
                 if line.lstrip(" ").startswith("- ")]
        depth: dict[int, int] = {}
        for unit, item in zip(self.units, self.items):
            if item >= 0 and item not in depth:
                head = unit[:40]
                depth[item] = next((indent // 2 for indent, body in lines if head in body), 0)
        return tuple(depth.get(item, 0) if item >= 0 else 0 for item in self.items) + \
            (0,) * (len(self.units) - len(self.items))

    @cached_property
    def code_after(self) -> dict[int, str]:
        """Per unit: the fenced code block (with its fences) that follows it in the chunk, when the unit
        ends the text right above the block ("you can install Azurite simply with npm ...", then
        "npm install -g azurite"). An answer quoting the unit shows the block after it, as the page does."""
        lines = self.hit.text.split("\n")
        out: dict[int, str] = {}
        i = 0
        while i < len(lines):
            fence = _FENCE.match(lines[i])
            if not fence:
                i += 1
                continue
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == fence.group(1)), None)
            if end is None:
                break
            above = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            # The last unit the line above ends with: a paragraph's last sentence, an item's last one.
            at = max((u for u, text in enumerate(self.units) if text.strip() and above.endswith(text.strip())),
                     default=None)
            if at is not None:
                out[at] = "\n".join(lines[i:end + 1])
            i = end + 1
        return out


def restating(passage: Passage, scene: tuple[np.ndarray, np.ndarray] | None, gap: float) -> np.ndarray | None:
    """Per unit of `passage`: does it say what a question's scene says, by `gap` more than what the question
    asks ("A bad deployment that takes down a Cache results in hammering downstream services." for "A bad
    deployment hammered our services. What does it recommend?")? None without a scene (Context.scene)."""
    if scene is None:
        return None
    return passage.unit_vectors @ scene[0] - passage.unit_vectors @ scene[1] > gap


@dataclass(frozen=True)
class Context:
    retrieval: Retrieval
    passages: tuple[Passage, ...]
    query_vector: np.ndarray
    # One vector per question the question asks, when it asks several ("..., and how do we test them?");
    # empty for a question that asks one thing (grammar.question_parts).
    part_vectors: tuple[np.ndarray, ...] = ()
    part_questions: tuple[str, ...] = ()  # the questions those vectors embed, in the same order
    # A question asked after statements setting its scene: (the statements' vector, the question's vector).
    scene: tuple[np.ndarray, np.ndarray] | None = None

    def by_number(self) -> dict[int, Passage]:
        return {p.n: p for p in self.passages}

    def prompt_block(self, max_chars: int = 1200) -> str:
        """Passages as the generative answerer sees them: numbered, fenced as data."""
        parts = []
        for p in self.passages:
            body = mask_injections(p.hit.text)[:max_chars].replace("</passage>", "")  # mask first: a cut must not split an instruction past the detector
            parts.append(f'<passage n="{p.n}" source="{p.hit.source}" section="{p.hit.section}">\n'
                         f"{body}\n</passage>")
        return "\n".join(parts)


def build_context(retrieval: Retrieval, store, generation: str, dimension: int) -> Context:
    """One store read for all units of the retrieved chunks: no re-embedding at question time."""
    units: dict[str, list[Unit]] = {h.id: [] for h in retrieval.hits}
    for unit in store.units_of(generation, list(units)):
        units[unit.chunk_id].append(unit)
    passages = []
    for n, hit in enumerate(retrieval.hits, start=1):
        found = units[hit.id]
        vectors = np.stack([u.vector for u in found]) if found else np.zeros((0, dimension), np.float32)
        passages.append(Passage(n, hit, tuple(u.text for u in found), vectors, tuple(u.item for u in found)))
    return Context(retrieval, tuple(passages), np.asarray(retrieval.query_vector, dtype=np.float32))
