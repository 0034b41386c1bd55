"""Answer (offline): pick the passage sentences, list items or table cells that best answer the question."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from assistant.answerer import Draft
from assistant.context import Context
from assistant.domain import DomainProfile
from assistant.followup import expand_followup
from assistant.safety import looks_like_injection
from assistant.text import STOPWORDS, key_terms, tokens
from assistant.verify import WHO

_WHY = re.compile(r"^\W*why\b", re.I)
# "What is a release train?", "What are feature flags?": a question asking what a term is; answered first by
# the sentence that says so ("A release train is a fixed schedule that ...").
_DEFINE = re.compile(r"^\W*what(?:\s+is|\s+are|'s)\s+(?:an?\s+|the\s+)?([^?,;:]{1,60}?)\s*\??\s*$", re.I)
_ANAPHOR = re.compile(r"^(it|its|they|their|them|this|these|those|that|he|she|such)\b", re.I)
# A sentence opening with a personal pronoun names its subject in the sentence before ("One linter we
# recommend is woke. It is a language-agnostic CLI tool ..."); "This document ..." names its own.
# Two or more names in a row, as prose lists them: "Bitnami Sealed Secrets, Mozilla SOPS", "Flux and Argo CD".
_NAMES = re.compile(r"\b[A-Z][\w.-]*(?:\s+[A-Z][\w.-]*)*\s*(?:,|\band\b|\bor\b)\s*(?:and\s+|or\s+)?[A-Z][\w.-]*")
_PRONOUN = re.compile(r"^(it|its|they|their|them|he|she|his|her)\b", re.I)
_ASKS_TABLE = re.compile(r"\b(table|compar\w*)\b", re.I)
# Who did something, as English says it: "written by Tonye Harry", "as described by Michael Nygard",
# "Michael Nygard proposed ...". Any capitalised word would also take "Configuration Management".
_NAME = r"[A-Z][\w.&'-]*(?:\s+(?:[A-Z][\w.&'-]*|of|de|van|von))*"
_AGENT = re.compile(rf"\bby\s+(?:the\s+)?{_NAME}|\b[A-Z][\w.-]+\s+[A-Z][\w.-]+\s+(?:wrote|writes|proposed|proposes|"
                    r"said|says|puts it|described|describes|created|creates|coined|founded|introduced|developed|"
                    r"published|authored|maintains|maintained)\b")
# A template's blank to fill in ("Authors: [Author1, Author2, etc.]"); Markdown links are gone by now.
_PLACEHOLDER = re.compile(r"\[[^\[\]]{1,80}\]")


@dataclass(frozen=True)
class ExtractiveWeights:
    """How units are scored and picked. Each is added to a unit's cosine similarity to the query
    (a number in about 0.1-0.8 for this model), so they are on that scale. Set by hand on the
    shipped eval set, checked on held-out questions; change them with `assistant eval --compare`."""

    lexical: float = 0.3  # x share of query words found in the unit or its section path
    rank_prior: float = 0.05  # x (passages - rank) / passages: retrieval order breaks near-ties
    subject_match: float = 0.15  # the unit is about the subject the question names ...
    subject_mismatch: float = -0.2  # ... or about another one
    lead_in: float = -0.3  # "They include:", under 3 content words, or a signpost says nothing alone
    anaphor: float = -0.08  # "It is gaining traction" leans on a sentence the answer may not quote
    off_criterion_cell: float = -0.2  # a table cell whose column the question does not ask about
    margin: float = 0.2  # units within this of the best score are quoted too
    list_margin: float = 0.30  # siblings of a best-matching list item compete within this
    duplicate_overlap: float = 0.8  # word-set Jaccard above which two units count as one
    same_passage: float = 0.0  # lift for units of the passage that holds the best unit
    continuation: int = 3  # following sentences of the best sentence's paragraph that may come with it ...
    continuation_ratio: float = 0.6  # ... while their similarity is at least this share of the best's
    max_list_items: int = 8  # a list answer quotes at most this many items (the best, in document order)
    list_min_matching: int = 3  # items within `margin` of the best unit that make the answer the whole list
    kind: float = 0.1  # a list question's asked-for noun ("tools") named by the unit, its lead-in or section
    names_someone: float = 0.25  # "Who proposed ...?": a unit saying who did something ("... by Michael Nygard")
    defines: float = 0.15  # "What is X?": a sentence saying what X is ("X is a methodology that ...")
    enumerates: float = 0.30  # a sentence listing the set asked for by name leads when within this of the best


def _subject(unit: str, section: str, profile: DomainProfile) -> set[str]:
    """What a unit is about: the subjects its label names ("Key Tools of Approach A: ..."), else those
    its text names, else its section's."""
    head, colon, _ = unit.partition(": ")
    named = profile.subjects_in(head) if colon and len(head.split()) <= 8 else set()
    return named or profile.subjects_in(unit) or profile.subjects_in(section.split(" > ")[0])


