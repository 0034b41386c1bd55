"""Bench rerank: context fact recall of the k passages handed to the answerer, fused order against reranked.

For every answerable question of the three shipped sets: the share of its expected facts that occur
in the k retrieved passages (text or section path), with the rerank off (RRF order) and on.
Usage: python bench/rerank.py   (over the checkout's index; run `assistant index` first)
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import save, table  # noqa: E402

SETS = ("questions", "playbook", "holdout")


def context_recall(assistant, question: dict) -> float:
    from assistant.chain import ChainState

    state = assistant.chain.steps.invoke(ChainState(question=question["question"],
                                                    history=tuple(question.get("history", []))))
    text = " ".join(f"{h.section} {h.text}" for h in state.context.retrieval.hits).lower()
    facts = question["expected_facts"]
    return sum(any(alt.lower() in text for alt in fact) for fact in facts) / len(facts)


def main() -> int:
    from assistant.app import Assistant
    from assistant.config import PROJECT_ROOT, Settings

    assistant = Assistant.from_settings(Settings())
    retriever, on = assistant.retriever, assistant.retriever.rerank
    rows, payload = [], {"pool": on.pool, "weights": on.__dict__, "k": retriever.k}
    for name in SETS:
        questions = [q for line in (PROJECT_ROOT / "eval" / f"{name}.jsonl").read_text().splitlines()
                     if (q := json.loads(line)).get("answerable", True) and q.get("expected_facts")]
        figures = {}
        for label, weights in (("fused", replace(on, pool=0)), ("reranked", on)):
            retriever.rerank = weights
            figures[label] = round(sum(context_recall(assistant, q) for q in questions) / len(questions), 3)
        retriever.rerank = on
        payload[name] = {"questions": len(questions), **figures}
        rows.append((f"context fact recall@{retriever.k}, {name} ({len(questions)} q)",
                     f"{figures['fused']} -> {figures['reranked']}", "fused (RRF) -> reranked", "higher"))
    print(table(rows))
    print(f"\nwritten {save('rerank', payload)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
