"""Answerer interface: what every answerer (extractive, chat model, a team's own) gives the chain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from assistant.context import Context


@dataclass(frozen=True, kw_only=True)
class Draft:
    """An answerer's output before verification: text with [n] markers, or a refusal and why."""

    text: str = ""
    refused: bool = False
    reason: str = ""  # why it refused; logged, and shown in `ask --verbose` and eval results
    # Vectors of answer sentences the answerer already has (stored units): the verifier need not embed them.
    known_vectors: dict = field(default_factory=dict, compare=False, hash=False)
    # A code block (fenced) to show after an answer sentence, as its passage shows it after that sentence:
    # sentence text -> block. The chain keeps it only where the cited passage holds the block verbatim.
    code: dict = field(default_factory=dict, compare=False, hash=False)


@runtime_checkable
class Answerer(Protocol):
    """`name` says which answerer produced an answer (reported in `ask --json` and eval results)."""

    name: str

    def condense(self, question: str, history: list[str]) -> str:
        """A standalone retrieval query for a follow-up question, given earlier questions."""

    def draft(self, question: str, context: Context) -> Iterator[str | Draft]:
        """Text pieces as they are produced (none is fine), then exactly one Draft, last."""

    def secret(self) -> str:
        """Text that must never reach a user (its system prompt); "" when there is none."""

