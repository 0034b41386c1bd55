"""Lists (offline): which list answers a set question, whole, and which of its items come along."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from assistant.context import Context
from assistant.grammar import _ANAPHOR, _WHY, REASONS, _label_names, _title_like, describes_as, kind_modifiers
from assistant.text import tokens

if TYPE_CHECKING:
    from assistant.domain import DomainProfile
    from assistant.scoring import ExtractiveWeights


# A heading that numbers its section among like ones: "Example 1: T-shirt Sizes", "Option 2 - Helm".
_NUMBERED = re.compile(r"^(\w+(?:\s\w+)?\s+\d+)\s*[:.\-–]\s*(.+)$")


# A question naming three or more members of a set: "the major, minor or patch version", "logging, metrics
# and tracing".
_NAMES_MEMBERS = re.compile(r"\b([\w-]+),\s+([\w-]+),?\s+(?:([\w-]+),?\s+)?(?:and|or)\s+([\w-]+)\b", re.I)


def reasons_heading(heading: str) -> bool:
    """"Benefits", "Why use Loki", "Advantages": a section of reasons (for "Why would we want X?")."""
    return bool(_WHY.match(heading) or REASONS & set(tokens(heading)))


def conditions_heading(heading: str) -> bool:
    """"When to Swarm Program", "When to use it": a section of conditions (for "When is it worth ...?")."""
    return re.match(r"^\W*when\b", heading, re.I) is not None


def one_sided(listed, sides: tuple[frozenset[str], frozenset[str]]) -> bool:
    """The list's units never name one of the two things a question compares: "- Introduction", "- Getting
    started", "- Structure: folders, projects" list one side's parts ("the docs in each repo" against "the
    project's documentation") and say nothing of how they differ."""
    words = set().union(*(tokens(u[4]) for u in listed))
    return not all(side & words for side in sides)


