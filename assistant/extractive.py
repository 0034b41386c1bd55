"""Answer (offline): pick the passage sentences, list items or table cells that best answer the question."""

from __future__ import annotations

import re
from collections.abc import Iterator

from assistant.answerer import Draft
from assistant.composition import Composition
from assistant.context import Context
from assistant.domain import DomainProfile
from assistant.followup import expand_followup
from assistant.grammar import (_ANAPHOR, _ASKS_ADVICE, _ASKS_METHOD, _DEFINE, _WHEN_COND, _WHY, _WHY_DO, _about, _name_parts,
                               _title_like, asked_kind, asked_thing, compared_sides, excluded_members, scene_and_ask)
from assistant.lists import Lists, conditions_heading, one_sided, reasons_heading
from assistant.outline import asks_contents, document_sections
from assistant.problems import Problems, solution_next
from assistant.safety import looks_like_injection
from assistant.scoring import ExtractiveWeights, Scoring
from assistant.text import key_terms, tokens
from assistant.verify import WHEN, WHO


class ExtractiveAnswerer(Scoring, Lists, Composition, Problems):
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
        # "ML-centric" is known when any part is ("ML"); "France" or "Kubernetes" are not. A subject the
        # profile names is known only when this corpus uses it: a subject of the field may be in no document.
        subjects = {s for s in self.profile.subject_terms if any(t in vocab for t in tokens(s))}
        return {t for t in key_terms(question, self.profile) - subjects
                if _name_parts(t) and not any(p in vocab for p in _name_parts(t) + tokens(t))}

    def unknown_defined(self, question: str, context: Context) -> str:
        """The term a definition question asks about ("What is mutation testing?") when no passage
        retrieved for it says it, or "": they then explain something else ("mutate" is in the corpus,
        "mutation testing" is not). A term of two to four words must be said as a phrase."""
        term = _DEFINE.match(question)
        if not term:
            return ""
        # "What is the recommended commit message format?": a word judging the thing is no part of its name.
        subject = re.sub(r"^(?:(?:recommended|suggested|preferred|best|right|correct|proper|ideal|typical|usual|"
                         r"standard|default|common|main|general|good)\s+)+", "", term.group(1), flags=re.I)
        words = tokens(subject)
        # A term alone ("mutation testing"), not a relation ("the main use cases of a practice", "the
        # article's conclusion").
        if not 2 <= len(words) <= 4 or len(subject.split()) > 4 or re.search(
                r"\s(?:in|of|for|within|on|at|when|from|between|and|or|to|with|vs)\s|\w['’]s\s", f" {subject} "):
            return ""
        # Of three words or more, the last may be said apart ("commit message format": the passage on commit
        # messages calls it their structure, but says "format" too): the words before it name the thing.
        phrase = words if len(words) < 3 else words[:-1]
        for p in context.passages:
            text = tokens(f"{p.hit.title} . {p.hit.section} . {p.hit.text}")
            if phrase is not words and words[-1] not in text:
                continue
            # In order, a word or two apart at most: "the Shift-Left approach of testing" says "shift-left testing".
            for start in (i for i, t in enumerate(text) if t == phrase[0]):
                at = start
                for word in phrase[1:]:
                    at = next((j for j in range(at + 1, min(at + 4, len(text))) if text[j] == word), -1)
                    if at < 0:
                        break
                if at >= 0:
                    return ""
        return subject

    def coverage(self, question: str) -> float:
        """Share of the question's own content words (subject names aside) that the corpus uses."""
        if self.vocabulary is None:
            return 1.0
        subjects = set(self.profile.subject_terms)
        vocab, terms = self.vocabulary(), [t for t in tokens(question) if t not in subjects]
        return sum(t in vocab for t in terms) / len(terms) if terms else 1.0

    def refusal_reason(self, question: str, context: Context, scored) -> str:
        """Why the passages cannot answer this question, or "" when they may."""
        if not context.passages or not set(tokens(context.retrieval.query)):
            return "no content words or no passages"
        if looks_like_injection(question):
            return "the question asks about instructions, not the corpus"
        if unknown := self.unknown_names(question):
            return f"names not in the corpus: {sorted(unknown)}"
        if unknown := self.unknown_defined(question, context):
            return f"the term asked about is not in the corpus: {unknown!r}"
        if (thing := asked_thing(question)) and self.vocabulary is not None and thing not in self.vocabulary():
            # "What's the Git LFS storage quota on our Git server?": no document says "quota" at all.
            return f"what the question asks for is never mentioned in the corpus: {thing!r}"
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
        # "Who wrote the article comparing Jenkins, CircleCI and Travis?" asks for a person, not a comparison.
        sides = None if WHO.search(question) else compared_sides(question)
        if sides and kind is None and not _ASKS_ADVICE.search(question):
            # "Should I go with X or Y?" is answered by the recommendation, not by what X and Y are.
            scored = self.definitions_first(scored, sides)
        scored = self.list_naming_all(question, scored, context)
        # "Apart from Azure Pipelines, which CI services ...?": the member named is not asked for again.
        excluded = excluded_members(question) if kind is not None else set()
        if not wants_quantity and (sections := self.sibling_sections(scored, context, kind)):
            if excluded and len(kept := [m for m in sections if not set(tokens(m[0])) <= excluded]) >= 2:
                sections = kept
            return self.compose_sections(sections, context)
        if kind is None and asks_contents(question) and (
                sections := document_sections(question, scored, context, self.profile.is_reference_section)):
            return self.compose_sections(sections, context)
        why = bool(_WHY.match(question))
        heading_answers = reasons_heading if _WHY_DO.match(question) else \
            conditions_heading if _WHEN_COND.match(question) else None
        listed = [] if wants_quantity else (self.named_list(scored, context, kind, heading_answers)
                                            or self.list_answer(scored, context, kind, why=why))
        if not listed and kind is None and not wants_quantity and \
                _ASKS_METHOD.match(scene_and_ask(question)[1] or question):
            listed = self.steps_list(scored, context)
        if listed and sides and kind is None and one_sided(listed, sides):
            listed = []  # a comparison is answered by what sets the two apart, not a list of one's parts
        if listed and context.part_questions:
            listed = self.other_parts(scored, context, listed)
        picked = listed or self.select(scored, context, wants_quantity, kind, sides, question=question)
        if not picked:
            return Draft(refused=True, reason="no sentence of the passages answers this kind of question")
        if excluded:
            picked = _without_members(picked, excluded, {p.n: p.items for p in context.passages})
        if not listed:
            # Readable order: passages by their best pick, sentences in document order within a passage.
            first: dict[int, float] = {}
            for score, _, n, _, _ in picked:  # a passage ranks by its best unit, not by the first listed
                first[n] = min(first.get(n, float("inf")), -score)
            lead = max(picked, key=lambda p: p[0])
            picked.sort(key=lambda p: (first[p[2]], p[3]))
            if self.restated_problem(lead, context, question):
                picked = solution_next(picked, lead, context)
        if kind:
            picked = self.enumeration_first(question, scored, picked, kind, context)
        elif _ASKS_ADVICE.search(question):
            picked = self.advice_first(scored, picked, context)
        return self.compose(picked, context, split_cells=kind is not None)

    def open_parts(self, picked: list, units, context: Context):
        """The questions of a question that asks several ("Who proposed the format, and where do ADRs go?")
        that no picked unit answers about as well as the passages' best unit for it: (question, similarity
        of each unit to it, best unit's key) per such part. `picked` is read anew for each part, so a part
        answered by what an earlier one brought is left alone."""
        vectors = {p.n: p.unit_vectors for p in context.passages}
        # A lead-in or a signpost is no point to add on its own (a picked lead-in brings its list).
        points = [(u[2], u[3]) for u in units if not (u[4].rstrip().endswith(":") or self.profile.signpost.search(u[4]))]
        for question, part in zip(context.part_questions, context.part_vectors):
            if not points or not picked:
                continue
            sims = {(u[2], u[3]): float(vectors[u[2]][u[3]] @ part) for u in units}
            best_key = max(points, key=sims.get)
            if max(sims.get((p[2], p[3]), -1.0) for p in picked) < sims[best_key] - self.w.part_margin:
                yield question, sims, best_key

    def other_parts(self, scored, context: Context, listed: list) -> list:
        """A list answering one question of several ("What are the main classes of diagrams, and which types
        does it give examples of?" -> the classes) leaves the others open: each open part brings its best
        unit, with its list when it is one (list_answer, scored by that part alone)."""
        listed = list(listed)
        for question, sims, best_key in self.open_parts(listed, scored, context):
            by_part = sorted(((sims[u[2], u[3]] + (u[0] - u[1]), sims[u[2], u[3]], *u[2:]) for u in scored),
                             key=lambda u: -u[0])
            have = {(u[2], u[3]) for u in listed}
            listed += [u for u in self.list_answer(by_part, context, asked_kind(question)) or by_part[:1]
                       if (u[2], u[3]) not in have]
        return listed

    def select(self, scored, context: Context, wants_quantity: bool, kind: str | None = None,
               sides: tuple[frozenset[str], frozenset[str]] | None = None, question: str = "") -> list:
        """The units to quote: the best within a margin, whole list items, a list's siblings when the
        best match is a list item, and a picked sentence's anaphoric follower. `kind`: what a set
        question asks for (asked_kind), `sides`: what a comparison compares (compared_sides). With
        `wants_quantity` only units stating one are quoted (the amount the `question` asks for: a price, a
        number of days); a year counts only when it asks when."""
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
        asked = set(tokens(context.retrieval.query))
        # "How much does X cost?" needs a price; "When was X released?" a date, which a year is.
        states_quantity = self.profile.has_quantity.search if WHEN.match(question) else \
            self.profile.amount_test(question)

        def take(item) -> bool:
            score, sim, n, pos, unit = item
            if len(picked) >= self.max_sentences or (wants_quantity and not states_quantity(unit)):
                return False
            if not wants_list and _title_like(unit):
                return False  # a heading or title alone ("Batch vs. Stream") is no point; a list it is in brings it
            words = set(tokens(unit))
            # Near-duplicates (the same sentence in two overlapping chunks) appear once. Every pick counts,
            # including those appended without `take` (a lead-in that brings its list).
            if any(u == unit or len(words & (w := set(tokens(u)))) / max(1, len(words | w)) > self.w.duplicate_overlap
                   for _, _, _, _, u in picked):
                return False
            picked.append(item)
            return True

        # Candidates: a whole list item (scored by its best sentence) or a single sentence / cell.
        candidates: dict[tuple[int, int], tuple[float, int]] = {}
        for score, _, n, pos, _ in scored:
            k = items[n][pos] if len(items[n]) > pos else -1
            candidates.setdefault((n, k) if k >= 0 else (n, -1 - pos), (score, pos))
        order = sorted(candidates, key=lambda key: -candidates[key][0])

        def add(key, leaning: bool = False) -> None:
            n, k = key
            best_pos = candidates[key][1]
            if k < 0:
                take(by_unit[n, best_pos])
                return
            # A list item is quoted from its first sentence, which carries its label
            # ("Model Governance: ..."), then the sentence that matched, if that was another. With
            # `leaning` (the best item), its next sentence that leans on the first ("This enabled them
            # to ...") is the rest of that statement: it says what the item did, and comes with it.
            members = [p for p, item_no in enumerate(items[n]) if item_no == k and (n, p) in by_unit]
            if members and take(by_unit[n, members[0]]):
                # "Alert fatigue is real." adds one word to "How should we handle alert fatigue?": the
                # item's next sentence is what it says.
                says_little = len(set(tokens(by_unit[n, members[0]][4])) - asked) < 2
                wanted = [p for p in members[1:] if p == best_pos or by_unit[n, p][0] >= best - self.w.margin
                          or ((leaning and _ANAPHOR.match(by_unit[n, p][4]) or says_little) and p == members[0] + 1)]
                # The best item's argument runs in order: a sentence one or two after its first comes with the one
                # between ("Avoid huge commits ..." "... will lead to unfair review." "Biased behavior ...").
                last = max(wanted, default=members[0])
                for p in members[1:]:
                    if p in wanted or (leaning and p < last and last - members[0] <= 3):
                        take(by_unit[n, p])

        top = order[0]
        add(top, leaning=True)
        # The direct answer's own paragraph goes on with the details ("After the extension is
        # installed, you can create ..."): they come right after it, before other passages' points.
        tables = {p.n for p in context.passages if p.hit.kind == "table"}
        if picked and self.restated_problem(picked[0], context, question):
            self.what_follows(picked[0], take, by_unit, context)
        elif picked and top[1] < 0 and top[0] not in tables:
            # A comparison shares the sentences between its two sides: the first side's paragraph
            # leaves room for the other's.
            half = max(0, self.max_sentences // 2 - 1) if sides else None
            self.continue_paragraph(picked[0], picked, take, by_unit, items, kind=kind, limit=half)
        if sides:
            # A comparison answers for both things: the best point about each side comes before the
            # rest, with its paragraph, even when one side matches the question's words better.
            # A heading naming both sides ("Blue-Green vs. Canary") says which side none of its sentences is about.
            heading = {p.n: words if not (sides[0] & words and sides[1] & words) else set()
                       for p in context.passages for words in [set(tokens(p.hit.section.split(" > ")[-1]))]}
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
                            self.continue_paragraph(picked[-1], picked, take, by_unit, items,
                                                    limit=max(1, self.max_sentences // 2 - 1))
                        break
        # A question asking two things gets the best point for each: an open part brings its best unit,
        # with its next sentence.
        for _, _, (n, pos) in self.open_parts(picked, scored, context):
            before = len(picked)
            add((n, items[n][pos]) if items[n][pos] >= 0 else (n, -1 - pos))
            if len(picked) > before and items[n][pos] < 0 and n not in tables:
                self.continue_paragraph(picked[-1], picked, take, by_unit, items, limit=1)
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
        self.list_above(picked, by_unit, items, {p.n: p.depths for p in context.passages})
        leads = set()
        if wants_list:
            # The set asked for is the whole list, not the few items that fit under the sentence cap.
            leads = self.introduced_list(picked, by_unit, items)
            headings = {p.n: set(tokens(p.hit.section)) for p in context.passages}
            self.whole_lists(picked, by_unit, items, {n for n, words in headings.items() if kind and kind in words})
            if kind:
                self.kind_led_list(picked, by_unit, items, kind)
                self.labelled_set(picked, by_unit, items, {p.n: p.depths for p in context.passages}, kind)
        return self.with_items(picked, by_unit, items, leads, {p.n: p.depths for p in context.passages})



def _without_members(listed: list, excluded: set[str], items: dict[int, tuple[int, ...]]) -> list:
    """`listed` without the items that open by naming what the question sets aside ("Besides CodeQL, which
    tools ...": "- CodeQL - GitHub security. CodeQL lets you ..."), each with its later sentences; as it was
    when fewer than two units would be left."""
    def item(u) -> tuple[int, int] | None:
        n, pos = u[2], u[3]
        return (n, items[n][pos]) if pos < len(items[n]) and items[n][pos] >= 0 else None

    named = {item(u) for u in listed if item(u) and set(tokens(u[4])[:len(excluded)]) == excluded}
    kept = [u for u in listed if item(u) not in named]
    return kept if named and len(kept) >= 2 else listed