_AUX = frozenset("is are was were be does do did has have had can could will would should must may might "
                 "go goes help helps need needs make makes get gets".split())
_DETERMINER = frozenset("a an the our my your this that these those its their".split())


def asked_kind(question: str) -> str | None:
    """The plural thing a question asks for ("Which linters and formatters ...", "What are the main
    components of ...", "What kinds of software ..."): its stem, "" for kinds/types/ways (a set, no
    noun to match), None when the question asks for no set. Grammar, not a phrase list: the first
    plural noun after what/which, before the verb."""
    m = re.match(r"^\W*(?:what|which)\s+(?:(?:are|were)\s+(?:the\s+|some\s+|all\s+)?)?(.*)", question, re.I)
    if not m:
        return None
    words = re.findall(r"[A-Za-z][A-Za-z-]*", m.group(1))[:6]
    if len(words) > 1 and words[1].lower() in _DETERMINER:
        return None  # "What makes a staging environment ...": the first word is the verb
    for word in words:
        low = word.lower()
        if low in _AUX:
            return None
        if any(c.isupper() for c in word):
            continue  # a name ("Which GitOps tools", "Which Kubernetes tools"), not the plural asked for
        if len(low) > 3 and low.endswith("s") and not low.endswith(("ss", "us", "is")):
            return "" if low in STOPWORDS else (tokens(low) or [""])[0]
    return None


# The two things a question compares, as English asks it: "X vs Y", "the difference between X and Y",
# "How is X different from Y", "compare X with Y", "X or Y? How do they compare".
_SIDES = (
    re.compile(r"^(?:\W*(?:what|which|how)\b[^:?]*?\b(?:is|are|for|in)\s+)?(.+?)\s+(?:vs\.?|versus)\s+([^:?]+)", re.I),
    re.compile(r"\bdifferen\w*\s+between\s+(.+?)\s+and\s+([^:?]+)", re.I),
    re.compile(r"\bhow\s+(?:is|are|does|do)\s+(.+?)\s+differ\w*\s+(?:from|to)\s+([^:?]+)", re.I),
    re.compile(r"\bhow\s+(?:is|are|does|do)\s+(.+?)\s+compare\w*\s+(?:with|to|against)\s+([^:?]+)", re.I),
    re.compile(r"\bcompar\w*\s+(.+?)\s+(?:with|to|and|against)\s+([^:?]+)", re.I),
)
_OR_SIDES = re.compile(r"(\S+(?:\s+\S+)?)\s+or\s+(\S+(?:\s+\S+)?)\s*\?", re.I)