class Lists:
    """The list rules of ExtractiveAnswerer, which mixes them in beside Composition (whose `sub_items`
    they use): the list the best match belongs to, the list whose heading names the set asked for,
    and the rest of a list the answer quotes two items of."""

    w: ExtractiveWeights
    profile: DomainProfile

    def list_answer(self, scored, context: Context, kind: str | None = None, why: bool = False) -> list:
        """When the best match is an item of a list, or the lead-in of one ("Some popular frameworks:"),
        the answer is that list: the lead-in, then each item's first sentence (the best few, in
        document order). `kind`: what a set question asks for (asked_kind; None: no set question).
        Returns [] when the best match is not part of a list."""
        wants_list = kind is not None
        if not scored:
            return []
        scored = self.kind_led_first(scored, context, kind)
        _, _, n, pos, _ = scored[0]
        passage = next(p for p in context.passages if p.n == n)
        items, depth = passage.items, passage.depths
        is_item = lambda i: 0 <= i < len(items) and items[i] >= 0  # noqa: E731
        lead_in_matched = not is_item(pos)
        if lead_in_matched:
            if not (passage.units[pos].rstrip().endswith(":") and is_item(pos + 1)):
                return []
            pos += 1
        # The list is the matched item's siblings: a sub-list ("  - Hot Site") ends at its parent's level.
        # But a sub-item matched for a set that the outer list's lead-in names ("You should at least add
        # the following details to the bug items:" over "- Priority:" over "  - 1: Product should not
        # ship ...") answers with the outer list.
        if kind and depth[pos] > 0:
            top = pos
            while is_item(top - 1):
                top -= 1
            if top > 0 and kind in tokens(passage.units[top - 1]) and passage.units[top - 1].rstrip().endswith(":"):
                pos = top
        level, (start, end) = depth[pos], _list_bounds(items, depth, pos)
        by_pos = {(item[2], item[3]): item for item in scored}
        members = _item_firsts(passage, start, end, level, by_pos)
        # A list the chunker split goes on in the section's next chunk, or began in the one before (with its
        # lead-in), when that chunk was retrieved too; each item is cited to its own chunk.
        earlier, earlier_lead = [], None
        if end == len(items) - 1 and (after := _neighbour(passage, context, after=True)):
            members += _item_firsts(after, 0, _run_end(after.items, 0), level, by_pos)
        if start == 0 and (before := _neighbour(passage, context, after=False)):
            run = _run_start(before.items, len(before.items) - 1)
            earlier = _item_firsts(before, run, len(before.items) - 1, level, by_pos)
            if run > 0 and before.units[run - 1].rstrip().endswith(":"):
                earlier_lead = by_pos.get((before.n, run - 1))
        members = earlier + members
        if len(members) < 2:
            return []
        if not wants_list and all(len(tokens(m[4])) < 3 or _title_like(m[4]) for m in members):
            return []  # bare labels ("Blue vs. Green", "Canary vs. Shadow") answer only a set question
        # The question wants the list when it matched the lead-in, or when several items match about
        # equally well; one item far ahead of the rest answers a question about that item only.
        best_of_item: dict[int, float] = {}
        for score, _, m, i, _ in scored:
            if m == n and start <= i <= end:
                best_of_item[items[i]] = max(best_of_item.get(items[i], score), score)
        close = sum(score >= scored[0][0] - self.w.margin for score in best_of_item.values())
        close += sum(m[0] >= scored[0][0] - self.w.margin for m in members if m[2] != n)  # its other chunk's
        # A question asking for a set ("Which tools ...") needs less agreement than one that does not.
        # A section that is itself the answer's heading ("## Why" for "Why should alerts be managed as
        # code?"): its list is the set of reasons, however differently each one is worded.
        answers_heading = why and reasons_heading(passage.hit.section.split(" > ")[-1])
        if not lead_in_matched and not answers_heading and close < self.w.list_min_matching - wants_list:
            return []
        if len(members) > self.w.max_list_items:
            keep = {(m[2], m[3]) for m in sorted(members, key=lambda m: -m[0])[:self.w.max_list_items]}
            members = [m for m in members if (m[2], m[3]) in keep]
        # An item's later sentence that matches as well as the best ("Data can be unstructured ..." for
        # "Why is the data part hard?") follows its first, on the same line.
        firsts_of = {items[m[3]]: m[3] for m in members if m[2] == n}  # item number -> its first sentence's position
        # The best item's own next sentence that leans on it ("Contoso adopted the platform ..." then
        # "This enabled them to ...") is the rest of that statement: it says what the item did.
        best_item = items[scored[0][3]] if not lead_in_matched else -1
        detail: dict[int, list] = {}  # item number -> its later sentences that come with its first
        for score, _, m, i, text in scored:  # best first: each item keeps its best later sentence
            if m != n or not start <= i <= end:
                continue
            follows = items[i] == best_item and i == firsts_of.get(items[i], -9) + 1 and _ANAPHOR.match(text)
            if firsts_of.get(items[i], i) != i and (follows or score >= scored[0][0] - self.w.margin):
                detail.setdefault(items[i], [by_pos[n, i]])
        # The best item's sentences run in order: its detail up to three sentences on brings those between.
        if best_item in detail and detail[best_item][0][3] - firsts_of[best_item] <= 3:
            first, last = firsts_of[best_item], detail[best_item][0][3]
            detail[best_item] = [by_pos[n, i] for i in range(first + 1, last + 1) if (n, i) in by_pos]
        members = [u for m in members for u in [m, *(detail.get(items[m[3]], []) if m[2] == n else [])]]
        of = {p.n: p for p in context.passages}
        members = [u for m in members for u in [m, *self.sub_items(m, of[m[2]].items, of[m[2]].depths, by_pos)]]
        members = list({(u[2], u[3]): u for u in members}.values())  # a sub-list's lead may be a detail too
        # The lead-in, unless it was left out as a non-answer ("Resources:") or an injection.
        lead = by_pos.get((n, start - 1)) if start > 0 and passage.units[start - 1].rstrip().endswith(":") else earlier_lead
        return ([lead] if lead else []) + members + self.more_of_the_set(lead, passage, end, by_pos, kind)

    def list_naming_all(self, question: str, scored, context: Context) -> list:
        """A question naming the members it asks about ("bumps the major, minor or patch version?") is
        answered by the list whose items name them all ("Major version when ...", "Minor version when ...",
        "Patch version when ..."), not by a list naming some ("Major Version", "Minor Version", "Build /
        Revision"): when the best match's list does not name them all and another list's item scores within
        `margin` of the best, that item goes first. `scored` is returned reordered, or as it was."""
        named = [set(tokens(g)) for m in _NAMES_MEMBERS.finditer(question) for g in m.groups() if g]
        named = [t for t in named if t]
        if len(named) < 3 or not scored:
            return scored
        of = {p.n: p for p in context.passages}

        def names_all(n: int, pos: int) -> bool:
            items = of[n].items
            if pos >= len(items) or items[pos] < 0:
                return False
            start, end = _list_bounds(items, of[n].depths, pos)
            words = set(tokens(" ".join(of[n].units[start:end + 1])))
            return all(t & words for t in named)

        top = scored[0]
        if names_all(top[2], top[3] + 1 if top[4].rstrip().endswith(":") else top[3]):
            return scored  # the best match's list (or the list its lead-in introduces) names them all
        for unit in scored[1:]:
            if unit[0] < top[0] - self.w.margin:
                break
            if names_all(unit[2], unit[3]):
                return [unit, *(u for u in scored if u is not unit)]
        return scored

    def more_of_the_set(self, lead, passage, end: int, by_pos, kind: str | None) -> list:
        """The prose sentence right after a list that adds to its set ("Some of the key challenges of release
        trains include:" ... then "Other challenges include the need for specialized skills ..."): it opens
        on other/additional/further/more and names what the lead-in names, or the kind of thing asked for.
        When it is a lead-in itself ("Recipes and Scenarios:" ... then "Additional Tools:"), its list comes
        with it: the set goes on there. [that sentence, its items] or []."""
        items = passage.items
        if lead is None or end + 1 >= len(items) or items[end + 1] >= 0:
            return []
        # A short lead-in ("Additional Tools:") is no answer alone, so it was not scored; here it heads its list.
        after = by_pos.get((passage.n, end + 1)) or (lead[0], lead[1], passage.n, end + 1, passage.units[end + 1])
        opening = re.match(r"(?:other|additional|further|more)\s+(\w+)", after[4].strip(), re.I)
        if not opening or not set(tokens(opening.group(1))) & (set(tokens(lead[4])) | ({kind} if kind else set())):
            return []
        if not after[4].rstrip().endswith(":"):
            return [after]
        if end + 2 >= len(items) or items[end + 2] < 0:
            return []  # a lead-in whose items are not here would dangle
        start, last = _list_bounds(items, passage.depths, end + 2)
        more = _item_firsts(passage, start, last, passage.depths[end + 2], by_pos)[:self.w.max_list_items]
        return [after, *more] if more else []

    def kind_led_first(self, scored, context: Context, kind: str | None) -> list:
        """`scored`, led by the lead-in of a list that names the set asked for and another word of the question
        ("Based on your capacity, you now have the options:" for "The team capacity doesn't fit the scope.
        What options do we have?"), at its item's score, when one of its items ties (within `kind_tie`) with a
        best unit whose own list's lead-in does not name it: of two lists matching alike, the one saying it is
        that set answers, as if its lead-in had matched."""
        if not kind:
            return scored
        passages = {p.n: p for p in context.passages}
        by_pos = {(u[2], u[3]): u for u in scored}

        def lead_naming_kind(unit) -> int | None:
            p, pos = passages[unit[2]], unit[3]
            if not (0 <= pos < len(p.items)) or p.items[pos] < 0:
                return None
            start = pos
            while start > 0 and p.items[start - 1] >= 0:
                start -= 1
            lead = start - 1
            named = lead >= 0 and p.units[lead].rstrip().endswith(":") and kind in tokens(p.units[lead])
            return lead if named and (unit[2], lead) in by_pos else None

        if lead_naming_kind(scored[0]) is not None:
            return scored
        # The other list's lead-in also names one more of the question's words: "Some other tools may be:"
        # names tools, but no tools for what.
        for unit in scored[1:]:
            if unit[0] < scored[0][0] - self.w.kind_tie:
                break
            if (lead := lead_naming_kind(unit)) is not None \
                    and (set(tokens(context.retrieval.query)) - {kind}) & set(tokens(by_pos[unit[2], lead][4])):
                first = (unit[0], unit[1], unit[2], lead, by_pos[unit[2], lead][4])
                return [first, *(u for u in scored if (u[2], u[3]) != (unit[2], lead))]
        return scored

    def named_list(self, scored, context: Context, kind: str | None, heading_answers=None) -> list:
        """A set question ("Which dependency and container scanning tools ...?") is answered by the list
        whose heading names that set ("Dependency and Container Scanning Frameworks and Tools"): the kind
        asked for and two more of the question's words. Its top-level items (first sentences, in document
        order) with its lead-in, when its best item scores within `named_list` of the best unit; else [].
        Without a kind, `heading_answers` (reasons_heading, conditions_heading) says which heading holds the
        answer to a why- or when-question: a "Benefits" or "When to Swarm" list in a document whose title or
        section shares one of the question's words (the heading itself is the evidence of the set)."""
        if not (kind or heading_answers) or not scored:
            return []
        terms = set(tokens(context.retrieval.query)) - {kind}
        narrowing = kind_modifiers(context.retrieval.query, kind) if kind else set()
        by_pos = {(s[2], s[3]): s for s in scored}
        found = []
        for p in context.passages:
            heading = set(tokens(p.hit.section.split(" > ")[-1]))
            if kind:
                shared = len(terms & heading)
                named = kind in heading
            else:
                shared = len(terms & (set(tokens(p.hit.section)) | set(tokens(p.hit.title))))
                named = heading_answers(p.hit.section.split(" > ")[-1])
            # ... unless the heading is all the question's words ("Guidelines for the Reviewer" for "What
            # guidelines should a reviewer follow ...?"): nothing in it names another set.
            # ("Scanning Tools" is not all of "Which dependency scanning tools": the words narrowing the set).
            whole = bool(kind) and named and heading - {kind} and heading - {kind} <= terms \
                and narrowing <= heading
            if not named or (shared < (2 if kind else 1) and not whole):
                continue  # one shared word ("pipeline", "smoke") names a neighbouring set as often
            firsts = [i for i, item in enumerate(p.items) if item >= 0 and (i == 0 or p.items[i - 1] != item)
                      and p.depths[i] == 0 and (p.n, i) in by_pos]
            best = max((by_pos[p.n, i][0] for i, item in enumerate(p.items) if item >= 0 and (p.n, i) in by_pos),
                       default=float("-inf"))
            if len(firsts) >= 2:
                found.append((shared, best, p, firsts))
        if not found:
            return []
        _, best, passage, firsts = max(found, key=lambda f: (f[0], f[1]))
        if best < scored[0][0] - self.w.named_list or passage.n == scored[0][2]:
            return []  # too far behind, or the best unit's own list (list_answer quotes it, details too)
        return self._quoted_list(passage, firsts, by_pos)

    def _quoted_list(self, passage, firsts: list[int], by_pos) -> list:
        """A list as an answer quotes it: its lead-in (when the unit before its first item is one), then each
        top-level item's first sentence (`firsts`, up to max_list_items) with its sub-items."""
        n = passage.n
        members = [u for i in firsts[:self.w.max_list_items]
                   for u in [by_pos[n, i], *self.sub_items(by_pos[n, i], passage.items, passage.depths, by_pos)]]
        lead = by_pos.get((n, firsts[0] - 1)) if firsts[0] > 0 and passage.items[firsts[0] - 1] < 0 \
            and passage.units[firsts[0] - 1].rstrip().endswith(":") else None
        return ([lead] if lead else []) + members

    def steps_list(self, scored, context: Context) -> list:
        """"How do we run a chaos experiment against production safely?" asks for a way to do something, which a
        page gives as steps: the list whose lead-in says it holds steps and names two more of the question's
        words ("The following high-level steps provide a sample of practicing fault injection and chaos
        engineering:"), when one of its items scores within `named_list` of the best unit; else []."""
        if not scored:
            return []
        terms = set(tokens(context.retrieval.query)) - {"step"}
        by_pos = {(s[2], s[3]): s for s in scored}
        found = []
        for p in context.passages:
            for lead, unit in enumerate(p.units[:-1]):
                words = set(tokens(unit))
                if not (unit.rstrip().endswith(":") and p.items[lead] < 0 and p.items[lead + 1] >= 0
                        and "step" in words and len(terms & words) >= 2 and (p.n, lead) in by_pos):
                    continue
                starts, end = _firsts_of_run(p.items, lead + 1)
                firsts = [i for i in starts if p.depths[i] == 0 and (p.n, i) in by_pos]
                best = max((by_pos[p.n, i][0] for i in range(lead + 1, end) if (p.n, i) in by_pos),
                           default=float("-inf"))
                if len(firsts) >= 2 and best >= scored[0][0] - self.w.named_list:
                    found.append((len(terms & words), best, p, firsts))
        if not found:
            return []
        _, _, passage, firsts = max(found, key=lambda f: (f[0], f[1]))
        return self._quoted_list(passage, firsts, by_pos)

    def sibling_sections(self, scored, context: Context, kind: str | None) -> list[tuple[str, list]]:
        """A set question answered by sibling sections ("Tools" > "Accessibility Insights", "Accessibility
        Linter"; "Estimation" > "Example 1: T-shirt Sizes", "Example 2: ..."): each section is a member,
        named by its heading. They answer when two or more of them are among the passages, the best unit
        is in one of them (or in their parent's own text), and their parent's heading names the kind
        asked for, or the question names it and the headings share a numbered label ("Example 1:"):
        those are the members, and the rest of their siblings ("Other Considerations") is not.
        Returns (name, units) per member, in document order (each member's first unit naming it, else
        its first, then its best if that is another); else []."""
        if not kind or not scored:
            return []
        words = set(tokens(context.retrieval.query)) | {kind}
        best_n = scored[0][2]
        groups: dict[tuple[str, str], dict[str, object]] = {}
        for p in context.passages:
            parent, _, leaf = p.hit.section.rpartition(" > ")
            if parent and not self.profile.is_reference_section(leaf):
                groups.setdefault((p.hit.source, parent), {}).setdefault(leaf, p)
        best_section = next(p.hit.section for p in context.passages if p.n == best_n)
        by_pos = {(s[2], s[3]): s for s in scored}
        # A parent whose own text lists its members ("There are several categories: - Load Testing, ...")
        # names them all, where only some of its sections may have been retrieved.
        listing = {p.hit.section for p in context.passages if len({i for i in p.items if i >= 0}) >= 2}
        for (_, parent), siblings in groups.items():
            if len(siblings) < 2 or parent in listing or (best_n not in {p.n for p in siblings.values()}
                                                          and best_section != parent):
                continue
            numbered = {leaf: m.group(2).strip() for leaf in siblings if (m := _NUMBERED.match(leaf))}
            parent_words = set(tokens(parent.rpartition(" > ")[2]))
            # "## Tools" names the set; "## Ledger" > "Use cases", "Benefits" are facets of a subject the
            # question names, so a parent the question names counts only over numbered siblings.
            if len(numbered) >= 2 and parent_words and parent_words <= words:
                siblings = {leaf: p for leaf, p in siblings.items() if leaf in numbered}
            elif kind not in parent_words and sum(describes_as(leaf, p.hit.text, kind) for leaf, p in siblings.items()) < 2:
                continue  # the set neither named by the heading nor by its members ("CircleCI is a free service")
            members = []
            for leaf, p in sorted(siblings.items(), key=lambda pair: pair[1].hit.start):
                quotable = [by_pos[p.n, i] for i in range(len(p.units)) if (p.n, i) in by_pos]
                if not quotable:
                    continue
                # Its first unit that names it ("... the axe Accessibility Linter for VS Code"), else its first.
                name = numbered.get(leaf, leaf)
                first = next((u for u in quotable if set(tokens(name)) <= set(tokens(u[4]))), quotable[0])
                best = max(quotable, key=lambda u: u[0])
                units = [first] + ([best] if best is not first and best[0] >= scored[0][0] - self.w.margin else [])
                members.append((name, sorted(units, key=lambda u: u[3])))
            if len(members) >= 2:
                return members[:self.w.max_list_items]
        return []

    def whole_lists(self, picked, by_unit, items, named: set[int]) -> None:
        """A set question whose answer quotes two or more items of one list under a heading naming the
        set ("Which chaos engineering tools ...": "Frameworks and Tools > Chaos", then "- Azure Chaos
        Studio ...", "- Chaos toolkit ..."): the list is the set asked for, so each of its items comes
        (its first sentence), up to `max_list_items`. `named`: the passages whose heading names it."""
        runs: dict[tuple[int, int], set[int]] = {}
        for _, _, n, pos, _ in picked:
            if pos < len(items[n]) and items[n][pos] >= 0:
                runs.setdefault((n, _run_start(items[n], pos)), set()).add(items[n][pos])
        for (n, start), quoted in runs.items():
            if len(quoted) < 2 or n not in named:
                continue
            firsts, _ = _firsts_of_run(items[n], start)
            missing = [p for p in firsts if items[n][p] not in quoted and (n, p) in by_unit]
            for p in missing[:max(0, self.w.max_list_items - len(quoted))]:
                picked.append(by_unit[n, p])

    def kind_led_list(self, picked, by_unit, items, kind: str) -> None:
        """A set question whose answer quotes an item of a list whose lead-in names the set ("Observability
        serves the following goals:" for "Which goals does observability serve?"): the lead-in says what
        the list is, so one quoted item is enough to bring the lead-in and the rest (their first
        sentences, up to `max_list_items`). whole_lists needs two items, its evidence being a heading."""
        for _, _, n, pos, _ in list(picked):
            if pos >= len(items[n]) or items[n][pos] < 0:
                continue
            start = _run_start(items[n], pos)
            lead = by_unit.get((n, start - 1))
            if lead is None or not lead[4].rstrip().endswith(":") or kind not in tokens(lead[4]):
                continue
            have = {(u[2], u[3]) for u in picked}
            firsts, end = _firsts_of_run(items[n], start)
            quoted = {items[n][p] for p in range(start, end) if (n, p) in have}
            missing = [by_unit[n, p] for p in firsts if items[n][p] not in quoted and (n, p) in by_unit]
            picked += ([lead] if (n, start - 1) not in have else []) + \
                missing[:max(0, self.w.max_list_items - len(quoted))]
            return

    @staticmethod
    def labelled_set(picked, by_unit, items, depths, kind: str) -> None:
        """A set question whose answer quotes an item labelled as one of the set ("Hot Site: Maintain ..."
        for "What kinds of failover sites ...?"): its siblings labelled the same way ("Cold Site: ...",
        "Warm Site: ...") are the rest of the set. They take its place, after the item they are the
        sub-list of ("Failover and Redundancy:"), so the nesting reads right."""
        for unit in list(picked):
            _, _, n, pos, text = unit
            if items[n][pos] < 0 or not _label_names(text, kind):
                continue
            depth, level = depths[n], depths[n][pos]
            start, end = pos, pos
            while start > 0 and items[n][start - 1] >= 0 and depth[start - 1] >= level:
                start -= 1
            while end + 1 < len(items[n]) and items[n][end + 1] >= 0 and depth[end + 1] >= level:
                end += 1
            members = [by_unit[n, i] for i in range(start, end + 1)
                       if depth[i] == level and (i == start or items[n][i] != items[n][i - 1])
                       and (n, i) in by_unit and _label_names(by_unit[n, i][4], kind)]
            if len(members) < 2:
                continue
            parent = start - 1 if level > 0 and start > 0 and items[n][start - 1] >= 0 else -1
            block = ([by_unit[n, parent]] if (n, parent) in by_unit else []) + members
            keys = {(u[2], u[3]) for u in block}
            at = sum((p[2], p[3]) not in keys for p in picked[:picked.index(unit)])
            picked[:] = [p for p in picked if (p[2], p[3]) not in keys]
            picked[at:at] = block
            return


