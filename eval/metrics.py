"""Eval metrics: per-question scores and their aggregates with bootstrap confidence intervals."""

from __future__ import annotations

import random
from collections.abc import Sequence

from assistant.citations import cited_numbers
from assistant.grammar import asks_for_questions
from assistant.verify import strict_support


def fact_recall(answer_text: str, facts: Sequence[Sequence[str]]) -> float | None:
    """Share of expected facts with at least one acceptable string in the answer (case-insensitive)."""
    if not facts:
        return None
    low = answer_text.lower()
    return sum(any(alt.lower() in low for alt in fact) for fact in facts) / len(facts)


def section_matches(section: str, source: str, expected: str) -> bool:
    """An expected source names a section path (exactly, or an enclosing one) or a file."""
    exp = expected.strip().lower()
    sec = section.lower()
    return sec == exp or sec.startswith(exp + " > ") or exp in source.lower()


def relevant(passage_section: str, passage_source: str, passage_text: str, expected_sources, facts) -> bool:
    """Against expected_sources where given, else against the chunks that contain an expected fact."""
    if expected_sources:
        return any(section_matches(passage_section, passage_source, e) for e in expected_sources)
    low = passage_text.lower()
    return any(alt.lower() in low for fact in facts for alt in fact)


def rank_metrics(flags: Sequence[bool]) -> tuple[float, float]:
    """(hit@k, reciprocal rank) of the first relevant passage among the k retrieved."""
    for rank, flag in enumerate(flags, 1):
        if flag:
            return 1.0, 1.0 / rank
    return 0.0, 0.0


def citation_validity(answer_text: str, citation_ids: dict[int, str], retrieved: Sequence[str]) -> float | None:
    """Share of [n] markers that name a listed citation whose passage was actually retrieved."""
    numbers = cited_numbers(answer_text)
    if not numbers:
        return None
    given = set(retrieved)
    return sum(n in citation_ids and citation_ids[n] in given for n in numbers) / len(numbers)


def strict_groundedness(sentences, citation_texts: dict[int, str], profile=None) -> float | None:
    if not sentences:
        return None
    return sum(any(strict_support(s["text"], citation_texts.get(n, ""), profile) for n in s["citations"])
               for s in sentences) / len(sentences)


def non_answer_sentences(sentences: Sequence[str], profile, question: str = "") -> int:
    """Answer sentences a reader gains nothing from: questions (unless the question asks for questions
    or a checklist), pointers elsewhere ("See ...")."""
    count = 0
    questions_wanted = asks_for_questions(question)
    for s in sentences:
        text = s.strip()
        if (text.endswith("?") and not questions_wanted) or profile.pointer.search(text):
            count += 1
    return count


def list_structure(answer_text: str) -> float:
    """1.0 when the answer shows a Markdown list (two or more "- " lines), else 0.0."""
    return 1.0 if sum(line.startswith("- ") for line in answer_text.splitlines()) >= 2 else 0.0


def mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def bootstrap_ci(values: Sequence[float | None], rounds: int = 1000, seed: int = 7) -> tuple[float, float] | None:
    """95% percentile bootstrap interval of the mean; fixed seed, so runs are reproducible."""
    kept = [v for v in values if v is not None]
    if not kept:
        return None
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(kept, k=len(kept))) / len(kept) for _ in range(rounds))
    return means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]
