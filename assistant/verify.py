"""Verify: every answer sentence must cite a given passage that supports it; the rest is removed."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.text import split_sentences
from assistant.citations import MARKER, TRAILING
from assistant.context import Context
from assistant.grammar import excluded_members, scene_and_ask
from assistant.domain import DomainProfile
from assistant.text import STOPWORDS, key_terms, path_words, tokens
from assistant.types import SentenceCheck


@dataclass(frozen=True)
class Verified:
    sentences: tuple[SentenceCheck, ...]  # kept and removed, in order; numbers as the answerer cited
    removed: int
    invalid_citations: int
    reattributed: int = 0  # supported sentences whose citation was missing or wrong, now cited right
    relevance: float = 1.0  # best similarity of a kept sentence to the question


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def leaks(sentence: str, secret: str, n: int = 6) -> bool:
    """The sentence repeats `n` consecutive words of the secret (the system prompt, the operator's
    instructions): guard the secret itself, not the common words it happens to use."""
    if not secret:
        return False
    words = _words(sentence)
    grams = {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}
    if not grams:
        return False
    secret_words = _words(secret)
    return any(tuple(secret_words[i:i + n]) in grams for i in range(len(secret_words) - n + 1))


def parse_sentences(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """Answer text -> (sentence without markers, cited numbers). Markers may trail the full stop."""
    return [(sentence, numbers) for sentence, numbers, _, _, _ in parse_lines(text)]


def parse_lines(text: str) -> list[tuple[str, tuple[int, ...], int, int, int]]:
    """Like parse_sentences, plus the Markdown list item ("- ...") each sentence belongs to (its line
    number), or -1 for a sentence of a paragraph, the item's nesting (two spaces a level), and its line."""
    out = []
    # Move "[n]" that follows a sentence's full stop onto that sentence before splitting.
    # Not across a line break: "[1]" opening the next line belongs to that line's sentence.
    normalised = re.sub(rf"([.!?])((?:[ \t]*{MARKER.pattern})+)", r"\2\1", text.strip())
    code = code_lines(normalised.split("\n"))
    for number, line in enumerate(normalised.split("\n")):
        if number in code:
            continue  # a quoted code block is no sentence: shown_code checks it is verbatim
        bullet = re.match(r"^\s*(?:[-*•]|\d+[.)])\s+", line) is not None
        depth = (len(line) - len(line.lstrip(" "))) // 2 if bullet else 0
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", line).strip()
        # A citation marker also ends a sentence: table cells and list items carry no full stop.
        line = re.sub(rf"({MARKER.pattern})\s+(?=[\"“(]?[A-Z0-9])", r"\1\n", line)
        for sentence in (s for part in line.split("\n") for s in split_sentences(part)):
            numbers = tuple(int(n) for group in MARKER.findall(sentence) for n in group.split(","))
            bare = TRAILING.sub("", sentence).strip()
            if re.search(r"\w", bare):
                out.append((bare, numbers, number if bullet else -1, depth, number))
    return out


def code_lines(lines: list[str]) -> set[int]:
    """The line numbers of fenced code blocks, fences included (an unclosed block runs to the end)."""
    out, fence = set(), None
    for number, line in enumerate(lines):
        mark = re.match(r"^\s*(```|~~~)", line)
        if fence is None and mark:
            fence = mark.group(1)
        elif fence is not None and line.strip() == fence:
            fence = None
        elif fence is None:
            continue
        out.add(number)
    return out


def code_blocks(text: str) -> list[str]:
    """The bodies of the fenced code blocks of a Markdown text, each dedented to its fence."""
    lines, blocks, run = text.split("\n"), [], []
    for number in sorted(code_lines(lines)) + [-2]:
        if run and number != run[-1] + 1:
            indent = len(lines[run[0]]) - len(lines[run[0]].lstrip(" "))
            body = [ln[indent:] if not ln[:indent].strip() else ln.strip() for ln in (lines[i] for i in run[1:])]
            blocks.append("\n".join(body[:-1] if body and body[-1].strip() in ("```", "~~~") else body))
            run = []
        run.append(number)
    return blocks


def overlap(sentence: str, passage: str) -> float:
    words = set(tokens(sentence))
    if not words:
        return 0.0
    return len(words & set(tokens(passage))) / len(words)


