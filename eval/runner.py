"""Eval runner: ask every question through the same Assistant the UI uses, score it, summarise."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

import numpy as np

from assistant.text import split_sentences
from assistant.context import Context, Passage
from assistant.domain import DomainProfile
from assistant.errors import UserError
from assistant.types import Hit, Retrieval
from assistant.verify import code_blocks, verify
from eval import metrics as m
from eval.questions import Question

SUMMARY_KEYS = ("fact_recall", "groundedness", "strict_groundedness", "citation_validity", "hit_at_k", "mrr")


def grounded(text: str, cited: dict[int, str], embedder, min_score: float,
             profile: DomainProfile | None = None) -> tuple[float | None, list[dict]]:
    """Re-check an answer with the answer path's verifier against the passages it cites."""
    passages = []
    for n, passage in cited.items():
        units = tuple(split_sentences(passage.replace("\n", " "))) or (passage,)
        hit = Hit(id=str(n), source="", title="", section="", text=passage)
        passages.append(Passage(n, hit, units, embedder.encode(list(units))))
    context = Context(Retrieval(question="", query="", hits=tuple(p.hit for p in passages)), tuple(passages),
                      np.zeros(1, np.float32))
    checked = verify(text, context, embedder.encode, min_score, profile=profile or DomainProfile())
    sentences = [{"text": s.text, "citations": list(s.citations), "supported": s.supported}
                 for s in checked.sentences]
    # A quoted code block is grounded when a cited passage holds it verbatim.
    checks = [s["supported"] for s in sentences] + [any(block in p for p in cited.values())
                                                    for block in code_blocks(text)]
    return (sum(checks) / len(checks) if checks else None), sentences


def score(q: Question, answer_text: str, refused: bool, cited: dict[int, str], cited_ids: dict[int, str],
          retrieved: Sequence[Hit], latency_ms: float, embedder, min_score: float,
          profile: DomainProfile | None = None) -> dict:
    groundedness, sentences = (None, []) if refused else grounded(answer_text, cited, embedder, min_score, profile)
    row = {"refused": refused, "latency_ms": round(latency_ms, 2), "groundedness": groundedness,
           "strict_groundedness": None if refused else m.strict_groundedness(sentences, cited, profile),
           "citation_validity": None if refused else m.citation_validity(answer_text, cited_ids,
                                                                          [h.id for h in retrieved]),
           "fact_recall": None, "context_fact_recall": None, "hit": None, "rr": None,
           "refusal_correct": refused if not q.answerable else None,
           "false_refusal": refused if q.answerable else None}
    row["non_answer_sentences"] = None if refused else m.non_answer_sentences(
        [s["text"] for s in sentences], profile or DomainProfile(), q.question)
    row["list_structure"] = m.list_structure(answer_text) if q.answer_format == "list" and not refused else None
    if q.answerable:
        row["fact_recall"] = 0.0 if refused else m.fact_recall(answer_text, q.expected_facts)
        # The ceiling of fact recall for this retrieval: the facts the passages handed over hold at all.
        row["context_fact_recall"] = m.fact_recall(" ".join(h.text for h in retrieved), q.expected_facts)
        if q.expected_sources or q.expected_facts:
            flags = [m.relevant(h.section, h.source, h.text, q.expected_sources, q.expected_facts)
                     for h in retrieved]
            row["hit"], row["rr"] = m.rank_metrics(flags)
    return row


def run_assistant(assistant, questions: Sequence[Question], progress: bool = True) -> list[dict]:
    from tqdm import tqdm

    rows = []
    for q in tqdm(questions, desc="eval", unit="q", disable=not progress, leave=False):
        started = time.perf_counter()
        try:
            answer = assistant.ask(q.question, history=list(q.history))
        except UserError as exc:  # the question itself is rejected (empty, too long): a refusal
            rows.append({"id": q.id, "question": q.question, "answer": str(exc), "error": str(exc),
                         "citations": [], "retrieved": [],
                         **score(q, "", True, {}, {}, [], (time.perf_counter() - started) * 1000,
                                 assistant.embedder, assistant.settings.support_min_score, assistant.profile)})
            continue
        latency = (time.perf_counter() - started) * 1000
        retrieved = assistant.retriever.lookup(answer.retrieved)
        # As the verifier reads a passage: its own heading is part of its text ("6. BugBug.io: BugBug is ...").
        cited = {c.n: f"{c.section.rpartition(' > ')[2]}\n{c.text}" for c in answer.citations}
        row = score(q, answer.text, answer.refused, cited, {c.n: c.id for c in answer.citations}, retrieved,
                    latency, assistant.embedder, assistant.settings.support_min_score, assistant.profile)
        rows.append({"id": q.id, "question": q.question, "history": list(q.history), "answerable": q.answerable,
                     "answer": answer.text, "removed": answer.removed, "query": answer.query,
                     "answerer": answer.answerer, "reason": answer.reason,
                     "citations": [{"n": c.n, "id": c.id, "source": c.source, "section": c.section,
                                    "text": c.text} for c in answer.citations],
                     "retrieved": [h.id for h in retrieved],
                     "retrieved_sections": [h.section for h in retrieved], **row})
    return rows