def compared_sides(question: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """The stems that tell the two compared things apart ("Blue-green vs canary releases" ->
    {blue, green}, {canari, releas}); None when the question compares nothing or the sides share all
    their words. Words both sides use ("log" in "direct-write logging vs agent-based log collection")
    tell nothing apart and are dropped."""
    for pattern in _SIDES:
        if m := pattern.search(question):
            break
    else:
        m = _OR_SIDES.search(question) if re.search(r"\b(compar\w*|differ\w*|which|should)\b", question, re.I) else None
    if not m:
        return None
    left, right = m.group(1).split(), m.group(2).split()
    if len(right) > len(left):
        right = right[:len(left)]  # "top-down vs bottom-up integration testing": the noun is both sides'
    a, b = set(tokens(" ".join(left))), set(tokens(" ".join(right)))
    a, b = a - b, b - a
    return (frozenset(a), frozenset(b)) if a and b else None


def _about(side: frozenset[str], other: frozenset[str], terms: set[str]) -> bool:
    """A unit (its words and its heading's) is about a compared side when it uses at least half that
    side's stems, and a larger share of them than of the other side's."""
    share = len(side & terms) / len(side)
    return share >= 0.5 and share > len(other & terms) / len(other)


def _defines(unit: str, term: list[str]) -> bool:
    """The unit says what `term` (its stems) is: it opens with the term, then "is", "are", "refers to"
    or "means" follows within a few words."""
    head = re.split(r"\s+(?:is|are|refers to|means|stands for)\s+", unit, maxsplit=1)
    # "Canary releasing, on the other hand, is ..." defines it; "Blue-green and canary releasing are" neither.
    return len(head) == 2 and tokens(head[0])[:len(term)] == term and len(head[0].split()) <= len(term) + 4


def _criterion(cell: str) -> set[str]:
    """The stems of a table cell's criterion: "Key Tools of Approach A: Jenkins" -> {key, tool}."""
    return set(tokens(cell.partition(": ")[0].rsplit(" of ", 1)[0]))


def _title_like(unit: str) -> bool:
    """A heading or link title standing alone ("Pull Request Template", "Blue vs. Green"): a few words,
    no full stop, every longer word capitalised. It names a thing; it says nothing about it."""
    text = unit.strip()
    words = text.split()
    long = [w for w in words if len(w) > 3]
    return 0 < len(words) <= 5 and not text.endswith((".", "!", "?")) and bool(long) \
        and all(w[0].isupper() for w in long)


def _introduces_list(unit: str, items: tuple[int, ...], pos: int) -> bool:
    """A lead-in ("Small PRs have multiple advantages:") directly followed by list items."""
    return unit.rstrip().endswith(":") and pos + 1 < len(items) and items[pos + 1] >= 0


def _name_parts(term: str) -> list[str]:
    return [t for part in re.split(r"[-/.]", term) for t in tokens(part)]


class ExtractiveAnswerer:
    """Scores every unit of the retrieved passages against the question (one stored vector each), then
    composes the best few into a short answer with a [n] after each."""

    name = "extractive"

    def __init__(self, max_sentences: int = 4, min_similarity: float = 0.22, vocabulary=None,
                 profile: DomainProfile | None = None, weights: ExtractiveWeights | None = None,
                 history_turns: int = 3, min_coverage: float = 0.0, coverage_min_vocabulary: int = 2000):
        self.max_sentences, self.min_similarity = max_sentences, min_similarity
        self.min_coverage, self.coverage_min_vocabulary = min_coverage, coverage_min_vocabulary
        self.profile, self.w = profile or DomainProfile(), weights or ExtractiveWeights()
        self.history_turns = history_turns
        self.vocabulary = vocabulary  # callable -> set of corpus stems, for unknown-name refusals

    def condense(self, question: str, history: list[str]) -> str:
        return expand_followup(question, history, self.history_turns, self.profile)

    def secret(self) -> str:
        return ""  # quotes stored passages only: nothing of its own to leak

    def unknown_names(self, question: str) -> set[str]:
        if self.vocabulary is None:
            return set()
        vocab = self.vocabulary()
        # "ML-centric" is known when any part is ("ML"); "France" or "Kubernetes" are not.
        return {t for t in key_terms(question, self.profile) - set(self.profile.subject_terms)
                if _name_parts(t) and not any(p in vocab for p in _name_parts(t) + tokens(t))}

    def coverage(self, question: str) -> float:
        """Share of the question's own content words (subject names aside) that the corpus uses."""
        if self.vocabulary is None:
            return 1.0
        subjects = set(self.profile.subject_terms)
        vocab, terms = self.vocabulary(), [t for t in tokens(question) if t not in subjects]
        return sum(t in vocab for t in terms) / len(terms) if terms else 1.0

    def score_units(self, question: str, context: Context) -> list[tuple[float, float, int, int, str]]:
        """(score, similarity, passage n, unit position, text) for every unit, best first: similarity to
        the query, plus the share of query words in the unit or its section, plus a small prior for
        the passage's retrieval rank, and a bonus (or penalty) for naming the asked subject."""
        q_terms = set(tokens(context.retrieval.query))
        q_names = self.profile.subjects_in(context.retrieval.query)
        asks_table = bool(_ASKS_TABLE.search(context.retrieval.query))
        w, signpost = self.w, self.profile.signpost
        asks_questions = bool(re.search(r"\bquestions?\b", question, re.I))
        kind = asked_kind(question)
        asks_who = bool(WHO.search(question))
        known_names = key_terms(question, self.profile) | set(self.profile.subject_terms)
        term = _DEFINE.match(question)
        # "What is a span in a distributed trace?": the term is "span"; the rest says where it lives.
        subject = re.split(r"\s+(?:in|of|for|within|on|at|when|from)\s+", term.group(1))[0] if term else ""
        # "What are the phases of threat modeling?" asks for a set (phases of something), not a definition.
        relational = bool(term and re.search(r"\sof\s", term.group(1)))
        defined = tokens(subject) if subject and len(subject.split()) <= 4 and not relational else []
        scored = []
        # Per passage: does the question name one of its table's criteria ("What is the focus of ...")?
        criteria = [passage.hit.kind == "table" and any(q_terms & _criterion(u) for u in passage.units)
                    for passage in context.passages]
        for rank, passage in enumerate(context.passages):
            if not passage.units:
                continue
            sims = passage.unit_vectors @ context.query_vector
            section_terms = set(tokens(passage.hit.section))
            reference = self.profile.is_reference_section(passage.hit.section)
            heading = passage.hit.section.split(" > ")[-1].strip().lower()
            intro: set[str] = set()  # the words of the sentence that introduces the current list
            for pos, (unit, sim) in enumerate(zip(passage.units, sims)):
                is_item = len(passage.items) > pos and passage.items[pos] >= 0
                if not is_item:
                    intro = set(tokens(unit))
                if looks_like_injection(unit) or reference or self.non_answer(unit, heading, asks_questions):
                    continue  # planted instructions, links, questions and pointers are never answers
                unit_terms = set(tokens(unit))
                lexical = len(q_terms & (unit_terms | section_terms)) / len(q_terms) if q_terms else 0.0
                score = (float(sim) + w.lexical * lexical
                         + w.rank_prior * (len(context.passages) - rank) / len(context.passages))
                section = "" if passage.hit.section == passage.hit.title else passage.hit.section
                subject = _subject(unit, section, self.profile)
                if q_names and subject:
                    score += w.subject_match if subject & q_names else w.subject_mismatch
                if defined and _defines(unit, defined):
                    score += w.defines
                if asks_who and any(key_terms(m.group(0), self.profile) - known_names for m in _AGENT.finditer(unit)):
                    score += w.names_someone  # the kind of thing asked for: someone, not a description
                # An item is one of a list of "tools" when its lead-in or section says so; its own words
                # ("Establish what tools will be used") do not make its list one of tools.
                if kind and kind in (section_terms | (intro if is_item else unit_terms)):
                    score += w.kind  # "Which tools ...": a unit naming tools, or an item of a list of them
                # A list question is answered by names; any other by statements, not a title ("Pull
                # Request Template") or a label standing alone.
                short = (len(unit_terms) < 3 or _title_like(unit)) and not (is_item and kind is not None)
                # A set question's best evidence may be the lead-in of its list ("The proposed process
                # consists of:"): it never goes alone (with_items), so it is judged as its list.
                leads_set = _introduces_list(unit, passage.items, pos)
                if (unit.rstrip().endswith(":") and not leads_set) or short or signpost.search(unit):
                    score += w.lead_in
                elif _ANAPHOR.match(unit) and not is_item:
                    score += w.anaphor
                if passage.hit.kind == "table" and (criteria[rank] or not asks_table):
                    # A table cell answers only when the question asks for its criterion ("tools"); a
                    # question about the whole table names none, unless it does ("the focus of each").
                    if not (q_terms & _criterion(unit)):
                        score += w.off_criterion_cell
                scored.append((score, float(sim), passage.n, pos, unit))
        return sorted(scored, key=lambda s: -s[0])

    def someone_first(self, question: str, scored: list) -> list:
        """A who-question is answered by a sentence saying who did something, however far its words are
        from the question's topic ("Who wrote the piece on release trains?" -> "... written by Ada
        Quill."): when the passages hold one, the others rank below it."""
        known = key_terms(question, self.profile) | set(self.profile.subject_terms)
        agents = {id(s) for s in scored
                  if any(key_terms(m.group(0), self.profile) - known for m in _AGENT.finditer(s[4]))}
        if not agents:
            return scored
        top = max(s[0] for s in scored if id(s) in agents)
        shift = max(0.0, max(s[0] for s in scored) - top) + self.w.margin + 0.01
        return sorted(((s[0] if id(s) in agents else s[0] - shift, *s[1:]) for s in scored), key=lambda s: -s[0])

    def non_answer(self, unit: str, heading: str, asks_questions: bool) -> bool:
        """A question (unless questions are asked for), a pointer elsewhere, or a bare heading."""
        text = unit.strip()
        if text.endswith("?") and not asks_questions:
            return True
        if self.profile.pointer.search(text):
            return True
        if text.endswith(":") and len(text.split()) <= 2:
            return True  # a label ("Resources:") introduces something; it says nothing
        if _PLACEHOLDER.search(text) and len(tokens(_PLACEHOLDER.sub(" ", text))) < 3:
            return True  # a template's blanks: "Authors: [Author1, Author2, etc.]" names no one
        return text.rstrip(".:").strip().lower() == heading

    def refusal_reason(self, question: str, context: Context, scored) -> str:
        """Why the passages cannot answer this question, or "" when they may."""
        if not context.passages or not set(tokens(context.retrieval.query)):
            return "no content words or no passages"
        if looks_like_injection(question):
            return "the question asks about instructions, not the corpus"
        if unknown := self.unknown_names(question):
            return f"names not in the corpus: {sorted(unknown)}"
        coverage = self.coverage(question)
        if coverage == 0.0:
            return "none of the question's words occur in the corpus"
        if coverage < self.min_coverage and len(self.vocabulary()) >= self.coverage_min_vocabulary:
            return f"most of the question's words never occur in the corpus (coverage {coverage:.2f})"
        best_sim = max((s[1] for s in scored), default=0.0)
        if best_sim < self.min_similarity:
            return f"best similarity {best_sim:.2f} below threshold"
        # Weak evidence that never names the thing asked for ("What license ...") is refused for every
        # answerer by the chain's relevance check (verify.relevance_gap), once the cited passages are known.
        return ""

    def draft(self, question: str, context: Context) -> Iterator[str | Draft]:
        draft = self.answer(question, context)
        if draft.text:
            yield draft.text
        yield draft

    def answer(self, question: str, context: Context) -> Draft:
        scored = self.score_units(question, context) if context.passages else []
        if reason := self.refusal_reason(question, context, scored):
            return Draft(refused=True, reason=reason)
        if WHO.search(question) and not re.search(r"\bwhose\b", question, re.I):  # "whose platform": an owner
            scored = self.someone_first(question, scored)
        wants_quantity = bool(self.profile.asks_quantity.search(question))
        kind = asked_kind(question)
        listed = [] if wants_quantity else self.list_answer(scored, context, kind is not None,
                                                            why=bool(_WHY.match(question)))
        picked = listed or self.select(scored, context, wants_quantity, kind, compared_sides(question))
        if not picked:
            return Draft(refused=True, reason="no sentence of the passages answers this kind of question")
        if not listed:
            # Readable order: passages by their best pick, sentences in document order within a passage.
            first: dict[int, float] = {}
            for score, _, n, _, _ in picked:  # a passage ranks by its best unit, not by the first listed
                first[n] = min(first.get(n, float("inf")), -score)
            picked.sort(key=lambda p: (first[p[2]], p[3]))
        if kind:
            picked = self.enumeration_first(question, scored, picked, kind, context)
        return self.compose(picked, context)

    def enumeration_first(self, question: str, scored, picked, kind: str, context: Context) -> list:
        """A set question ("What tools can we use to commit encrypted secrets?") is answered most directly
        by a sentence naming that kind of thing and listing members by name ("Some popular tools for this
        approach are Bitnami Sealed Secrets, Mozilla SOPS"): it leads, when it scores within `enumerates`
        of the best unit, whatever else the answer quotes."""
        items = {p.n: p.items for p in context.passages}
        chosen = {(p[2], p[3]) for p in picked}
        known = key_terms(question, self.profile) | set(self.profile.subject_terms)
        for unit in scored:
            score, sim, n, pos, text = unit
            if score < scored[0][0] - self.w.enumerates:
                return picked
            if (n, pos) not in chosen and items[n][pos] < 0 and sim >= self.min_similarity \
                    and kind in tokens(text) and self.lists_members(text, known):
                return [unit, *picked]
        return picked

    def lists_members(self, text: str, known: set[str]) -> bool:
        """The sentence lists two or more names the question does not already use (and that are not the
        subjects the corpus is about): "are Bitnami Sealed Secrets, Mozilla SOPS", not two of the profile's subjects."""
        return any(len(key_terms(m.group(0), self.profile) - known) >= 2 for m in _NAMES.finditer(text, 1))

    def compose(self, picked, context: Context) -> Draft:
        """Keep the source's structure: what was a list item is a "- " line (an item's sentences on one
        line), what was prose runs on as a paragraph; every sentence carries its [n]."""
        lines, known, previous = [], {}, None
        vectors = {p.n: p.unit_vectors for p in context.passages}
        items = {p.n: p.items for p in context.passages}
        for _, _, n, pos, unit in picked:
            text = unit.strip()
            item = items[n][pos] if len(items[n]) > pos else -1
            key = (n, item) if item >= 0 else "prose"
            if lines and key == previous:
                lines[-1] += f" {text} [{n}]"
            else:
                lines.append(f"{text} [{n}]" if key == "prose" else f"- {text} [{n}]")
            previous = key
            known[text] = vectors[n][pos]
        return Draft(text="\n".join(lines), known_vectors=known)

    def list_answer(self, scored, context: Context, wants_list: bool = False, why: bool = False) -> list:
        """When the best match is an item of a list, or the lead-in of one ("Some popular frameworks:"),
        the answer is that list: the lead-in, then each item's first sentence (the best few, in
        document order). Returns [] when the best match is not part of a list."""
        if not scored:
            return []
        _, _, n, pos, _ = scored[0]
        passage = next(p for p in context.passages if p.n == n)
        items = passage.items
        is_item = lambda i: 0 <= i < len(items) and items[i] >= 0  # noqa: E731
        lead_in_matched = not is_item(pos)
        if lead_in_matched:
            if not (passage.units[pos].rstrip().endswith(":") and is_item(pos + 1)):
                return []
            pos += 1
        start, end = pos, pos
        while is_item(start - 1):
            start -= 1
        while is_item(end + 1):
            end += 1
        by_pos = {(item[2], item[3]): item for item in scored}
        firsts = [i for i in range(start, end + 1) if i == start or items[i] != items[i - 1]]
        members = [by_pos[n, i] for i in firsts if (n, i) in by_pos]
        if len(members) < 2:
            return []
        if not wants_list and all(len(tokens(m[4])) < 3 or _title_like(m[4]) for m in members):
            return []  # bare labels ("Blue vs. Green", "Canary vs. Shadow") answer only a set question
        # The question wants the list when it matched the lead-in, or when several items match about
        # equally well; one item far ahead of the rest answers a question about that item only.
        best_of_item: dict[int, float] = {}
        for score, _, m, i, _ in scored:
            if m == n and start <= i <= end:
                best_of_item[items[i]] = max(best_of_item.get(items[i], score), score)
        close = sum(score >= scored[0][0] - self.w.margin for score in best_of_item.values())
        # A question asking for a set ("Which tools ...") needs less agreement than one that does not.
        # A section that is itself the answer's heading ("## Why" for "Why should alerts be managed as
        # code?"): its list is the set of reasons, however differently each one is worded.
        answers_heading = why and bool(_WHY.match(passage.hit.section.split(" > ")[-1]))
        if not lead_in_matched and not answers_heading and close < self.w.list_min_matching - wants_list:
            return []
        if len(members) > self.w.max_list_items:
            keep = {m[3] for m in sorted(members, key=lambda m: -m[0])[:self.w.max_list_items]}
            members = [m for m in members if m[3] in keep]
        # An item's later sentence that matches as well as the best ("Data can be unstructured ..." for
        # "Why is the data part hard?") follows its first, on the same line.
        firsts_of = {items[m[3]]: m[3] for m in members}  # item number -> position of its first sentence
        detail = {}
        for score, _, m, i, _ in scored:  # best first: each item keeps its best later sentence
            if m == n and start <= i <= end and firsts_of.get(items[i], i) != i \
                    and score >= scored[0][0] - self.w.margin:
                detail.setdefault(items[i], by_pos[n, i])
        members = [u for m in members for u in [m, detail.get(items[m[3]])] if u]
        # The lead-in, unless it was left out as a non-answer ("Resources:") or an injection.
        lead = by_pos.get((n, start - 1)) if start > 0 and passage.units[start - 1].rstrip().endswith(":") else None
        return ([lead] if lead else []) + members

    def select(self, scored, context: Context, wants_quantity: bool, kind: str | None = None,
               sides: tuple[frozenset[str], frozenset[str]] | None = None) -> list:
        """The units to quote: the best within a margin, whole list items, a list's siblings when the
        best match is a list item, and a picked sentence's anaphoric follower. `kind`: what a set
        question asks for (asked_kind), `sides`: what a comparison compares (compared_sides)."""
        wants_list = kind is not None
        if self.w.same_passage:
            # One passage that answers reads better than fragments of five: its units get a lift.
            top_n = scored[0][2]
            scored = sorted(((s + (self.w.same_passage if n == top_n else 0.0), sim, n, pos, u)
                             for s, sim, n, pos, u in scored), key=lambda s: -s[0])
        best = scored[0][0]
        picked: list[tuple[float, float, int, int, str]] = []
        items = {p.n: p.items for p in context.passages}
        by_unit = {(item[2], item[3]): item for item in scored}
        word_sets: list[set[str]] = []

        def take(item) -> bool:
            score, sim, n, pos, unit = item
            if len(picked) >= self.max_sentences or (wants_quantity and not self.profile.has_quantity.search(unit)):
                return False
            words = set(tokens(unit))
            # Near-duplicates (the same sentence in two overlapping chunks) appear once.
            if any(u == unit or len(words & w) / max(1, len(words | w)) > self.w.duplicate_overlap
                   for (_, _, _, _, u), w in zip(picked, word_sets)):
                return False
            picked.append(item)
            word_sets.append(words)
            return True

        # Candidates: a whole list item (scored by its best sentence) or a single sentence / cell.
        candidates: dict[tuple[int, int], tuple[float, int]] = {}
        for score, _, n, pos, _ in scored:
            k = items[n][pos] if len(items[n]) > pos else -1
            candidates.setdefault((n, k) if k >= 0 else (n, -1 - pos), (score, pos))
        order = sorted(candidates, key=lambda key: -candidates[key][0])

        def add(key) -> None:
            n, k = key
            best_pos = candidates[key][1]
            if k < 0:
                take(by_unit[n, best_pos])
                return
            # A list item is quoted from its first sentence, which carries its label
            # ("Model Governance: ..."), then the sentence that matched, if that was another.
            members = [p for p, item_no in enumerate(items[n]) if item_no == k and (n, p) in by_unit]
            if members and take(by_unit[n, members[0]]):
                for p in members[1:]:
                    if p == best_pos or by_unit[n, p][0] >= best - self.w.margin:
                        take(by_unit[n, p])

        top = order[0]
        add(top)
        # The direct answer's own paragraph goes on with the details ("After the extension is
        # installed, you can create ..."): they come right after it, before other passages' points.
        tables = {p.n for p in context.passages if p.hit.kind == "table"}
        if picked and top[1] < 0 and top[0] not in tables:
            self.continue_paragraph(picked[0], picked, take, by_unit, items, kind=kind)
        if sides:
            # A comparison answers for both things: the best point about each side comes before the
            # rest, with its paragraph, even when one side matches the question's words better.
            heading = {p.n: set(tokens(p.hit.section.split(" > ")[-1])) for p in context.passages}
            about = lambda side, other, item: _about(side, other, set(tokens(item[4])) | heading[item[2]])  # noqa: E731
            for side, other in (sides, sides[::-1]):
                if any(about(side, other, p) for p in picked):
                    continue
                for key in order:
                    first = by_unit[key[0], candidates[key][1]]
                    if first[1] >= self.min_similarity and about(side, other, first):
                        before = len(picked)
                        add(key)
                        if len(picked) > before and key[1] < 0 and key[0] not in tables:
                            self.continue_paragraph(picked[-1], picked, take, by_unit, items, limit=1)
                        break
        if top[1] >= 0:
            # The best match is an item of a list: the question wants that list, so its other items
            # compete on a wider margin before anything else.
            for key in order:
                if key[0] == top[0] and key[1] >= 0 and candidates[key][0] >= best - self.w.list_margin:
                    add(key)
        for key in order:
            if candidates[key][0] < best - self.w.margin:
                break
            add(key)
        # A picked sentence's next one, when it leans on it ("It requires ..."), reads well after it.
        for _, _, n, pos, _ in list(picked):
            following = by_unit.get((n, pos + 1))
            if following and _ANAPHOR.match(following[4]) and items[n][pos + 1] < 0 \
                    and following[0] >= best - self.w.list_margin:
                take(following)
        self.antecedents(picked, by_unit, items)
        leads = set()
        if wants_list:
            # The set asked for is the whole list, not the few items that fit under the sentence cap.
            leads = self.introduced_list(picked, by_unit, items)
            headings = {p.n: set(tokens(p.hit.section)) for p in context.passages}
            self.whole_lists(picked, by_unit, items, {n for n, words in headings.items() if kind and kind in words})
        return self.with_items(picked, by_unit, items, leads)

    @staticmethod
    def antecedents(picked, by_unit, items) -> None:
        """A picked sentence that leans on the one before it ("It is a language-agnostic CLI tool ...")
        says nothing alone: the sentence it leans on ("One inclusive linter we recommend is woke.") comes
        right before it, when that is prose of the same passage and itself quotable."""
        for i in range(len(picked) - 1, -1, -1):
            _, _, n, pos, unit = picked[i]
            before = by_unit.get((n, pos - 1))
            if before and _PRONOUN.match(unit) and items[n][pos] < 0 and items[n][pos - 1] < 0 \
                    and all((p[2], p[3]) != (n, pos - 1) for p in picked):
                picked.insert(i, before)

    def whole_lists(self, picked, by_unit, items, named: set[int]) -> None:
        """A set question whose answer quotes two or more items of one list under a heading naming the
        set ("Which chaos engineering tools ...": "Frameworks and Tools > Chaos", then "- Azure Chaos
        Studio ...", "- Chaos toolkit ..."): the list is the set asked for, so each of its items comes
        (its first sentence), up to `max_list_items`. `named`: the passages whose heading names it."""
        runs: dict[tuple[int, int], set[int]] = {}
        for _, _, n, pos, _ in picked:
            if pos < len(items[n]) and items[n][pos] >= 0:
                start = pos
                while start > 0 and items[n][start - 1] >= 0:
                    start -= 1
                runs.setdefault((n, start), set()).add(items[n][pos])
        for (n, start), quoted in runs.items():
            if len(quoted) < 2 or n not in named:
                continue
            end, firsts = start, []
            while end < len(items[n]) and items[n][end] >= 0:
                if end == start or items[n][end] != items[n][end - 1]:
                    firsts.append(end)
                end += 1
            missing = [p for p in firsts if items[n][p] not in quoted and (n, p) in by_unit]
            for p in missing[:max(0, self.w.max_list_items - len(quoted))]:
                picked.append(by_unit[n, p])

    def continue_paragraph(self, start, picked, take, by_unit, items, kind: str | None = None,
                           limit: int | None = None) -> None:
        """The sentences after the direct answer (a prose sentence) in its paragraph, while each stays close
        to the question (similarity at least `continuation_ratio` of the answer's): a paragraph is one
        argument, and its next sentences explain the first even when their own words match the question
        less. For a set question (`kind`: its plural noun, "" for kinds/ways) only a lead-in that
        introduces a list, or a sentence naming the set ("... various factors, including ..."), comes."""
        _, top_sim, n, pos, _ = start
        for nxt in range(pos + 1, pos + 1 + (self.w.continuation if limit is None else limit)):
            following = by_unit.get((n, nxt))
            if not following or items[n][nxt] >= 0:
                return
            if _introduces_list(following[4], items[n], nxt):
                # "We should keep PRs small. Small PRs have multiple advantages:" the list that
                # follows is the substance of the answer, however its lead-in scores alone.
                picked.append(following)
                return
            if kind is not None:
                if not (kind and kind in tokens(following[4])) or not take(following):
                    return  # naming the set asked for is the evidence here, however its words score
            elif following[1] < self.w.continuation_ratio * top_sim or not take(following):
                return

    @staticmethod
    def introduced_list(picked, by_unit, items) -> set[tuple[int, int]]:
        """A question asking for a set, answered by prose: when a picked sentence's paragraph goes on
        into a list ("There are some tools to implement shadow testing. The main purpose ... " then
        "- Diffy", "- Envoy"), the list is the set asked for. The sentence closest to it becomes its
        lead-in, so the items follow it (with_items); returns that lead-in's (passage, position)."""
        for i, (_, _, n, pos, _) in enumerate(picked):
            nxt = pos + 1
            while nxt < len(items[n]) and items[n][nxt] < 0 and nxt - pos <= 2:
                nxt += 1
            if nxt >= len(items[n]) or items[n][nxt] < 0 or (n, nxt) not in by_unit:
                continue
            if nxt - 1 != pos:
                if (n, nxt - 1) not in by_unit:
                    continue  # the sentence before the list is no answer (a pointer, a heading)
                if all((p[2], p[3]) != (n, nxt - 1) for p in picked):
                    picked.insert(i + 1, by_unit[n, nxt - 1])
            return {(n, nxt - 1)}
        return set()

    def with_items(self, picked, by_unit, items, leads: set[tuple[int, int]] = frozenset()) -> list:
        """A lead-in never goes alone ("Some popular frameworks for Kubernetes:"): its list's items
        (each one's first sentence, at most `max_list_items`) come right after it. `leads`: other
        units that introduce the list after them."""
        out, seen = [], {(p[2], p[3]) for p in picked}
        for unit in picked:
            out.append(unit)
            _, _, n, pos, text = unit
            if not (text.rstrip().endswith(":") or (n, pos) in leads) or not _introduces_list(":", items[n], pos):
                continue
            nxt, taken = pos + 1, 0
            while nxt < len(items[n]) and items[n][nxt] >= 0 and taken < self.w.max_list_items:
                first = nxt == pos + 1 or items[n][nxt] != items[n][nxt - 1]
                if first and (n, nxt) in by_unit and (n, nxt) not in seen:
                    out.append(by_unit[n, nxt])
                    seen.add((n, nxt))
                    taken += 1
                nxt += 1
        return out