def keys_present(sentence: str, passage: str, profile: DomainProfile | None = None) -> bool:
    """Names in the sentence (subject terms, Merck, SageMaker...) must appear in the cited passage."""
    low, stems = passage.lower(), set(tokens(passage))
    return all(_mentions(term, low, stems) for term in key_terms(sentence, profile))


def _mentions(term: str, low: str, stems: set[str]) -> bool:
    """A lower-cased name occurs in a text: as written, or all its stemmed words."""
    parts = tokens(term)
    return term in low or (bool(parts) and all(t in stems for t in parts))


def support(sentence: str, vector: np.ndarray | None, passage, min_score: float,
            profile: DomainProfile | None = None) -> tuple[bool, float]:
    """Content-word overlap plus embedding similarity to the passage's best unit, and key terms. The
    passage's own heading counts as its text: "Accessibility Linter: ..." names the section it quotes."""
    text = f"{passage.hit.section.rpartition(' > ')[2]}\n{passage.hit.text}"
    lexical = overlap(sentence, text)
    semantic = 0.0
    if vector is not None and len(passage.unit_vectors):
        semantic = float(np.max(passage.unit_vectors @ vector))
    score = 0.6 * lexical + 0.4 * max(semantic, 0.0)
    ok = keys_present(sentence, text, profile) and lexical >= 0.4 and score >= min_score
    return ok, score


def verify(text: str, context: Context, embed, min_score: float = 0.5,
           known: dict[str, np.ndarray] | None = None, secret: str = "",
           profile: DomainProfile | None = None, attribute: bool = True) -> Verified:
    """Check each sentence against the passages it cites; `embed` turns texts into normalised vectors
    (skipped for sentences whose vector is `known`, e.g. extractive units read from the store).
    With `attribute`, a sentence its citations do not support (or that has none: models often forget
    the marker, or put it first) is cited to the given passage that supports it best, if one does.
    A sentence that repeats the `secret` (system prompt) is a leak and is removed."""
    parsed = parse_lines(text)
    passages = context.by_number()
    known = known or {}
    missing = [s for s, _, _, _, _ in parsed if s not in known]
    vectors = dict(known)
    if missing:
        vectors.update(zip(missing, embed(missing)))
    checks, removed, invalid, moved, relevance = [], 0, 0, 0, -1.0
    for sentence, numbers, item, depth, line in parsed:
        valid = [n for n in dict.fromkeys(numbers) if n in passages]
        invalid += len(numbers) - len([n for n in numbers if n in passages])
        supporting, best = [], 0.0
        leaked = leaks(sentence, secret)
        for n in ([] if leaked else valid):
            ok, score = support(sentence, vectors.get(sentence), passages[n], min_score, profile)
            best = max(best, score)
            if ok:
                supporting.append(n)
        if not supporting and attribute and not leaked:
            scored = [(support(sentence, vectors.get(sentence), p, min_score, profile), n)
                      for n, p in passages.items() if n not in valid]
            found = max(((score, n) for (ok, score), n in scored if ok), default=None)
            if found:
                best, supporting = found[0], [found[1]]
                moved += 1
        supported = bool(supporting)
        removed += not supported
        if supported and len(context.query_vector) == len(vectors.get(sentence, ())):
            relevance = max(relevance, float(np.dot(vectors[sentence], context.query_vector)))
        checks.append(SentenceCheck(text=sentence, citations=tuple(supporting or valid), supported=supported,
                                    score=best, bullet=item >= 0, item=item, depth=depth, paragraph=line))
    return Verified(tuple(checks), removed, invalid, moved, relevance if relevance > -1.0 else 1.0)


def strict_support(sentence: str, passage_text: str, profile: DomainProfile | None = None) -> bool:
    """A stricter, purely lexical check reported beside groundedness in evaluations."""
    profile = profile or DomainProfile()
    return overlap(sentence, passage_text) >= 0.8 and keys_present(sentence, passage_text, profile) \
        and profile.subjects_in(sentence) <= profile.subjects_in(passage_text)