def run_baseline(pipeline, questions: Sequence[Question], embedder, min_score: float,
                 profile: DomainProfile | None = None) -> list[dict]:
    rows = []
    for q in questions:
        answer, latency = pipeline.ask(q.question, q.history)
        cited = {n: p.text for n, p in enumerate(answer.passages, 1)}
        hits = [Hit(id=p.id, source=p.source, title="", section=p.section, text=p.text) for p in answer.passages]
        row = score(q, answer.text, False, cited, {n: p.id for n, p in enumerate(answer.passages, 1)}, hits,
                    latency, embedder, min_score, profile)
        rows.append({"id": q.id, "question": q.question, "answer": answer.text, **row})
    return rows


def summarise(rows: Sequence[dict], k: int) -> dict:
    answerable = [r for r in rows if r["false_refusal"] is not None]
    unanswerable = [r for r in rows if r["refusal_correct"] is not None]
    values = {
        "fact_recall": [r["fact_recall"] for r in answerable],
        "context_fact_recall": [r.get("context_fact_recall") for r in answerable],
        "groundedness": [r["groundedness"] for r in rows],
        "strict_groundedness": [r["strict_groundedness"] for r in rows],
        "citation_validity": [r["citation_validity"] for r in rows],
        "hit_at_k": [r["hit"] for r in answerable],
        "mrr": [r["rr"] for r in answerable],
        "refusal_accuracy": [float(r["refusal_correct"]) for r in unanswerable],
        "false_refusal_rate": [float(r["false_refusal"]) for r in answerable],
    }
    latencies = [r["latency_ms"] for r in rows]
    summary = {"questions": len(rows), "answerable": len(answerable), "unanswerable": len(unanswerable), "k": k}
    summary.update({name: _round(m.mean(v)) for name, v in values.items()})
    summary["false_refusals"] = sum(bool(r["false_refusal"]) for r in answerable)
    summary["non_answer_sentences"] = sum(r.get("non_answer_sentences") or 0 for r in rows)
    # Which answerer produced each answer: with a chat model configured, how often its own text was
    # kept rather than the extractive fallback's (a run that always falls back is not a model run).
    answered = [r for r in rows if not r.get("refused") and r.get("answerer")]
    summary["answerers"] = dict(sorted(Counter(r["answerer"] for r in answered).items()))
    summary["model_answer_share"] = _round(sum(not r["answerer"].startswith("extractive") for r in answered)
                                           / len(answered)) if answered else None
    summary["list_structure"] = _round(m.mean([r.get("list_structure") for r in rows]))
    summary["latency_p50_ms"] = _round(m.percentile(latencies, 50), 1)
    summary["latency_p95_ms"] = _round(m.percentile(latencies, 95), 1)
    summary["ci95"] = {name: [_round(x) for x in ci] for name, v in values.items() if (ci := m.bootstrap_ci(v))}
    return summary


def _round(value, digits: int = 4):
    return None if value is None else round(value, digits)


def failing(row: dict) -> list[str]:
    """Why a question needs a look (empty when it is fine)."""
    reasons = []
    if row.get("false_refusal"):
        reasons.append("refused an answerable question")
    if row.get("refusal_correct") is False:
        reasons.append("answered an unanswerable question")
    if row.get("fact_recall") is not None and row["fact_recall"] < 1 and not row.get("false_refusal"):
        reasons.append(f"fact recall {row['fact_recall']:.2f}")
    if row.get("groundedness") is not None and row["groundedness"] < 1:
        reasons.append(f"groundedness {row['groundedness']:.2f}")
    if row.get("hit") == 0:
        reasons.append("no relevant passage retrieved")
    return reasons
