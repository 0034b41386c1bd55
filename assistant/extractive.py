"""Answer (offline): pick the passage sentences, list items or table cells that best answer the question."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from assistant.answerer import Draft
from assistant.composition import Composition, _label_names
from assistant.context import Context
from assistant.domain import DomainProfile
from assistant.followup import expand_followup
from assistant.grammar import (_AGENT, _ANAPHOR, _ASKS_TABLE, _DEFINE, _PLACEHOLDER, _WHY, _about, _criterion,
                               _defines, _introduces_list, _name_parts, _subject, _title_like, asked_kind,
                               compared_sides)
from assistant.safety import looks_like_injection
from assistant.text import key_terms, tokens
from assistant.verify import WHO


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
    asked_cell: float = 0.15  # a table cell whose row (subject) and column (criterion) the question both names
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
    named_list: float = 0.30  # the list whose heading names the set asked for answers when within this of the best


class ExtractiveAnswerer(Composition):
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
                # A label item leading a sub-list ("- Standby Sites:" then "  - Hot Standby: ...") is
                # quotable: its sub-items come with it (Composition.sub_items).
                leads_sub = is_item and pos + 1 < len(passage.items) and passage.items[pos + 1] >= 0 \
                    and passage.depths[pos + 1] > passage.depths[pos]
                if looks_like_injection(unit) or reference or (self.non_answer(unit, heading, asks_questions)
                                                               and not (leads_sub and unit.rstrip().endswith(":"))):
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
                # An item's label is its own evidence: "Hot Site: Maintain ..." is one of the sites.
                if kind and (kind in (section_terms | (intro if is_item else unit_terms))
                             or (is_item and _label_names(unit, kind))):
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
                    elif q_names and subject & q_names and _criterion(unit, head=True) <= q_terms:
                        # The row and the column ("Key Tools", by its noun) asked for: the cell is the answer.
                        score += w.asked_cell
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
        listed = [] if wants_quantity else (self.named_list(scored, context, kind) or self.list_answer(
            scored, context, kind is not None, why=bool(_WHY.match(question))))
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
            if kind:
                self.labelled_set(picked, by_unit, items, {p.n: p.depths for p in context.passages}, kind)
        return self.with_items(picked, by_unit, items, leads, {p.n: p.depths for p in context.passages})
