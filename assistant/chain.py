"""Chain: condense -> retrieve -> draft -> verify, one pipeline for `invoke` and `stream`."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from assistant import smalltalk
from assistant.answerer import Answerer, Draft
from assistant.citations import markers
from assistant.context import REFUSAL, RESTATES_GAP, Context, build_context, code_body, restating
from assistant.domain import DomainProfile
from assistant.followup import leans_on_history, names_in, with_earlier_words
from assistant.grammar import _ASKS_METHOD, asked_kind, describes_as, question_parts, scene_and_ask
from assistant.outline import MAX_SECTIONS, asks_contents, named_document
from assistant.text import tokens
from assistant.types import Answer, Citation
from assistant.verify import Verified, relevance_gap, verify

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ChainState:
    """What flows between the steps; each step returns a new state with its part filled in."""

    question: str
    history: tuple[str, ...] = ()
    query: str = ""  # the standalone retrieval query (the question, expanded for follow-ups)
    context: Context | None = None
    draft: Draft | None = None


def refusal_text(topics: list[str]) -> str:
    covered = "; ".join(topics[:5]) if topics else "the documents in the corpus"
    return f"{REFUSAL} Try rephrasing your question. The closest topics the sources cover: {covered}."


def nearest_topics(context: Context | None, fallback: list[str], generic: set[str]) -> list[str]:
    """What the refusal offers instead: the titles of the documents retrieval came closest to (real,
    and about the question); only when there are none, the corpus' top-level sections. Padding three
    close titles with the first document's headings ("Why CI/CD; The Fundamentals; Tools") offered the
    same unrelated topics after every refusal."""
    titles = [p.hit.title for p in (context.passages if context else ()) if p.hit.title]
    seen = [t for t in dict.fromkeys(titles) if t not in generic]
    return (seen or [t for t in fallback if t not in generic])[:5]


def finalize(state: ChainState, checked: Verified | None, topics: list[str], answerer: str) -> Answer:
    """Keep supported sentences, renumber citations 1..m in order of first use, or refuse."""
    context, draft = state.context, state.draft
    retrieved = tuple(p.hit.id for p in context.passages)
    kept = [s for s in (checked.sentences if checked else ()) if s.supported]
    removed = checked.removed if checked else 0
    if draft.refused or not kept:
        reason = draft.reason or ("the verifier removed every sentence" if checked else "refused")
        return Answer(question=state.question, text=refusal_text(topics), citations=(), refused=True,
                      removed=removed, retrieved=retrieved, query=context.retrieval.query, answerer=answerer,
                      reason=reason)
    passages = context.by_number()
    order: dict[int, int] = {}
    for s in kept:
        for n in s.citations:
            order.setdefault(n, len(order) + 1)
    sentences = tuple(replace(s, citations=tuple(order[n] for n in s.citations), code=shown_code(draft, s, passages))
                      for s in kept)
    text = markdown(sentences)
    citations = tuple(Citation(n=new, id=passages[old].hit.id, source=passages[old].hit.source,
                               title=passages[old].hit.title, section=passages[old].hit.section,
                               text=passages[old].hit.text, start=passages[old].hit.start, end=passages[old].hit.end)
                      for old, new in order.items())
    return Answer(question=state.question, text=text, citations=citations, refused=False, sentences=sentences,
                  removed=removed, retrieved=retrieved, query=context.retrieval.query, answerer=answerer,
                  reason=draft.reason)


def shown_code(draft, sentence, passages) -> str:
    """The code block the draft shows after a kept sentence, if a passage the sentence cites holds it
    verbatim: a block is quoted, never written."""
    block = draft.code.get(sentence.text, "")
    body = code_body(block)
    return block if body.strip() and any(body in passages[n].hit.text for n in sentence.citations
                                         if n in passages) else ""


def segments(group) -> list[tuple[list, str]]:
    """A paragraph's or a list item's sentences as runs, each with the code block shown after it ("")."""
    out, run = [], []
    for s in group:
        run.append(s)
        if s.code:
            out.append((run, s.code))
            run = []
    return out + [(run, "")] if run else out


def blocks(sentences) -> list[tuple[bool, list[list]]]:
    """The answer's layout, shared by every face: (is_list, groups) in order, where a group is one
    list item's sentences, or all the sentences of one paragraph."""
    out: list[tuple[bool, list[list]]] = []
    last_item = None
    last_paragraph = None
    for s in sentences:
        # Prose drafted as two paragraphs (two passages, or a model's own breaks) stays two.
        if out and out[-1][0] == s.bullet and (s.bullet or s.paragraph == last_paragraph):
            if s.bullet and s.item != last_item:
                out[-1][1].append([s])
            else:
                out[-1][1][-1].append(s)
        else:
            out.append((s.bullet, [[s]]))
        last_item, last_paragraph = s.item, s.paragraph
    return out


