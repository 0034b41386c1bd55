"""Answer (offline): pick the passage sentences, list items or table cells that best answer the question."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from assistant.context import Context
from assistant.text import METHODOLOGIES, key_terms, methodology_terms, tokens

# "How much / how many / what price ..." asks for a quantity: a sentence without one cannot answer it.
_QUANTITY_Q = re.compile(r"\b(how (much|many|long|old)|price|pricing|cost of|costs?\b.*\?|what year|when (was|did)|"
                         r"how fast|percentage|salary|revenue)", re.I)
_HAS_QUANTITY = re.compile(r"\d|\$|€|£|\b(percent|dollars?|hours?|days?|years?|months?|free of charge)\b", re.I)
_FOLLOWUP = re.compile(r"^(and|also|what about|how about|but|so|then)\b|\b(it|its|it's|they|them|their|this|that|"
                       r"these|those|the former|the latter|the first|the second|the other)\b", re.I)


@dataclass(frozen=True)
class Draft:
    """An answerer's output before verification."""

    text: str
    refused: bool
    known_vectors: dict = field(default_factory=dict, compare=False, hash=False)
    reason: str = ""


def expand_followup(question: str, history: list[str], turns: int) -> str:
    """Offline condense step: a follow-up without its own subject borrows the last turn's subject terms."""
    recent = [h for h in history[-turns:] if h.strip()] if turns else []
    if not recent or methodology_terms(question):
        return question
    if not (_FOLLOWUP.search(question) or len(tokens(question)) <= 3):
        return question
    for earlier in reversed(recent):
        subject = sorted(key_terms(earlier)) or []
        if subject:
            names = [m for m in METHODOLOGIES if m in subject]
            others = [t for t in subject if t not in names]
            words = [next((w for w in re.findall(r"[\w/.-]+", earlier) if w.lower() == t), t)
                     for t in names + others]
            return f"{question} ({' '.join(words)})"
    return f"{question} ({recent[-1]})"


def _subject(unit: str, section: str) -> set[str]:
    """What a unit is about: the methodologies it names (a table cell names only its column), else its section's."""
    if " - " in unit and ": " in unit:
        head, _, _ = unit.partition(": ")
        named = methodology_terms(head.split(" - ")[-1]) | methodology_terms(unit.partition(": ")[2])
    else:
        named = methodology_terms(unit)
    return named or methodology_terms(section.split(" > ")[0])


class ExtractiveAnswerer:
    """Scores every unit of the retrieved passages against the question (one stored vector each), then
    composes the best few into a short answer with a [n] after each."""

    name = "extractive"

    def __init__(self, max_sentences: int = 4, min_similarity: float = 0.3, vocabulary=None,
                 margin: float = 0.12):
        self.max_sentences, self.min_similarity, self.margin = max_sentences, min_similarity, margin
        self.vocabulary = vocabulary  # callable -> set of corpus stems, for unknown-name refusals

    def unknown_names(self, question: str) -> set[str]:
        if self.vocabulary is None:
            return set()
        vocab = self.vocabulary()
        return {t for t in key_terms(question) - set(METHODOLOGIES)
                if tokens(t) and not all(s in vocab for s in tokens(t))}

    def score_units(self, question: str, context: Context) -> list[tuple[float, float, int, int, str]]:
        """(score, similarity, passage n, unit position, text) for every unit."""
        q_terms = set(tokens(context.retrieval.query))
        q_names = methodology_terms(context.retrieval.query)
        scored = []
        for rank, passage in enumerate(context.passages):
            if not passage.units:
                continue
            sims = passage.unit_vectors @ context.query_vector
            section_terms = set(tokens(passage.hit.section))
            for pos, (unit, sim) in enumerate(zip(passage.units, sims)):
                unit_terms = set(tokens(unit))
                lexical = len(q_terms & (unit_terms | section_terms)) / len(q_terms) if q_terms else 0.0
                score = float(sim) + 0.3 * lexical - 0.01 * rank
                subject = _subject(unit, passage.hit.section)
                if q_names and subject:
                    score += 0.15 if subject & q_names else -0.2
                if unit.rstrip().endswith(":") or len(unit_terms) < 3:
                    score -= 0.3  # a lead-in ("They include:") says nothing on its own
                scored.append((score, float(sim), passage.n, pos, unit))
        return sorted(scored, key=lambda s: -s[0])

    def answer(self, question: str, context: Context) -> Draft:
        if not context.passages or not set(tokens(context.retrieval.query)):
            return Draft("", True, reason="no content words or no passages")
        if unknown := self.unknown_names(question):
            return Draft("", True, reason=f"names not in the corpus: {sorted(unknown)}")
        scored = self.score_units(question, context)
        if not scored or scored[0][1] < self.min_similarity:
            return Draft("", True, reason=f"best similarity {scored[0][1] if scored else 0:.2f} below threshold")
        wants_quantity = bool(_QUANTITY_Q.search(question))
        best = scored[0][0]
        picked: list[tuple[float, float, int, int, str]] = []
        vectors = {p.n: p.unit_vectors for p in context.passages}
        for item in scored:
            score, sim, n, pos, unit = item
            if score < best - self.margin or len(picked) >= self.max_sentences:
                break
            if wants_quantity and not _HAS_QUANTITY.search(unit):
                continue
            vec = vectors[n][pos]
            if any(float(vectors[m][p] @ vec) > 0.92 or u == unit for _, _, m, p, u in picked):
                continue
            picked.append(item)
        if not picked:
            return Draft("", True, reason="no sentence of the passages answers this kind of question")
        # Readable order: passages by their best pick, sentences in document order within a passage.
        first = {}
        for score, _, n, _, _ in picked:
            first.setdefault(n, -score)
        picked.sort(key=lambda p: (first[p[2]], p[3]))
        sentences, known = [], {}
        for _, _, n, pos, unit in picked:
            text = unit.rstrip()
            sentences.append(f"{text} [{n}]")
            known[text] = vectors[n][pos]
        return Draft(" ".join(sentences), False, known_vectors=known)