def _list_bounds(items, depths, pos: int) -> tuple[int, int]:
    """The first and last position of the list that the item at `pos` belongs to: its siblings and their
    sub-items (a sub-list, "  - Hot Site", ends at its parent's level)."""
    start = end = pos
    while start > 0 and items[start - 1] >= 0 and depths[start - 1] >= depths[pos]:
        start -= 1
    while end + 1 < len(items) and items[end + 1] >= 0 and depths[end + 1] >= depths[pos]:
        end += 1
    return start, end


def _run_start(items, pos: int) -> int:
    """The first position of the run of list units that `pos` is in."""
    while pos > 0 and items[pos - 1] >= 0:
        pos -= 1
    return pos


def _firsts_of_run(items, start: int) -> tuple[list[int], int]:
    """The first position of each item in the run of list units from `start`, and where the run ends."""
    end, firsts = start, []
    while end < len(items) and items[end] >= 0:
        if end == start or items[end] != items[end - 1]:
            firsts.append(end)
        end += 1
    return firsts, end


def _run_end(items, pos: int) -> int:
    """The last position of the run of list units that starts at `pos`."""
    while pos + 1 < len(items) and items[pos + 1] >= 0:
        pos += 1
    return pos


def _item_firsts(passage, start: int, end: int, level: int, by_pos) -> list:
    """The first sentence of each item at `level` between `start` and `end` of a passage, quotable ones."""
    items, depths = passage.items, passage.depths
    return [by_pos[passage.n, i] for i in range(start, end + 1) if 0 <= items[i] and depths[i] == level
            and (i == start or items[i] != items[i - 1]) and (passage.n, i) in by_pos]


def _neighbour(passage, context: Context, after: bool):
    """The retrieved chunk right after (or before) this one in its section, when a list runs across the
    cut ("Things to Avoid": "- Sleeps", "- Reading from disk" here, "- Calling third-party APIs" there):
    it opens (ends) with a list item. None when there is no such chunk."""
    hit = passage.hit
    for p in context.passages:
        gap = p.hit.start - hit.end if after else hit.start - p.hit.end
        if p.hit.source == hit.source and p.hit.section == hit.section and 0 <= gap <= 2 and p.items \
                and p.items[0 if after else -1] >= 0:
            return p
    return None