def levels(groups) -> list[int]:
    """Each list item's nesting as shown: its own, but never more than one below the item before it
    (a sub-item quoted without its parent is shown at the top level)."""
    out: list[int] = []
    for group in groups:
        out.append(min(group[0].depth, out[-1] + 1 if out else 0))
    return out


def markdown(sentences) -> str:
    """Paragraphs, and list items one a line ("- item [n]"; a nested one indented), set off by blank lines."""
    def line(group, indent: str = "") -> str:
        # A code block sits in its paragraph's place; inside a list item, indented under it.
        parts = [p for run, code in segments(group)
                 for p in (" ".join(f"{s.text} {markers(s.citations)}" for s in run), code) if p]
        return f"\n\n{indent}".join(p.replace("\n", f"\n{indent}") for p in parts)

    return "\n\n".join("\n".join(f"{'  ' * d}- {line(g, '  ' * (d + 1))}" for g, d in zip(groups, levels(groups)))
                       if is_list
                       else line(groups[0])
                       for is_list, groups in blocks(sentences))


class AnswerChain:
    """The parts are plain attributes and each step a LangChain runnable (`self.steps`), so a caller
    can swap the retriever, the answerer or the verifier; `invoke` and `stream` run the same steps."""

    def __init__(self, retriever, embedder, answerer: Answerer, fallback: Answerer, *, history_turns: int = 3,
                 support_min_score: float = 0.5, profile: DomainProfile | None = None, min_relevance: float = 0.22,
                 rare_name_chunks: int = 5, supplement: float = 0.0, speller=None):
        from langchain_core.runnables import RunnableLambda

        self.retriever, self.embedder, self.answerer, self.fallback = retriever, embedder, answerer, fallback
        self.history_turns, self.support_min_score = history_turns, support_min_score
        self.profile = profile or DomainProfile()
        self.min_relevance = min_relevance
        # A name in at most this many chunks is specific: an answer whose passages omit it is about
        # something else ("Kubeflow's license" answered from Kubernetes passages).
        self.rare_name_chunks = rare_name_chunks
        # A model's answer is followed by the offline answer's points it leaves out (a point counts as
        # said when this share of its words is in the model's text); 0 turns it off.
        self.supplement = supplement
        # text -> text with its typing slips mended ("bash scirpts" -> "bash scripts"), or None to leave it be.
        self.speller = speller
        # condense | retrieve as runnables; drafting streams, so it runs inside `stream` below.
        self.steps = RunnableLambda(self.condense, name="condense") | RunnableLambda(self.retrieve, name="retrieve")

    def condense(self, state: ChainState) -> ChainState:
        history = list(state.history[-self.history_turns:]) if self.history_turns else []
        # "... drags on. What does the playbook suggest?" is searched for what the sentence before says.
        # So is an earlier turn's: its closing request would bring the corpus's own introduction back.
        # The question itself too: in a conversation as alone, "Which CI services does the playbook list?"
        # is searched without "the playbook" (a page saying "playbooks" would otherwise match it).
        plain = self._plain(state.question)
        query = self.answerer.condense(plain, [self._plain(h) for h in history]) if history else plain
        return replace(state, history=tuple(history), query=query or state.question)

    def _plain(self, question: str) -> str:
        """What a question asks of the corpus, without naming the corpus: "... What does the playbook
        suggest?" -> "...", "Which tools does the playbook recommend for X?" -> "Which tools does it recommend
        for X?" (DomainProfile)."""
        return self.profile.without_document_reference(self.profile.without_bare_request(question))

    def retrieve(self, state: ChainState) -> ChainState:
        if state.history and leans_on_history(state.question):
            return self._follow_up(state)
        context = self._context(state.question, state.query)
        if state.history and state.query != (plain := self._plain(state.question)):
            # Only its shortness made this a follow-up: "Who wrote the article?" after a question on
            # Kubernetes stands alone, "Challenges?" does not. The query whose passages match it better wins.
            alone = self._context(state.question, plain)
            if _best_similarity(alone) > _best_similarity(context):
                return replace(state, query=plain, context=alone)
        return replace(state, context=context)

    def _follow_up(self, state: ChainState) -> ChainState:
        """A follow-up goes on where the turn before it was answered (that turn searched with its own query: it
        may have been a follow-up too)."""
        turns = [self._plain(h) for h in state.history]
        earlier = turns[-1]
        found = self.retriever.retrieve(earlier, query=self.fallback.condense(earlier, turns[:-1])
                                        if len(turns) > 1 else earlier).hits
        if found and not any(names_in(turn, self.profile) for turn in turns):
            # The conversation named nothing ("We want to try a new version on real traffic. How?"): what it
            # is about is what answered the turn before, the document its best passage is from ("Shadow Testing").
            titled = f"{state.question} ({found[0].title})"
            return replace(state, query=titled, context=self._context(state.question, titled))
        context = self._context(state.question, state.query)
        # When the query built from the conversation's names finds none of the documents the turn before did,
        # that turn's other words are the subject (they always find more of them: they are that turn's words,
        # so only a query gone astray is replaced).
        query = with_earlier_words(state.question, earlier)
        if query != state.query and not _shared(context, before := [h.source for h in found[:3]]):
            other = self._context(state.question, query)
            if _shared(other, before):
                return replace(state, query=query, context=other)
        return replace(state, context=context)

    def _context(self, question: str, query: str) -> Context:
        retrieval = self.retriever.retrieve(question, query=query)
        # A follow-up's parts lean on the conversation ("Is there tooling for that, and where did the
        # best-known one come from?"): alone they find nothing of it, so only a question standing alone is split.
        # Standing alone, its query is the question without the corpus named ("does the playbook give" is "does
        # it give"): the question is split as asked (that "it" stands for no earlier part), each part then plain.
        alone = query in (question, self._plain(question))
        parts = [self._plain(p) for p in question_parts(question)] if alone else [question]
        part_vectors: tuple[np.ndarray, ...] = ()
        if len(parts) > 1 and retrieval.hits:
            # Each question asked brings its own best passage when the whole question's five lack it,
            # and its query vector: "Who proposed the format, and where do ADRs go?" is answered for
            # both questions, not only the one whose words dominate the whole (ExtractiveAnswerer.select).
            found = [self.retriever.retrieve(part, query=part, k=1) for part in parts]
            have = {h.id for h in retrieval.hits}
            extra = {hit.id: hit for r in found for hit in r.hits if hit.id not in have}
            retrieval = replace(retrieval, hits=retrieval.hits + tuple(extra.values()))
            part_vectors = tuple(np.asarray(r.query_vector, dtype=np.float32) for r in found)
        if _ABOUT_A_DOCUMENT.search(question) and retrieval.hits:
            # "Who wrote the piece on release trains?": the passages found are about release trains;
            # who wrote them is in their documents' front matter cards, which rarely rank themselves.
            have = {h.source for h in retrieval.hits if h.kind == "card"}
            sources = list(dict.fromkeys(h.source for h in retrieval.hits[:2] if h.source not in have))
            cards = self.retriever.store.cards_of(self.retriever.generation, sources)
            if cards:
                retrieval = replace(retrieval, hits=retrieval.hits + tuple(cards))
        if (kind := asked_kind(question)) and retrieval.hits:
            retrieval = self._with_subsections(retrieval, kind)
        elif asks_contents(question) and (named := named_document(question, retrieval.hits[:self.retriever.k])):
            # "What's in the PR template?": the document's sections, which a search for its title finds few of.
            retrieval = self._adding(retrieval, self.retriever.subsections(named[0], "")[:MAX_SECTIONS + 1])
        context = build_context(retrieval, self.retriever.store, self.retriever.generation, self.embedder.dimension)
        scene, asked = scene_and_ask(question) if alone else ("", "")
        if scene and context.passages:
            vectors = self.embedder.encode([self._plain(scene), self._plain(asked)])
            context = replace(context, scene=(np.asarray(vectors[0], dtype=np.float32),
                                              np.asarray(vectors[1], dtype=np.float32)))
            if _ASKS_METHOD.match(asked) and (after := self._after_restated(context)):
                # "Our blob storage tests fail since we enabled private endpoints. How do we keep them running?":
                # a page states that problem, then solves it ("## Utilize an Azure Storage Emulator"); the
                # solution's words match the question less than the problem's, so what follows is fetched.
                retrieval = self._adding(retrieval, after)
                context = replace(build_context(retrieval, self.retriever.store, self.retriever.generation,
                                                self.embedder.dimension), scene=context.scene)
        return replace(context, part_vectors=part_vectors, part_questions=tuple(parts)) if part_vectors else context

    def _with_subsections(self, retrieval, kind: str):
        """"Which linters should we run?": a retrieved section whose heading names the set asked for ("##
        Linters"), or whose parent's does, has its members as sub-sections ("### markdownlint", "###
        write-good"). The search finds some of them; the document's outline gives the rest (their first
        chunks, up to _MAX_SUBSECTIONS), so the answer lists the whole set."""
        asked = set(tokens(retrieval.query)) | {kind}
        for hit in retrieval.hits[:self.retriever.k]:
            for section in (hit.section, hit.section.rpartition(" > ")[0]):
                heading = set(tokens(section.rpartition(" > ")[2]))
                # "## Linters", "## Scanning Frameworks and Tools" name a set; "## Tools and Guidelines for
                # Successful Model Experimentation" heads a whole page of topics (words the question lacks).
                if not section or kind not in heading or len(heading - asked) > 1:
                    continue
                under = self.retriever.subsections(hit.source, section)
                if len(under) >= 2 and set(under[:_MAX_SUBSECTIONS]) - {h.id for h in retrieval.hits}:
                    return self._adding(retrieval, under[:_MAX_SUBSECTIONS])
        # "Which CI services ...?" over "## Tools" > "### Jenkins", "### TravisCI": a heading named by another
        # word heads the set when two of its sub-sections open by describing their member as of the kind
        # ("CircleCI is a free service ...").
        have = {h.id for h in retrieval.hits}
        for parent in dict.fromkeys((h.source, h.section.rpartition(" > ")[0]) for h in retrieval.hits[:2]):
            under = self.retriever.subsections(*parent)[:_MAX_SUBSECTIONS] if parent[1] else []
            if len(under) < 2 or not set(under) - have:
                continue
            members = self.retriever.lookup(under)  # read once: judged here, added as they are
            if sum(describes_as(m.section.rpartition(" > ")[2], m.text, kind) for m in members) >= 2:
                return replace(retrieval, hits=retrieval.hits + tuple(m for m in members if m.id not in have))
        return retrieval

    def _after_restated(self, context: Context) -> list[str]:
        """The chunks that follow, in their documents, the best two passages whose best unit restates the
        question's scene (context.restating)."""
        after = []
        for passage in context.passages[:2]:
            restates = restating(passage, context.scene, RESTATES_GAP)
            if restates is not None and len(passage.units) and restates[int(np.argmax(
                    passage.unit_vectors @ context.query_vector))] and (nxt := self.retriever.following(passage.hit.id)):
                after.append(nxt)
        return after

    def _adding(self, retrieval, ids: list[str]):
        """`retrieval` with the stored chunks of `ids` it lacks after its hits."""
        have = {h.id for h in retrieval.hits}
        missing = [cid for cid in ids if cid not in have]
        return replace(retrieval, hits=retrieval.hits + tuple(self.retriever.lookup(missing))) if missing else retrieval

    def check(self, state: ChainState, answerer: Answerer) -> Verified | None:
        draft = state.draft
        if draft.refused:
            return None
        return verify(draft.text, state.context, self.embedder.encode, self.support_min_score, draft.known_vectors,
                      answerer.secret(), self.profile)

    def answer_of(self, state: ChainState, answerer: Answerer, label: str, checked: Verified | None = None) -> Answer:
        """Check that what survives verification of one answerer's draft answers the question. `checked`:
        the draft already verified (see `supplemented`); verified here otherwise."""
        checked = checked or self.check(state, answerer)
        topics = nearest_topics(state.context, self.retriever.topics(), set(self.profile.generic_headings))
        answer = finalize(state, checked, topics, label)
        if checked and not answer.refused:
            related: dict[str, str] = {}
            for p in state.context.passages:
                if any(c.source == p.hit.source for c in answer.citations):
                    related[p.hit.source] = f"{related.get(p.hit.source, '')} {p.hit.section} {p.hit.text}"
            relevance = checked.relevance
            said = {s.text.strip() for s in answer.sentences}
            # Only a card's own sentence: "Tonye Harry" cut from it answers no "Which blog published it?".
            cards = {p.hit.source for p in state.context.passages if p.hit.kind == "card"
                     and any(c.id == p.hit.id for c in answer.citations) and said & set(p.units)}
            if cards and _ABOUT_A_DOCUMENT.search(state.question):
                # A card ("written by Ada Quill") is as relevant as its document's best passage: it is
                # about the document the question found, not about the question's topic.
                relevance = max([relevance] + [float((p.unit_vectors @ state.context.query_vector).max())
                                               for p in state.context.passages
                                               if p.hit.source in cards and p.hit.kind != "card" and len(p.units)])
            if gap := relevance_gap(state.question, answer, relevance, self.min_relevance, self.profile,
                                    is_rare=self.is_rare,
                                    related=related):
                answer = finalize(replace(state, draft=Draft(refused=True, reason=gap)), None, topics, label)
            answer = replace(answer, reattributed=checked.reattributed)
        return replace(answer, removed=checked.removed if checked else 0)

    def is_rare(self, term: str) -> bool:
        """A name in at most `rare_name_chunks` chunks; a compound ("JSON/YAML") only when each part is."""
        parts = [p for p in re.split(r"[/-]", term) if p] or [term]
        return all(self.retriever.chunks_with(p) <= self.rare_name_chunks for p in parts)

    def verify(self, state: ChainState) -> Answer:
        """Verify the draft; when a model refuses, writes nothing usable or nothing of it survives,
        the offline answerer answers instead (and the answer says so)."""
        checked = self.check(state, self.answerer)
        answer = self.answer_of(state, self.answerer, self.answerer.name, checked)
        if not answer.refused and self.answerer is not self.fallback and self.supplement:
            answer = self.supplemented(state, answer, checked)
        if answer.refused and self.answerer is not self.fallback:
            log.info("%s gave no usable answer to %r (%s); falling back", self.answerer.name, state.question,
                     answer.reason)
            fallback = replace(state, draft=_last(self.fallback.draft(state.question, state.context)))
            second = self.answer_of(fallback, self.fallback, f"{self.fallback.name}-fallback")
            answer = replace(second, removed=answer.removed,
                             reason=f"{self.answerer.name}: {answer.reason}" + (
                                 f"; {second.reason}" if second.refused else ""))
        if answer.refused:
            log.info("refused %r: %s", state.question, answer.reason)
        return answer

    def supplemented(self, state: ChainState, answer: Answer, checked: Verified) -> Answer:
        """A small model answers in a sentence or two and leaves out most of a list or an argument
        (fact recall 0.55 against the offline answerer's 0.67 on the holdout set). The offline answer's
        verified points that the model's text does not already say follow it, under its own citations;
        a model that said it all gets nothing added. The label says both answerers wrote it. `checked`:
        the model's draft as verified, reused rather than embedded again."""
        extra = _last(self.fallback.draft(state.question, state.context))
        offline = self.check(replace(state, draft=extra), self.fallback) if extra is not None else None
        if offline is None:
            return answer
        said = set(tokens(" ".join(s.text for s in answer.sentences)))

        def new(sentence) -> bool:
            words = set(tokens(sentence.text))
            return bool(words) and len(words & said) / len(words) < self.supplement

        missing = tuple(s for s in offline.sentences if s.supported and new(s))
        if not missing:
            return answer
        both = replace(checked, sentences=checked.sentences + missing,
                       relevance=max(checked.relevance, offline.relevance))
        combined = self.answer_of(state, self.answerer, f"{self.answerer.name}+{self.fallback.name}", both)
        return answer if combined.refused else combined

    def stream(self, question: str, history: list[str] | tuple[str, ...] = ()) -> Iterator[str | Answer]:
        """Text pieces as the answerer produces them, then the verified Answer (which may differ: the
        verifier removes what the sources do not support)."""
        if reply := smalltalk.small_talk(question, self.profile):
            yield reply
            yield Answer(question=question, text=reply, citations=(), refused=False, answerer=smalltalk.ANSWERER,
                         reason="small talk: answered without the documents")
            return
        asked = smalltalk.without_greeting(question)
        # A word no document uses is searched and read as the corpus word a slip away ("scirpts"); the answer
        # keeps the question as asked, and its query shows what was searched.
        spell = self.speller or (lambda text: text)
        state = self.steps.invoke(ChainState(question=spell(asked), history=tuple(spell(h) for h in history)))
        draft = None
        for piece in self.answerer.draft(state.question, state.context):
            if isinstance(piece, Draft):
                draft = piece
            else:
                yield piece
        if draft is None:
            raise RuntimeError(f"answerer {self.answerer.name!r} ended its stream without a Draft")
        yield replace(self.verify(replace(state, draft=draft)), question=asked)

    def invoke(self, question: str, history: list[str] | tuple[str, ...] = ()) -> Answer:
        return _last(self.stream(question, history))


