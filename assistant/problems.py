"""Problems (offline): a problem the question restates is answered by what its page says next."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.context import Context, restating
from assistant.domain import DomainProfile
from assistant.grammar import _ASKS_METHOD, scene_and_ask

if TYPE_CHECKING:
    from assistant.scoring import ExtractiveWeights


class Problems:
    """The rules of ExtractiveAnswerer for a restated problem, which it mixes in: "Our blob storage tests started
    failing once we turned on private endpoints. How do we keep them running?" best matches the page saying the
    problem back; the page solves it next, in words that match the question less."""

    w: ExtractiveWeights
    profile: DomainProfile

    def restated_problem(self, unit, context: Context, question: str) -> bool:
        """Is `unit` the user's problem said back ("Once private endpoints are enabled ..., the current tests
        will fail") for a question asking how to solve it ("Our tests started failing once we turned on
        private endpoints. How do we keep them running?")?"""
        _, asked = scene_and_ask(question)
        if not asked or not _ASKS_METHOD.match(asked):
            return False
        restates = restating(context.by_number()[unit[2]], context.scene, self.w.restates_gap)
        return restates is not None and bool(restates[unit[3]])

    def what_follows(self, start, take, by_unit, context: Context) -> None:
        """The units after `start` in its document, however they score: a page solves the problem it states
        next (a passage's last unit goes on in the passage holding the document's next chunk, when retrieved)."""
        passages = context.by_number()
        n, pos, taken = start[2], start[3], 0
        while taken < self.w.continuation:
            pos += 1
            if pos >= len(passages[n].units):
                later = _later_in_document(context, passages[n])
                if not later:
                    return
                n, pos = min(later, key=lambda p: p.hit.start).n, -1
                continue
            unit = by_unit.get((n, pos))
            if unit is None:
                continue  # a heading, a link or a pointer: no point of its own
            if self.profile.signpost.search(unit[4]):
                return
            taken += take(unit)


def solution_next(picked: list, problem, context: Context) -> list:
    """`picked`, led by a restated `problem`, with what its page says next (ExtractiveAnswerer.what_follows)
    right after the problem's passage, in the page's order, before other passages' points."""
    passages = context.by_number()
    later = {p.n for p in _later_in_document(context, passages[problem[2]])}
    own = [u for u in picked if u[2] == problem[2]]
    follows = sorted((u for u in picked if u[2] in later), key=lambda u: (passages[u[2]].hit.start, u[3]))
    return own + follows + [u for u in picked if u[2] != problem[2] and u[2] not in later]


def _later_in_document(context: Context, passage) -> list:
    """The retrieved passages of `passage`'s document that come after it in the page."""
    return [p for p in context.passages if p.hit.source == passage.hit.source and p.hit.start > passage.hit.start]
