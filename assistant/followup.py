"""Condense (offline): turn a follow-up question into a standalone retrieval query from earlier turns."""

from __future__ import annotations

import re

from assistant.domain import DomainProfile
from assistant.text import STOPWORDS, key_terms, tokens

# "And its challenges?", "What about the latter?": the question leans on an earlier turn.
_FOLLOWUP = re.compile(r"^(and|also|what about|how about|but|so|then)\b|\b(it|its|it's|they|them|their|this|that|"
                       r"these|those|the former|the latter|the first|the second|the other)\b", re.I)


def leans_on_history(question: str) -> bool:
    """The question points back itself ("And its challenges?"), not only by being short."""
    return bool(_FOLLOWUP.search(question))


def expand_followup(question: str, history: list[str], turns: int, profile: DomainProfile) -> str:
    """A follow-up ("And its challenges?", "And for Kubernetes?") borrows from the last turn what it
    leaves out: the subject names, or the rest of the question when it names a new subject itself."""
    recent = [h for h in history[-turns:] if h.strip()] if turns else []
    if not recent:
        return question
    subjects = profile.subject_terms
    named = profile.subjects_in(question)
    if not (_FOLLOWUP.search(question) or (len(tokens(question)) <= 3 and not named)):
        return question
    earlier = recent[-1]
    if named:
        # Same aspect, new subject: keep the earlier question's words minus its subject names.
        rest = [w for w in re.findall(r"[\w/.-]+", earlier) if w.lower() not in subjects
                and w.lower() not in STOPWORDS]
        return f"{question} ({' '.join(rest)})" if rest else question
    for turn in reversed(recent):
        subject = sorted(key_terms(turn, profile))
        if subject:
            names = [m for m in subjects if m in subject] + [t for t in subject if t not in subjects]
            words = [next((w for w in re.findall(r"[\w/.-]+", turn) if w.lower() == t), t) for t in names]
            return f"{question} ({' '.join(words)})"
    return f"{question} ({earlier})"