# A set question gets at most this many sub-sections of the heading that names the set (see _with_subsections).
_MAX_SUBSECTIONS = 8
# A question about a document itself rather than its subject: who wrote or published it, and when.
_ABOUT_A_DOCUMENT = re.compile(r"\b(author\w*|wrote|written|publish\w*|dated?)\b", re.I)


def _shared(context: Context, sources: list[str]) -> int:
    """How many of its first three passages come from `sources` (documents an earlier turn was answered from)."""
    return sum(p.hit.source in sources for p in context.passages[:3])


def _best_similarity(context: Context) -> float:
    """How well the best sentence of the passages matches the query they were retrieved for."""
    return max((float((p.unit_vectors @ context.query_vector).max()) for p in context.passages if len(p.units)),
               default=0.0)


def _last(pieces):
    last = None
    for last in pieces:
        pass
    return last


def build_chain(settings, retriever, embedder, chat_model=None, profile: DomainProfile | None = None) -> AnswerChain:
    """The extractive answerer by default; a chat model when one is given or named in settings.llm."""
    from assistant.extractive import ExtractiveAnswerer

    profile = profile or DomainProfile()
    extractive = ExtractiveAnswerer(settings.max_answer_sentences, settings.refusal_min_similarity,
                                    vocabulary=retriever.vocabulary, profile=profile,
                                    history_turns=settings.history_turns, min_coverage=settings.refusal_min_coverage,
                                    coverage_min_vocabulary=settings.refusal_coverage_min_vocabulary)
    answerer = extractive
    if chat_model is None and settings.llm:
        from assistant.llm import load_chat_model

        chat_model = load_chat_model(settings.llm, settings.llm_temperature, settings.llm_threads,
                                     settings.llm_context, settings.llm_max_tokens)
    if chat_model is not None:
        from assistant.generative import GenerativeAnswerer

        answerer = GenerativeAnswerer(chat_model, settings.llm or type(chat_model).__name__,
                                      settings.llm_instructions, profile=profile)
    return AnswerChain(retriever, embedder, answerer, extractive, history_turns=settings.history_turns,
                       support_min_score=settings.support_min_score, profile=profile,
                       speller=getattr(retriever, "spelled", None) if settings.correct_spelling else None,
                       min_relevance=settings.refusal_min_similarity, supplement=settings.llm_supplement)
