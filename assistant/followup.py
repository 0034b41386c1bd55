"""Condense (offline): turn a follow-up question into a standalone retrieval query from earlier turns."""

from __future__ import annotations

import re

from assistant.domain import DomainProfile
from assistant.grammar import asked_kind
from assistant.smalltalk import is_small_talk, without_greeting
from assistant.text import STOPWORDS, key_terms, tokens

# "And its challenges?", "What about the latter?": the question leans on an earlier turn.
_FOLLOWUP = re.compile(r"^(and|also|what about|how about|but|so|then)\b|\b(it|its|it's|they|them|their|this|that|"
                       r"these|those|the former|the latter|the first|the second|the other)\b", re.I)
# A word standing for the subject of an earlier turn ("How is it different from Kafka?").
_PRONOUN = re.compile(r"\b(it|its|it's|they|them|their|these|those|one|ones)\b", re.I)
_SET_PRONOUN = re.compile(r"\b(they|them|these|those|ones)\b", re.I)
# The asking words of a question, which name no subject ("What does the playbook say about ...").
_ASKING = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "does", "do", "did", "is",
           "are", "was", "were", "can", "could", "should", "would", "will", "say", "says", "tell", "explain"}


def leans_on_history(question: str) -> bool:
    """The question points back itself ("And its challenges?"), not only by being short."""
    return bool(_FOLLOWUP.search(question))


def _words(turn: str) -> list[str]:
    return re.findall(r"[\w/.-]+", turn)


def names_in(turn: str, profile: DomainProfile) -> list[str]:
    """The names a turn uses (subject terms first), as the turn spells them."""
    found = key_terms(turn, profile)
    ordered = [m for m in profile.subject_terms if m in found] + sorted(t for t in found if t not in profile.subject_terms)
    return [next((w for w in _words(turn) if w.lower() == t), t) for t in ordered]


def _topic(turn: str) -> list[str]:
    """A question's content words, its asking words aside: "What is a trade study?" -> trade study."""
    return [w for w in _words(turn) if w.lower() not in STOPWORDS and w.lower() not in _ASKING and tokens(w)]


def conversation_subject(turns: list[str], profile: DomainProfile) -> list[str]:
    """What the conversation is about after these turns: the names of the latest turn that names
    something, unless it names it through a pronoun ("How is it different from Kafka?" is still about
    Pulsar); a turn naming nothing that stands alone ("What is a trade study?") makes its words the subject."""
    subject: list[str] = []
    for turn in turns:
        if subject and _PRONOUN.search(turn):
            continue
        if names := names_in(turn, profile):
            subject = names
        elif not leans_on_history(turn) and (topic := _topic(turn)):
            subject = topic
    return subject


def expand_followup(question: str, history: list[str], turns: int, profile: DomainProfile) -> str:
    """A follow-up ("And its challenges?", "And for Kubernetes?") borrows from the earlier turns what it
    leaves out: the conversation's subject, or the rest of the question when it names a new subject itself."""
    # "thanks!" says nothing about the subject, and "hi, ..." is no part of the question it opens.
    recent = [without_greeting(h) for h in history[-turns:] if h.strip() and not is_small_talk(h)] \
        if turns else []
    if not recent:
        return question
    subjects = profile.subject_terms
    named = profile.subjects_in(question)
    # A short question leans on the conversation only when it names nothing of its own: "What are the
    # challenges?" does, "Which responsibilities does the Process Lead have?" stands alone.
    if not (_FOLLOWUP.search(question) or (len(tokens(question)) <= 3 and not named and not names_in(question, profile))):
        return question
    earlier = recent[-1]
    # "Which tools does the table list for Jenkins?" then "And what would those be for GitLab?": a plural
    # pronoun after a question asking for a set stands for that set, not for the subject the question replaces.
    for_the_set = bool(_SET_PRONOUN.search(question)) and asked_kind(earlier) is not None
    if named and (not _PRONOUN.search(question) or for_the_set):
        # Same aspect, new subject: keep the earlier question's words minus its subject names.
        rest = [w for w in _words(earlier) if w.lower() not in subjects and w.lower() not in STOPWORDS]
        return f"{question} ({' '.join(rest)})" if rest else question
    said = {w.lower() for w in _words(question)}
    subject = [w for w in conversation_subject(recent, profile) if w.lower() not in said]
    if subject:
        return f"{question} ({' '.join(subject)})"
    return question if named else f"{question} ({earlier})"


def with_earlier_words(question: str, earlier: str) -> str:
    """The follow-up searched with every content word of the turn before it, not only the names that turn
    uses: after "we keep our secrets as azure pipeline variables. what's wrong with that?", "So what do they
    suggest instead?" is about pipeline variables, which a subject name alone ("Azure") loses."""
    said = {w.lower() for w in _words(question)}
    rest = [w for w in _topic(earlier) if w.lower() not in said]
    return f"{question} ({' '.join(rest)})" if rest else question