# "Who wrote ...?", also after a lead-in or another clause: "Quick one: who wrote it, and ...?"
# "What license ...", "Which university ...": the thing asked for, named right after the question word.
ASKED_FOR = re.compile(r"^\W*(?:what|which)\s+([a-z][a-z-]+)\s+(?:is|are|was|were|does|do|did|has|have|had|can|"
                       r"could|will|would|should)\b", re.I)
WHO = re.compile(r"(?:^\W*|[.:;,?!]\s+|\band\s+)(who|whom|whose)\b", re.I)
WHEN = re.compile(r"^\W*(when (was|were|did)|in what year|what year|which year|what date|since when)\b", re.I)


def _named(term: str, low: str, stems: set[str]) -> bool:
    """Like _mentions, and a compound ("JSON/YAML", "ML-centric") counts when one of its parts is there."""
    pieces = [p for p in re.split(r"[/-]", term) if len(p) > 1]
    return _mentions(term, low, stems) or (len(pieces) > 1 and any(_mentions(p, low, stems) for p in pieces)) \
        or _spelt_out(term, low)


def _spelt_out(term: str, low: str) -> bool:
    """An acronym the text writes out: "NFR" in "Non-Functional Requirements". Two letters match too
    many phrases by chance, so only three to six."""
    if not (term.isalpha() and 3 <= len(term) <= 6):
        return False
    return re.search(r"\b" + r"[\s-]+".join(f"{c}[a-z]*" for c in term) + r"\b", low) is not None


# Who-questions are also answered by a role: "Someone outside the pair should ...", "... by the team lead".
_SOMEONE = re.compile(r"(?:^|[.:;\n-]\s+|\[\d+\]\s+)(?:someone|somebody|anyone|everyone|a member|members|the team|"
                      r"the person|the owner|each|whoever)\b|\bby (?:the|a|an|each|every) \w+", re.I)
# A name of several capitalised words ("Kubeflow Pipelines", "Secrets Store CSI Driver"), or a version
# ("2.9", "v1.27"): specific things that passages naming only a part of them do not answer.
_PHRASE_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w.+#-]*(?:\s+[A-Z][\w.+#-]*)+")
_VERSION = re.compile(r"\bv?\d+(?:\.\d+)+\b")


def _unnamed_phrases(question: str, text: str, is_rare=None) -> list[str]:
    """The question's multi-word names and versions that `text` never says (as a run of the same
    stems: "Blue/Green" says "Blue Green", "the Secrets Store CSI driver" says "Secrets Store CSI Driver").
    A run of common words ("Python ML code") is no name: one of its words must be rare (`is_rare`)."""
    seq = " ".join(tokens(text))
    low = text.lower()
    missing = [m.group(0) for m in _PHRASE_NAME.finditer(question.strip())
               if len(tokens(m.group(0))) > 1 and f" {' '.join(tokens(m.group(0)))} " not in f" {seq} "
               and (is_rare is None or any(is_rare(w) for w in m.group(0).split()))
               and not _said_close(tokens(m.group(0)), text)]
    return missing + [v for v in _VERSION.findall(question) if not re.search(rf"(?<![\d.]){re.escape(v)}(?![\d])", low)]


def _said_close(parts: list[str], text: str) -> bool:
    """All of a name's words within one sentence and a couple of words of each other, in any order:
    "M1 Macs" in "the latest Mac architecture (Apple M1/Silicon)". Words a sentence apart are not a name."""
    span = len(parts) + 2
    for sentence in re.split(r"[.!?;:\n]\s", text):
        words = [w for token in tokens(sentence) for w in token.split("/")]
        if any(set(parts) <= set(words[i:i + span]) for i in range(max(1, len(words) - span + 1))):
            return True
    return False


def _things(question: str, asked: set[str]) -> list[set[str]]:
    """The things the question names, each as its names: adjacent names are one ("REST API", "Weights &
    Biases"), apart they are several ("MLflow on Windows")."""
    things: list[set[str]] = []
    previous = False
    for word in re.findall(r"[\w/.-]+|[,;:!?()]", question):  # a comma parts names: "ML, CI"
        name = word.lower().strip(".")
        if name in asked:
            if not previous:
                things.append(set())
            things[-1].add(name)
        previous = name in asked
    return things


_COMPARES = re.compile(r"\b(vs\.?|versus|compar\w*|differen\w*|between|or)\b", re.I)


