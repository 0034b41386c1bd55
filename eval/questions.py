"""Eval questions: read and validate the JSONL question format, naming the line of any bad entry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import UserError


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answerable: bool = True
    expected_facts: tuple[tuple[str, ...], ...] = ()
    expected_sources: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    answer_format: str = ""  # "list" when a list is the natural answer (scored by list_structure)


def _strings(value, what: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise UserError(f"{where}: {what} must be a list of non-empty strings")
    return tuple(value)


def parse_line(line: str, where: str) -> Question:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a JSON object")
    qid, question = data.get("id"), data.get("question")
    if not isinstance(qid, (str, int)) or not str(qid).strip():
        raise UserError(f"{where}: missing \"id\"")
    if not isinstance(question, str) or not question.strip():
        raise UserError(f"{where}: missing \"question\"")
    answerable = data.get("answerable", True)
    if not isinstance(answerable, bool):
        raise UserError(f"{where}: \"answerable\" must be true or false")
    facts = data.get("expected_facts", [])
    if not isinstance(facts, list):
        raise UserError(f"{where}: expected_facts must be a list of lists of strings")
    parsed_facts = tuple(_strings(f, "each expected fact", where) for f in facts)
    sources = _strings(data.get("expected_sources", []), "expected_sources", where) \
        if data.get("expected_sources") else ()
    history = _strings(data.get("history", []), "history", where) if data.get("history") else ()
    answer_format = data.get("answer_format", "")
    if answer_format not in ("", "list", "text"):
        raise UserError(f"{where}: \"answer_format\" must be \"list\" or \"text\"")
    return Question(str(qid), question.strip(), answerable, parsed_facts, sources, history, answer_format)


def load_questions(path: Path) -> list[Question]:
    if not path.is_file():
        raise UserError(f"no question file at {path}")
    questions, seen = [], set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        question = parse_line(line, f"{path.name} line {number}")
        if question.id in seen:
            raise UserError(f"{path.name} line {number}: duplicate id {question.id!r}")
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise UserError(f"{path} holds no questions")
    return questions
