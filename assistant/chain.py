"""Chain: condense -> retrieve -> context -> answer -> verify, as LangChain runnables."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from assistant.answering import Draft, ExtractiveAnswerer, expand_followup
from assistant.context import REFUSAL, Context, build_context
from assistant.text import tokens
from assistant.types import Answer, Citation
from assistant.verify import Verified, verify


def refusal_text(topics: list[str]) -> str:
    covered = "; ".join(topics[:8]) if topics else "the documents in the corpus"
    return (f"{REFUSAL} Try rephrasing your question. The sources cover: {covered}.")


def finalize(question: str, context: Context, draft: Draft, checked: Verified | None, topics: list[str],
             answerer: str) -> Answer:
    """Keep supported sentences, renumber citations 1..m in order of first use, or refuse."""
    retrieved = tuple(p.hit.id for p in context.passages)
    kept = [s for s in (checked.sentences if checked else ()) if s.supported]
    if draft.refused or not kept:
        return Answer(question, refusal_text(topics), (), True, (), checked.removed if checked else 0,
                      retrieved, context.retrieval.query, answerer)
    passages = context.by_number()
    order: dict[int, int] = {}
    for s in kept:
        for n in s.citations:
            order.setdefault(n, len(order) + 1)
    sentences = tuple(replace(s, citations=tuple(order[n] for n in s.citations)) for s in kept)
    text = " ".join(f"{s.text} " + "".join(f"[{n}]" for n in s.citations) for s in sentences)
    citations = tuple(Citation(new, passages[old].hit.id, passages[old].hit.source, passages[old].hit.title,
                               passages[old].hit.section, passages[old].hit.text, passages[old].hit.start,
                               passages[old].hit.end) for old, new in order.items())
    return Answer(question, text, citations, False, sentences, checked.removed, retrieved,
                  context.retrieval.query, answerer)


class AnswerChain:
    """The parts are plain attributes and each step is a LangChain runnable (`self.runnable`), so a
    caller can swap the retriever, the answerer or the verifier, or compose the steps differently."""

    def __init__(self, settings, retriever, embedder, answerer, fallback: ExtractiveAnswerer):
        from langchain_core.runnables import RunnableLambda

        self.settings, self.retriever, self.embedder = settings, retriever, embedder
        self.answerer, self.fallback = answerer, fallback
        self.runnable = (RunnableLambda(self.condense, name="condense")
                         | RunnableLambda(self.retrieve, name="retrieve")
                         | RunnableLambda(self.draft, name="answer")
                         | RunnableLambda(self.verify, name="verify"))

    def condense(self, inputs: dict) -> dict:
        question, history = inputs["question"], list(inputs.get("history") or [])
        history = history[-self.settings.history_turns:] if self.settings.history_turns else []
        query = question
        if history:
            condense = getattr(self.answerer, "condense", None)
            query = condense(question, history) if condense else expand_followup(
                question, history, self.settings.history_turns)
        return {"question": question, "history": history, "query": query}

    def retrieve(self, state: dict) -> dict:
        retrieval = self.retriever.retrieve(state["question"], query=state["query"])
        context = build_context(retrieval, self.retriever.store, self.retriever.generation,
                                self.embedder.dimension)
        return {**state, "context": context}

    def draft(self, state: dict) -> dict:
        return {**state, "draft": self.answerer.answer(state["question"], state["context"])}

    def secrets(self) -> frozenset[str]:
        """Words of the system prompt the corpus never uses: an answer containing one leaks the prompt."""
        system = getattr(self.answerer, "system", "")
        return frozenset(tokens(system)) - self.retriever.vocabulary() if system else frozenset()

    def verify(self, state: dict) -> Answer:
        question, context, draft = state["question"], state["context"], state["draft"]
        checked = None if draft.refused else verify(draft.text, context, self.embedder.encode,
                                                     self.settings.support_min_score, draft.known_vectors,
                                                     self.secrets())
        answer = finalize(question, context, draft, checked, self.retriever.topics(), self.answerer.name)
        if answer.refused and self.answerer is not self.fallback and not draft.refused:
            # Nothing the model wrote survived verification: fall back to the offline answer.
            fallback = self.fallback.answer(question, context)
            checked2 = None if fallback.refused else verify(fallback.text, context, self.embedder.encode,
                                                            self.settings.support_min_score, fallback.known_vectors)
            answer = finalize(question, context, fallback, checked2, self.retriever.topics(), "extractive-fallback")
            answer = replace(answer, removed=checked.removed if checked else 0)
        return answer

    def invoke(self, inputs: dict) -> Answer:
        return self.runnable.invoke(inputs)

    def stream_answer(self, inputs: dict) -> Iterator[str | Answer]:
        state = self.retrieve(self.condense(inputs))
        stream = getattr(self.answerer, "stream_text", None)
        if stream is None:
            answer = self.verify(self.draft(state))
            for s in answer.sentences:
                yield f"{s.text} " + "".join(f"[{n}]" for n in s.citations) + " "
            yield answer
            return
        pieces = []
        for piece in stream(state["question"], state["context"]):
            pieces.append(piece)
            yield piece
        yield self.verify({**state, "draft": self.answerer.to_draft("".join(pieces))})


def build_chain(settings, retriever, embedder, chat_model=None) -> AnswerChain:
    """The extractive answerer by default; a chat model when one is given or named in settings.llm."""
    extractive = ExtractiveAnswerer(settings.max_answer_sentences, settings.refusal_min_similarity,
                                    vocabulary=retriever.vocabulary)
    answerer = extractive
    if chat_model is None and settings.llm:
        from assistant.llm import load_chat_model

        chat_model = load_chat_model(settings.llm, settings.llm_temperature)
    if chat_model is not None:
        from assistant.llm import GenerativeAnswerer

        answerer = GenerativeAnswerer(chat_model, settings.llm or type(chat_model).__name__,
                                      settings.llm_instructions)
    return AnswerChain(settings, retriever, embedder, answerer, extractive)
