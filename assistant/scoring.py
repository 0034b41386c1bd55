"""Score (offline): how well each unit of the retrieved passages answers the question, and which never can."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.context import RESTATES_GAP, Context, restating
from assistant.domain import DomainProfile
from assistant.grammar import (_AGENT, _ANAPHOR, _ASKS_ADVICE, _ASKS_TABLE, _DEFINE, _DIFFERENCE, _LEANING_CLAUSE,
                               _PLACEHOLDER, _TOPIC, _WHEN_COND, _WHY_DO, ADVICE, CONDITION, REASONS, _about, _criterion, _defines,
                               _defines_side, _introduces_list, _label_names, _subject, _title_like, asked_kind,
                               asks_for_questions, compared_sides)
from assistant.outline import names_heading, numbered_heading, points_at_title
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
    states_difference: float = 0.15  # a comparison: a unit stating a difference ("whereas", "unlike") about a side
    part_margin: float = 0.05  # a question's part counts as answered by a pick this close to its best unit
    advises: float = 0.15  # a question asking what to do: a unit recommending something ("X is the recommended ...")
    titled: float = 0.15  # "What is X?": a unit of the document whose title is X
    named_section: float = 0.15  # the first sentence under a heading the question names ("## Deliverable")
    numbered_section: float = 0.25  # a unit under a numbered heading the question names ("## Day 3")
    named_document: float = 0.25  # a unit of the document the question points at by its whole title
    restates: float = -0.15  # a sentence restating the scene a question sets, not what it asks ...
    restates_gap: float = RESTATES_GAP  # ... by this much more similar to the scene than to the question asked
    echo: float = -0.3  # a unit all of whose words the question already says
    enumerates: float = 0.30  # a sentence listing the set asked for by name leads when within this of the best
    kind_tie: float = 0.05  # a list whose lead-in names the set asked for answers when this close to the best unit
    named_list: float = 0.30  # the list whose heading names the set asked for answers when within this of the best
    side_definitions: float = 0.25  # a comparison: sentences saying what each side is lead when within this


# "the checklist section", "under the Tools heading": the user names a section of a document.
_SECTION_NAMED = re.compile(r"\b(?:the|its|their|our|this|that)\s+([\w-]+(?:\s+[\w-]+)?)\s+(?:section|heading)\b", re.I)
_VERSUS = re.compile(r"\s(?:vs\.?|versus)\s", re.I)
_CONTRASTS = frozenset({"differ", "comparison", "contrast", "tradeoff", "trade"})


class Scoring:
    """The scoring rules of ExtractiveAnswerer, which mixes them in: one score per unit, the bonuses and
    penalties of ExtractiveWeights on top of its similarity to the query."""

    w: ExtractiveWeights
    profile: DomainProfile

    def score_units(self, question: str, context: Context) -> list[tuple[float, float, int, int, str]]:
        """(score, similarity, passage n, unit position, text) for every unit, best first: similarity to
        the query, plus the share of query words in the unit or its section, plus a small prior for
        the passage's retrieval rank, and a bonus (or penalty) for naming the asked subject."""
        q_terms = set(tokens(context.retrieval.query))
        q_names = self.profile.subjects_in(context.retrieval.query)
        asks_table = bool(_ASKS_TABLE.search(context.retrieval.query))
        w, signpost = self.w, self.profile.signpost
        asks_questions = asks_for_questions(question)
        kind = asked_kind(question)
        asks_why = bool(_WHY_DO.match(question)) and kind is None
        asks_who = bool(WHO.search(question))
        asks_advice = bool(_ASKS_ADVICE.search(question)) and kind is None
        # One question asking when: in a two-part question a condition would outrank the other part's answer.
        asks_when = bool(_WHEN_COND.match(question)) and not context.part_questions
        known_names = key_terms(question, self.profile) | set(self.profile.subject_terms)
        term = _DEFINE.match(question) or _TOPIC.match(question)
        # "What is a span in a distributed trace?": the term is "span"; the rest says where it lives.
        subject = re.split(r"\s+(?:in|of|for|within|on|at|when|from)\s+", term.group(1))[0] if term else ""
        # "What are the phases of threat modeling?" asks for a set (phases of something), not a definition.
        relational = bool(term and re.search(r"\sof\s", term.group(1)))
        defined = tokens(subject) if subject and len(subject.split()) <= 4 and not relational else []
        sides = compared_sides(question)
        section_named = set(tokens(" ".join(_SECTION_NAMED.findall(question))))
        scored = []
        # Per passage: does the question name one of its table's criteria ("What is the focus of ...")?
        criteria = [passage.hit.kind == "table" and any(q_terms & _criterion(u) for u in passage.units)
                    for passage in context.passages]
        for rank, passage in enumerate(context.passages):
            if not passage.units:
                continue
            sims = passage.unit_vectors @ context.query_vector
            # "A bad deployment hammered our services. What does it recommend?": a sentence saying what the scene
            # says, far more than what is asked, restates the user's situation ("A bad deployment that takes
            # down a Cache results in hammering downstream services.").
            restates = restating(passage, context.scene, w.restates_gap)
            section_terms = set(tokens(passage.hit.section))
            reference = self.profile.is_reference_section(passage.hit.section)
            # "What is observability?": the document titled "Observability" is where it is explained,
            # not a checklist's "Observability" section in another document.
            titled = bool(defined) and set(tokens(passage.hit.title)) == set(defined)
            # "According to the engineering fundamentals checklist, what should ...": the user points at a
            # document; a title of one word ("Observability") is a topic, not a pointer.
            in_named_document = points_at_title(question, passage.hit.title)
            # "What should the deliverable of a technical spike look like?": the section headed "Deliverable"
            # opens by saying what the question asks; its heading is a word of the question, not the title's.
            heading = passage.hit.section.split(" > ")[-1].strip().lower()
            heading_terms = set(tokens(heading))
            named_section = bool(heading_terms) and heading_terms <= q_terms \
                and not heading_terms <= set(tokens(passage.hit.title))
            # "What items are in the checklist section of ...?": every unit under a heading with that word.
            in_named = bool(section_named & heading_terms)
            # "What do we do on day 3 of ...?": the numbered section named is the answer, every unit of it.
            numbered = bool(numbered_heading(heading)) and names_heading(question, heading)
            # "Blue-green vs canary": a section headed by one side opens by saying what that side is.
            headed = bool(sides) and any(_about(side, other, heading_terms) for side, other in (sides, sides[::-1]))
            intro: set[str] = set()  # the words of the sentence that introduces the current list
            links = False  # ... and whether it introduces links ("Product Group Links provided for ...:")
            for pos, (unit, sim) in enumerate(zip(passage.units, sims)):
                is_item = len(passage.items) > pos and passage.items[pos] >= 0
                if not is_item:
                    intro = set(tokens(unit))
                    links = unit.rstrip().endswith(":") and bool(self.profile.names_references.search(unit))
                if links:
                    continue  # a list of links and its lead-in point elsewhere; they say nothing
                # A label item leading a sub-list ("- Standby Sites:" then "  - Hot Standby: ...") is
                # quotable: its sub-items come with it (Composition.sub_items).
                leads_sub = is_item and pos + 1 < len(passage.items) and passage.items[pos + 1] >= 0 \
                    and passage.depths[pos + 1] > passage.depths[pos]
                if looks_like_injection(unit) or reference or (self.non_answer(unit, heading, asks_questions)
                                                               and not (leads_sub and unit.rstrip().endswith(":"))):
                    continue  # planted instructions, links, questions and pointers are never answers
                if unit.rstrip().endswith(":") and pos == len(passage.units) - 1 and pos not in passage.code_after:
                    continue  # what it introduces went to the next chunk: quoted, it would dangle
                unit_terms = set(tokens(unit))
                lexical = len(q_terms & (unit_terms | section_terms)) / len(q_terms) if q_terms else 0.0
                score = (float(sim) + w.lexical * lexical
                         + w.rank_prior * (len(context.passages) - rank) / len(context.passages))
                if restates is not None and restates[pos]:
                    score += w.restates
                # "Write good commit messages." tells "How do we write good commit messages?" nothing; an
                # item named in a set question ("- Load Testing" for "What kinds of tests ...") is a member.
                if unit_terms and unit_terms <= q_terms and not (is_item and kind is not None):
                    score += w.echo
                section = "" if passage.hit.section == passage.hit.title else passage.hit.section
                subject = _subject(unit, section, self.profile)
                if q_names and subject:
                    score += w.subject_match if subject & q_names else w.subject_mismatch
                if defined and _defines(unit, defined):
                    score += w.defines
                elif sides and (any(_defines_side(unit, side) for side in sides) or (headed and pos == 0)):
                    score += w.defines
                if sides and _DIFFERENCE.search(unit) and unit_terms & (sides[0] | sides[1]) \
                        and not signpost.search(unit):
                    score += w.states_difference  # "mocks do behavioral verification, whereas ..."

                if (named_section and pos == 0 and not is_item and kind is None and not sides) or in_named:
                    score += w.named_section
                if titled:
                    score += w.titled
                if in_named_document:
                    score += w.named_document
                if numbered:
                    score += w.numbered_section
                if asks_who and any(key_terms(m.group(0), self.profile) - known_names for m in _AGENT.finditer(unit)):
                    score += w.names_someone  # the kind of thing asked for: someone, not a description
                # A set question's best evidence may be the lead-in of its list ("The proposed process
                # consists of:"): it never goes alone (with_items), so it is judged as its list.
                leads_set = _introduces_list(unit, passage.items, pos)
                # An item is one of a list of "tools" when its lead-in or section says so; its own words
                # ("Establish what tools will be used") do not make its list one of tools.
                # An item's label is its own evidence: "Hot Site: Maintain ..." is one of the sites.
                if kind and (kind in (section_terms | (intro if is_item else unit_terms))
                             or (is_item and _label_names(unit, kind))):
                    score += w.kind  # "Which tools ...": a unit naming tools, or an item of a list of them
                elif asks_why and REASONS & ((intro | heading_terms) if is_item else unit_terms) \
                        and (is_item or leads_set):
                    score += w.kind  # "Why ...?": a list of advantages or reasons, or its lead-in
                elif asks_when and CONDITION.search(unit) and not unit.rstrip().endswith(":"):
                    score += w.kind  # "When is X not worth doing?": a sentence stating a condition
                if asks_advice and ADVICE.search(unit) and not unit.rstrip().endswith(":"):
                    score += w.advises  # "Should we keep X or Y?": the sentence recommending one
                # A list question is answered by names; any other by statements, not a title ("Pull
                # Request Template"), a label standing alone, or one word (inline code whose ticks are gone).
                # ... but "Batch vs. Stream" names a comparison, not a member of any set but differences.
                short = (len(unit_terms) < 3 or len(unit.split()) < 2 or _title_like(unit)) \
                    and not (is_item and kind is not None and not (_VERSUS.search(unit) and kind not in _CONTRASTS))
                if (unit.rstrip().endswith(":") and not leads_set) or short or signpost.search(unit):
                    score += w.lead_in
                elif (_ANAPHOR.match(unit) or _LEANING_CLAUSE.match(unit)) and not is_item:
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

    def definitions_first(self, scored: list, sides) -> list:
        """A comparison is answered first by what each thing is: when both compared sides have a sentence
        saying what that side is ("Pair programming ("pairing") - two software engineers ...", "Swarm
        programming ... - three or more ...") within `side_definitions` of the best unit, those two lead."""
        if not scored or not sides:
            return scored
        best = scored[0][0]
        defining = []
        for side in sides:
            found = next((s for s in scored if s[0] >= best - self.w.side_definitions and _defines_side(s[4], side)
                          and not any(_defines_side(s[4], other) for other in sides if other != side)), None)
            if found is None:
                return scored
            defining.append(found)  # one sentence defining both sides is excluded above: these are two
        lifted = {id(defining[0]): best + 0.02, id(defining[1]): best + 0.01}
        return sorted(((lifted.get(id(s), s[0]), *s[1:]) for s in scored), key=lambda s: -s[0])

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
