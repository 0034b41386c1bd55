"""Outline: a question asking what a document holds is answered by its sections, one line each."""

from __future__ import annotations

import re

from assistant.context import Context
from assistant.text import tokens

# "What's in the engineering fundamentals checklist?", "What does the PR template cover?": what a document
# holds, which its sections say. "What does the playbook say about X?" asks about X.
_ASKS_CONTENTS = re.compile(r"^\W*(?:what(?:'s| is| are)\s+(?:in|inside|covered (?:in|by))\b|what\s+(?:does|do)\s+"
                            r"(?!.*\babout\b).+\s+(?:cover|contain|include)\s*\??$|(?:give me )?an overview of\b|"
                            r"summari[sz]e\b)", re.I)
_DETERMINERS = frozenset({"the", "our", "their", "your", "this", "that", "its", "my"})
# At most this many sections answer (a checklist page has a dozen).
MAX_SECTIONS = 12


def asks_contents(question: str) -> bool:
    return _ASKS_CONTENTS.search(question.strip()) is not None


def names_title(question: str, title: str) -> bool:
    """The question names the document by its title: each of its words, or an acronym of consecutive
    ones ("the PR template" names "Pull Request Template")."""
    words = tokens(title)
    if not words:
        return False
    asked = set(tokens(question))
    initials = "".join(w[0] for w in words)
    for acronym in re.findall(r"\b[A-Z]{2,5}s?\b", question):
        letters = acronym.rstrip("s").lower()
        if (at := initials.find(letters)) >= 0:
            asked |= set(words[at:at + len(letters)])
    return set(words) <= asked


def points_at_title(question: str, title: str) -> bool:
    """The question points at the document by its whole title, as a noun phrase of its own: "according to
    the engineering fundamentals checklist", "in their decision log". Title words spread over the question
    ("Static Code Analysis" in "static analysis tools for Java code"), or run into another name ("the Power
    Platform continuous delivery flow" and "Continuous Delivery"), are a topic, not a pointer."""
    words = tokens(title)
    if len(words) < 2:
        return False
    asked = re.findall(r"[\w'-]+", question.lower())
    stems = [(tokens(w) or [""])[0] for w in asked]
    for at in range(1, len(stems) - len(words) + 1):
        if stems[at:at + len(words)] == words and asked[at - 1] in _DETERMINERS:
            return True
    return False


_WRITTEN = re.compile(r"[\w'’-]+")  # a word as written, case and all


def plain(text: str) -> str:
    """Lower-case words and numbers, one space apart ("Day 3:" -> "day 3")."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def numbered_heading(heading: str) -> str:
    """A short heading with a number in it, plain ("Day 3", "Step 2", "Option 1" -> "day 3"), else "".
    Numbers are no search words, so only the heading's own phrase tells "Day 3" from "Day 1"."""
    words = plain(heading)
    return words if re.search(r"\d", words) and re.search(r"[a-z]", words) and 2 <= len(words.split()) <= 4 else ""


def named_heading(heading: str) -> str:
    """A heading a question can name as a phrase of its own: a numbered one, plain ("Day 3" -> "day 3"), or
    a name of two to five words, as written ("Process Lead"), else ""."""
    if numbered := numbered_heading(heading):
        return numbered
    words = re.findall(_WRITTEN, heading)
    return " ".join(words) if 2 <= len(words) <= 5 and sum(w[0].isupper() for w in words) >= 2 else ""


def question_phrases(question: str) -> tuple[str, str]:
    """The question's words, space-padded, plain (numbered headings are matched in any case) and as written
    (a name is matched as the question writes it): read once, matched against every heading."""
    return f" {plain(question)} ", f" {' '.join(re.findall(_WRITTEN, question))} "


def names_heading(question: str, heading: str, phrases: tuple[str, str] | None = None) -> bool:
    """The question names the heading as a phrase: a numbered one in any case ("on day 3": "Day 3"), a name
    as written ("the Process Lead": "Process Lead"; "an ML feasibility study" is a topic, not "Feasibility
    Study"). `phrases`: question_phrases(question), when it is matched against many headings."""
    named = named_heading(heading)
    if not named:
        return False
    plain_words, written = phrases or question_phrases(question)
    return f" {named} " in (plain_words if numbered_heading(heading) else written)


def named_document(question: str, hits) -> tuple[str, str] | None:
    """(source, title) of the first hit whose document the question names by title, or None."""
    return next(((h.source, h.title) for h in hits if names_title(question, h.title)), None)


def document_sections(question: str, scored, context: Context, is_reference) -> list[tuple[str, list]]:
    """The top-level sections of the document the question names, in document order, as (heading, units):
    each with its first unit of three words or more ("Yes" under "Breaking change?" says nothing). Fewer than three
    such sections among the passages: [] (the normal answer is better than a partial outline)."""
    named = named_document(question, [p.hit for p in context.passages])
    if named is None:
        return []
    source, title = named
    by_pos = {(s[2], s[3]): s for s in scored}
    members: dict[str, tuple[int, list]] = {}
    for p in context.passages:
        section = p.hit.section
        if p.hit.source != source or " > " in section or section in ("", title) or is_reference(section):
            continue
        quotable = [by_pos[p.n, i] for i in range(len(p.units)) if (p.n, i) in by_pos]
        said = [u for u in quotable if len(tokens(u[4])) >= 3] or quotable
        if said and (section not in members or p.hit.start < members[section][0]):
            members[section] = (p.hit.start, [said[0]])
    if len(members) < 3:
        return []
    return [(name, units) for name, (_, units) in sorted(members.items(), key=lambda m: m[1][0])][:MAX_SECTIONS]