def relevance_gap(question: str, answer, relevance: float, min_relevance: float,
                  profile: DomainProfile | None = None, is_rare=None, related: dict[str, str] | None = None,
                  weak_relevance: float = 0.5) -> str:
    """Why supported sentences still do not answer the question, or "": they are far from it in
    meaning; the question names something rare in the corpus (`is_rare`) that the cited passages never
    mention; or it asks who / when and they name no one / give no time ("Tonye Harry" is a true
    sentence, and no answer to "Which blog published this article?"). `related`: per document the
    answer cites, its other retrieved passages: a question naming two things (not comparing them)
    needs one document that names both. Below `weak_relevance` (set for the default model: 0.46 for
    the Kubeflow license, 0.59 and up for the shipped questions that word what they ask for otherwise)
    the thing asked for ("What license ...") must be named by the cited documents."""
    if relevance < min_relevance:
        return f"the supported sentences do not address the question (similarity {relevance:.2f})"
    profile = profile or DomainProfile()
    text = " ".join(s.text for s in answer.sentences)
    documents = dict(related or {})
    for c in answer.citations:
        documents[c.source] = f"{c.title} {c.section} {c.text} " + documents.get(c.source, "")
    # "Which CI services other than Jenkins ...?": a member the question leaves out is not asked about.
    excluded = excluded_members(question)
    asked = {t for t in key_terms(question, profile) - set(profile.subject_terms)
             if not (excluded and set(tokens(t)) <= excluded)}
    # A rare name must be in the cited passages themselves: the same article naming Kubeflow elsewhere
    # does not make a Kubernetes passage an answer about Kubeflow's license.
    # The document's path counts: "the compliance NFR page" names the folder non-functional-requirements/.
    cited = " ".join(f"{path_words(c.source)} {c.title} {c.section} {c.text}" for c in answer.citations)
    low, stems = cited.lower(), set(tokens(cited))
    absent = sorted(t for t in asked if not _named(t, low, stems) and (is_rare is None or is_rare(t)))
    doc_stems = {source: set(tokens(text)) for source, text in documents.items()}
    # "The backend team's /User API won't be ready. What tool fakes a REST API ...?": names setting the
    # scene are context; the things asked about are those the question itself names.
    things = _things(scene_and_ask(question)[1] or question, asked)
    if not absent and len(things) >= 2 and not _COMPARES.search(question) and not any(
            all(_named(t, documents[source].lower(), stems_) for t in asked) for source, stems_ in doc_stems.items()):
        # "How do I install MLflow on Windows?": one cited document names MLflow, another Windows, none
        # both. A comparison may take its two sides from two documents.
        return f"no document the answer cites names {', '.join(sorted(asked))} together"
    if absent and 2 * sum(bool(thing & set(absent)) for thing in things) >= len(things):
        # "What license is Kubeflow released under?" answered from passages that never name Kubeflow. A long
        # question's aside ("our PM wants to know ...") among names the passages do use is context.
        return f"the passages the answer cites never mention {', '.join(absent)}"
    thing = ASKED_FOR.match(question)
    head = tokens(thing.group(1)) if thing and thing.group(1).lower() not in STOPWORDS else []
    if relevance < weak_relevance and head and not any(head[0] in stems_ for stems_ in doc_stems.values()):
        # "What license is Kubeflow released under?": weak evidence, and the cited documents name
        # Kubeflow, never a license. (Strong evidence may word the thing otherwise: "steps", "properties".)
        return f"the cited documents never mention {thing.group(1).lower()!r}"
    if unnamed := _unnamed_phrases(question, " ".join(documents.values()), is_rare):
        # "Which Kubeflow Pipelines components ...?" answered from a table naming Kubeflow and pipelines
        # apart; "Which features of MLflow 2.9 ...?" from passages on MLflow without that version.
        return f"the cited documents never mention {', '.join(unnamed)}"
    named = key_terms(text, profile) - key_terms(question, profile) - set(profile.subject_terms)
    if WHO.match(question) and not named and not _SOMEONE.search(text):
        return "the question asks who, and the answer names no one"
    if WHEN.match(question) and not profile.has_quantity.search(text):
        return "the question asks when, and the answer gives no time"
    return ""
