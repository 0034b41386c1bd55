"""Text helpers shared by chunking, retrieval, answering and verification: sentences, tokens, stems, key terms."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"\w+")

_TOKEN = re.compile(r"[a-z0-9]+(?:[/+][a-z0-9]+)*")
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each etc few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just let me more most
my myself no nor not now of off on once only or other our ours ourselves out over own please same she
should so some such than that the their theirs them themselves then there these they this those through
to too under until up very was we were what when where which while who whom why will with would you your
yours yourself yourselves tell give list name describe explain say says said one ones use used using
many much may might must shall get gets like also kind kinds type types thing things way ways
""".split())


@lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=50_000)
def words(text: str) -> int:
    """How many words a text has (chunk sizes are counted in these)."""
    return len(_WORD.findall(text))


def stem(word: str) -> str:
    return _stemmer().stemWord(word)


def path_words(source: str) -> str:
    """A document path as words: "docs/non-functional-requirements/compliance.md" -> "docs non-functional
    requirements compliance" (tokens() would keep "a/b" as one word)."""
    return re.sub(r"[/_.]+", " ", source.rpartition(".")[0] or source)


def tokens(text: str) -> list[str]:
    """Lower-cased, stemmed content words (BM25 and overlap both use this)."""
    return [stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS and len(t) > 1]


def key_terms(text: str, profile=None) -> set[str]:
    """The subject terms the text names (from the domain `profile`) plus capitalised names and
    acronyms (Merck, SageMaker, CI/CD), lower-cased, excluding a sentence's first word and common
    capitalised words."""
    out = profile.subjects_in(text) if profile is not None else set()
    # Identifiers (scrape_interval, max_tokens) name one precise thing, like a proper name does.
    out |= {m.group(0).lower() for m in re.finditer(r"\b[A-Za-z]+(?:_[A-Za-z0-9]+)+\b", text)}
    for match in re.finditer(r"\b[A-Z][A-Za-z0-9]*(?:[/.-][A-Za-z0-9]+)*\b", text):
        word = match.group(0)
        start = match.start()
        sentence_start = start == 0 or re.search(r"[.!?:;\n-]\s*[\"“(\[]?$", text[:start]) is not None
        if sentence_start and not any(c.isupper() for c in word[1:]):
            continue
        low = word.lower()
        if low in STOPWORDS or len(low) < 2:
            continue
        out.add(low)
    return out


def visible(name: str) -> str:
    """A file name or title with control and format characters (bidi overrides, zero-width marks)
    shown as \\uXXXX: "report\u202egpj.md" must not display as "reportdm.jpg"."""
    import unicodedata

    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf") else c for c in str(name))


_ABBREV = r"(?<!\bvs\.)(?<!\bex\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\betc\.)(?<!\bFig\.)(?<!\bNo\.)(?<!\bDr\.)(?<!\bMr\.)"
# An abbreviation ends no sentence ("e.g. Flux"), unless a parenthesis closes right after it: "(Ex:
# GDPR etc.) Read more ..." is two sentences ("etc.) [1]": an answer's marker ends none). A lower-case
# tool name starts one after a full word or an answer's marker ("... other solutions. golangci-lint can ...").
_SENTENCE_END = re.compile(r"(?:" + _ABBREV + r"(?<=[.!?])|(?<=[.!?])(?=\)\s+[A-Z]))([\"”’)]?)\s+"
                           r"(?=[\"“(\[]?[A-Z0-9]|(?:(?<=[a-z]{4}\.\s)|(?<=\d\]\.\s))[a-z][a-z0-9]*[-_][a-z0-9])")


def _open_quote(text: str) -> bool:
    return text.count('"') % 2 == 1 or text.count("“") > text.count("”")


def split_sentences(text: str) -> list[str]:
    """Sentences; a fragment under three words ("Table 1.") joins the sentence after it, unless it replies
    to the question before it ("Maybe not."), and a quotation stays whole ('... which answers "Imagine
    the project has failed. What caused this failure?"')."""
    out: list[str] = []
    carry = ""
    parts = _SENTENCE_END.split(text)  # sentence, the closing mark it ended with, sentence, ...
    for piece in (a + b for a, b in zip(parts[::2], parts[1::2] + [""])):
        piece = piece.strip()
        if not piece:
            continue
        piece = f"{carry} {piece}".strip() if carry else piece
        # A quotation is kept whole, up to a bound: a stray quote mark must not glue a paragraph. A short
        # reply to a question ("... consistent environment? Maybe not.") is no caption of what follows.
        if (words(piece) < 3 and not (out and out[-1].endswith("?") and not carry)) \
                or (_open_quote(piece) and words(piece) < 60):
            carry = piece
            continue
        carry = ""
        out.append(piece)
    if carry:
        if out:
            out[-1] = f"{out[-1]} {carry}"
        else:
            out.append(carry)
    return out
