"""Verify: every answer sentence must cite a given passage that supports it; the rest is removed."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.chunking import split_sentences
from assistant.citations import MARKER, TRAILING
from assistant.context import Context
from assistant.domain import DomainProfile
from assistant.text import key_terms, tokens
from assistant.types import SentenceCheck


@dataclass(frozen=True)
class Verified:
    sentences: tuple[SentenceCheck, ...]  # kept and removed, in order; numbers as the answerer cited
    removed: int
    invalid_citations: int


def parse_sentences(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """Answer text -> (sentence without markers, cited numbers). Markers may trail the full stop."""
    return [(sentence, numbers) for sentence, numbers, _ in parse_lines(text)]


def parse_lines(text: str) -> list[tuple[str, tuple[int, ...], bool]]:
    """Like parse_sentences, plus whether the sentence was a Markdown list item ("- ...")."""
    out = []
    # Move "[n]" that follows a sentence's full stop onto that sentence before splitting.
    normalised = re.sub(rf"([.!?])((?:{TRAILING.pattern})+)", r"\2\1", text.strip())
    for line in normalised.split("\n"):
        bullet = re.match(r"^\s*(?:[-*•]|\d+[.)])\s+", line) is not None
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", line).strip()
        # A citation marker also ends a sentence: table cells and list items carry no full stop.
        line = re.sub(rf"({MARKER.pattern})\s+(?=[\"“(]?[A-Z0-9])", r"\1\n", line)
        for sentence in (s for part in line.split("\n") for s in split_sentences(part)):
            numbers = tuple(int(n) for group in MARKER.findall(sentence) for n in group.split(","))
            bare = TRAILING.sub("", sentence).strip()
            if re.search(r"\w", bare):
                out.append((bare, numbers, bullet))
    return out


def overlap(sentence: str, passage: str) -> float:
    words = set(tokens(sentence))
    if not words:
        return 0.0
    return len(words & set(tokens(passage))) / len(words)


def keys_present(sentence: str, passage: str, profile: DomainProfile | None = None) -> bool:
    """Names in the sentence (subject terms, Merck, SageMaker...) must appear in the cited passage."""
    low = passage.lower()
    stems = set(tokens(passage))
    for term in key_terms(sentence, profile):
        if term in low:
            continue
        if all(t in stems for t in tokens(term)) and tokens(term):
            continue
        return False
    return True


def support(sentence: str, vector: np.ndarray | None, passage, min_score: float,
            profile: DomainProfile | None = None) -> tuple[bool, float]:
    """Content-word overlap plus embedding similarity to the passage's best unit, and key terms."""
    lexical = overlap(sentence, passage.hit.text)
    semantic = 0.0
    if vector is not None and len(passage.unit_vectors):
        semantic = float(np.max(passage.unit_vectors @ vector))
    score = 0.6 * lexical + 0.4 * max(semantic, 0.0)
    ok = keys_present(sentence, passage.hit.text, profile) and lexical >= 0.4 and score >= min_score
    return ok, score


def verify(text: str, context: Context, embed, min_score: float = 0.5,
           known: dict[str, np.ndarray] | None = None, forbidden: set[str] = frozenset(),
           profile: DomainProfile | None = None) -> Verified:
    """Check each sentence against the passages it cites; `embed` turns texts into normalised vectors
    (skipped for sentences whose vector is `known`, e.g. extractive units read from the store).
    A sentence with a `forbidden` word (from the system prompt, never in the corpus) is a leak."""
    parsed = parse_lines(text)
    passages = context.by_number()
    known = known or {}
    missing = [s for s, _, _ in parsed if s not in known]
    vectors = dict(known)
    if missing:
        vectors.update(zip(missing, embed(missing)))
    checks, removed, invalid = [], 0, 0
    for sentence, numbers, bullet in parsed:
        valid = [n for n in dict.fromkeys(numbers) if n in passages]
        invalid += len(numbers) - len([n for n in numbers if n in passages])
        supporting, best = [], 0.0
        leaked = bool(forbidden & set(tokens(sentence)))
        for n in ([] if leaked else valid):
            ok, score = support(sentence, vectors.get(sentence), passages[n], min_score, profile)
            best = max(best, score)
            if ok:
                supporting.append(n)
        supported = bool(supporting)
        removed += not supported
        checks.append(SentenceCheck(text=sentence, citations=tuple(supporting or valid), supported=supported,
                                    score=best, bullet=bullet))
    return Verified(tuple(checks), removed, invalid)


def strict_support(sentence: str, passage_text: str, profile: DomainProfile | None = None) -> bool:
    """A stricter, purely lexical check reported beside groundedness in evaluations."""
    profile = profile or DomainProfile()
    return overlap(sentence, passage_text) >= 0.8 and keys_present(sentence, passage_text, profile) \
        and profile.subjects_in(sentence) <= profile.subjects_in(passage_text)
