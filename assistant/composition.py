"""Compose (offline): quote the picked units as the source has them, a list as a list, a paragraph as one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.answerer import Draft
from assistant.context import Context
from assistant.domain import DomainProfile
from assistant.grammar import _NAMES, _PRONOUN, _WHY, _introduces_list, _title_like
from assistant.text import key_terms, tokens


def _label_names(unit: str, kind: str) -> bool:
    """An item whose label ("Hot Site: ...", at most four words before ": ") names the kind asked for."""
    label, colon, _ = unit.partition(": ")
    return bool(kind and colon) and len(label.split()) <= 4 and kind in tokens(label)

if TYPE_CHECKING:
    from assistant.scoring import ExtractiveWeights


class Composition:
    """The list and paragraph rules of ExtractiveAnswerer, which mixes them in: what comes with a picked
    unit (its list, its paragraph, the sentence it leans on) and how the picks become the answer's text."""

    w: ExtractiveWeights
    profile: DomainProfile
    min_similarity: float

    def list_answer(self, scored, context: Context, wants_list: bool = False, why: bool = False) -> list:
        """When the best match is an item of a list, or the lead-in of one ("Some popular frameworks:"),
        the answer is that list: the lead-in, then each item's first sentence (the best few, in
        document order). Returns [] when the best match is not part of a list."""
        if not scored:
            return []
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
        level, start, end = depth[pos], pos, pos
        while is_item(start - 1) and depth[start - 1] >= level:
            start -= 1
        while is_item(end + 1) and depth[end + 1] >= level:
            end += 1
        by_pos = {(item[2], item[3]): item for item in scored}
        firsts = [i for i in range(start, end + 1)
                  if depth[i] == level and (i == start or items[i] != items[i - 1])]
        members = [by_pos[n, i] for i in firsts if (n, i) in by_pos]
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
        # A question asking for a set ("Which tools ...") needs less agreement than one that does not.
        # A section that is itself the answer's heading ("## Why" for "Why should alerts be managed as
        # code?"): its list is the set of reasons, however differently each one is worded.
        answers_heading = why and bool(_WHY.match(passage.hit.section.split(" > ")[-1]))
        if not lead_in_matched and not answers_heading and close < self.w.list_min_matching - wants_list:
            return []
        if len(members) > self.w.max_list_items:
            keep = {m[3] for m in sorted(members, key=lambda m: -m[0])[:self.w.max_list_items]}
            members = [m for m in members if m[3] in keep]
        # An item's later sentence that matches as well as the best ("Data can be unstructured ..." for
        # "Why is the data part hard?") follows its first, on the same line.
        firsts_of = {items[m[3]]: m[3] for m in members}  # item number -> position of its first sentence
        detail = {}
        for score, _, m, i, _ in scored:  # best first: each item keeps its best later sentence
            if m == n and start <= i <= end and firsts_of.get(items[i], i) != i \
                    and score >= scored[0][0] - self.w.margin:
                detail.setdefault(items[i], by_pos[n, i])
        members = [u for m in members for u in [m, detail.get(items[m[3]])] if u]
        members = [u for m in members for u in [m, *self.sub_items(m, items, depth, by_pos)]]
        members = list({(u[2], u[3]): u for u in members}.values())  # a sub-list's lead may be a detail too
        # The lead-in, unless it was left out as a non-answer ("Resources:") or an injection.
        lead = by_pos.get((n, start - 1)) if start > 0 and passage.units[start - 1].rstrip().endswith(":") else None
        return ([lead] if lead else []) + members
    def named_list(self, scored, context: Context, kind: str | None) -> list:
        """A set question ("Which dependency and container scanning tools ...?") is answered by the list
        whose heading names that set ("Dependency and Container Scanning Frameworks and Tools"): the kind
        asked for and two more of the question's words. Its top-level items (first sentences, in document
        order) with its lead-in, when its best item scores within `named_list` of the best unit; else []."""
        if not kind or not scored:
            return []
        terms = set(tokens(context.retrieval.query)) - {kind}
        by_pos = {(s[2], s[3]): s for s in scored}
        found = []
        for p in context.passages:
            heading = set(tokens(p.hit.section.split(" > ")[-1]))
            shared = len(terms & heading)
            if kind not in heading or shared < 2:
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
        n = passage.n
        members = [u for i in firsts[:self.w.max_list_items]
                   for u in [by_pos[n, i], *self.sub_items(by_pos[n, i], passage.items, passage.depths, by_pos)]]
        lead = by_pos.get((n, firsts[0] - 1)) if firsts[0] > 0 and passage.items[firsts[0] - 1] < 0 \
            and passage.units[firsts[0] - 1].rstrip().endswith(":") else None
        return ([lead] if lead else []) + members

    def sub_items(self, unit, items, depth, by_pos) -> list:
        """A list item that leads into a sub-list says little alone: a label ("Failover and Redundancy:",
        "Code Analysis / Linting") or an item whose last sentence introduces it ("Avoid installing the
        following tools:"). That sentence and the sub-items (each one's first, at most `max_list_items`)
        come with it; [] for any other unit."""
        _, _, n, pos, text = unit
        if items[pos] < 0:
            return []
        last = pos
        while last + 1 < len(items) and items[last + 1] == items[pos]:
            last += 1
        lead = by_pos.get((n, last))
        label = last == pos and (_title_like(text) or len(text.split()) <= 4)
        if lead is None or not (lead[4].rstrip().endswith(":") or label):
            return []
        out, nxt = [], last + 1
        while nxt < len(items) and items[nxt] >= 0 and depth[nxt] > depth[pos] and len(out) < self.w.max_list_items:
            if depth[nxt] == depth[pos] + 1 and items[nxt] != items[nxt - 1] and (n, nxt) in by_pos:
                out.append(by_pos[n, nxt])
            nxt += 1
        return ([lead] if out and last != pos else []) + out

    @staticmethod
    def antecedents(picked, by_unit, items) -> None:
        """A picked sentence that leans on the one before it ("It is a language-agnostic CLI tool ...")
        says nothing alone: the sentence it leans on ("One inclusive linter we recommend is woke.") comes
        right before it, when that is prose of the same passage and itself quotable."""
        for i in range(len(picked) - 1, -1, -1):
            _, _, n, pos, unit = picked[i]
            before = by_unit.get((n, pos - 1))
            if before and _PRONOUN.match(unit) and items[n][pos] < 0 and items[n][pos - 1] < 0 \
                    and all((p[2], p[3]) != (n, pos - 1) for p in picked):
                picked.insert(i, before)

    def whole_lists(self, picked, by_unit, items, named: set[int]) -> None:
        """A set question whose answer quotes two or more items of one list under a heading naming the
        set ("Which chaos engineering tools ...": "Frameworks and Tools > Chaos", then "- Azure Chaos
        Studio ...", "- Chaos toolkit ..."): the list is the set asked for, so each of its items comes
        (its first sentence), up to `max_list_items`. `named`: the passages whose heading names it."""
        runs: dict[tuple[int, int], set[int]] = {}
        for _, _, n, pos, _ in picked:
            if pos < len(items[n]) and items[n][pos] >= 0:
                start = pos
                while start > 0 and items[n][start - 1] >= 0:
                    start -= 1
                runs.setdefault((n, start), set()).add(items[n][pos])
        for (n, start), quoted in runs.items():
            if len(quoted) < 2 or n not in named:
                continue
            end, firsts = start, []
            while end < len(items[n]) and items[n][end] >= 0:
                if end == start or items[n][end] != items[n][end - 1]:
                    firsts.append(end)
                end += 1
            missing = [p for p in firsts if items[n][p] not in quoted and (n, p) in by_unit]
            for p in missing[:max(0, self.w.max_list_items - len(quoted))]:
                picked.append(by_unit[n, p])

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

    def continue_paragraph(self, start, picked, take, by_unit, items, kind: str | None = None,
                           limit: int | None = None) -> None:
        """The sentences after the direct answer (a prose sentence) in its paragraph, while each stays close
        to the question (similarity at least `continuation_ratio` of the answer's): a paragraph is one
        argument, and its next sentences explain the first even when their own words match the question
        less. For a set question (`kind`: its plural noun, "" for kinds/ways) only a lead-in that
        introduces a list, or a sentence naming the set ("... various factors, including ..."), comes."""
        _, top_sim, n, pos, _ = start
        for nxt in range(pos + 1, pos + 1 + (self.w.continuation if limit is None else limit)):
            following = by_unit.get((n, nxt))
            if not following or items[n][nxt] >= 0:
                return
            if _introduces_list(following[4], items[n], nxt):
                # "We should keep PRs small. Small PRs have multiple advantages:" the list that
                # follows is the substance of the answer, however its lead-in scores alone.
                picked.append(following)
                return
            if kind is not None:
                if not (kind and kind in tokens(following[4])) or not take(following):
                    return  # naming the set asked for is the evidence here, however its words score
            elif following[1] < self.w.continuation_ratio * top_sim or not take(following):
                return

    @staticmethod
    def introduced_list(picked, by_unit, items) -> set[tuple[int, int]]:
        """A question asking for a set, answered by prose: when a picked sentence's paragraph goes on
        into a list ("There are some tools to implement shadow testing. The main purpose ... " then
        "- Diffy", "- Envoy"), the list is the set asked for. The sentence closest to it becomes its
        lead-in, so the items follow it (with_items); returns that lead-in's (passage, position)."""
        for i, (_, _, n, pos, _) in enumerate(picked):
            nxt = pos + 1
            while nxt < len(items[n]) and items[n][nxt] < 0 and nxt - pos <= 2:
                nxt += 1
            if nxt >= len(items[n]) or items[n][nxt] < 0 or (n, nxt) not in by_unit:
                continue
            if nxt - 1 != pos:
                if (n, nxt - 1) not in by_unit:
                    continue  # the sentence before the list is no answer (a pointer, a heading)
                if all((p[2], p[3]) != (n, nxt - 1) for p in picked):
                    picked.insert(i + 1, by_unit[n, nxt - 1])
            return {(n, nxt - 1)}
        return set()

    def with_items(self, picked, by_unit, items, leads: set[tuple[int, int]] = frozenset(),
                   depths: dict[int, tuple[int, ...]] | None = None) -> list:
        """A lead-in never goes alone ("Some popular frameworks for Kubernetes:"): its list's items
        (each one's first sentence, at most `max_list_items`) come right after it; a label item's
        ("- Failover and Redundancy:") are its sub-items. `leads`: other units that introduce the list
        after them. `depths`: per passage, each unit's list nesting (Passage.depths)."""
        out, seen = [], {(p[2], p[3]) for p in picked}
        for unit in picked:
            out.append(unit)
            _, _, n, pos, text = unit
            depth = (depths or {}).get(n) or (0,) * len(items[n])
            for sub in self.sub_items(unit, items[n], depth, by_unit) if items[n][pos] >= 0 else ():
                if (sub[2], sub[3]) not in seen:
                    out.append(sub)
                    seen.add((sub[2], sub[3]))
            if not (text.rstrip().endswith(":") or (n, pos) in leads) or not _introduces_list(":", items[n], pos):
                continue
            # A paragraph's list starts at its first item's level; a label item's at the level below it.
            level = depth[pos] + 1 if items[n][pos] >= 0 else depth[pos + 1]
            nxt, taken = pos + 1, 0
            while nxt < len(items[n]) and items[n][nxt] >= 0 and taken < self.w.max_list_items \
                    and depth[nxt] >= level:
                first = nxt == pos + 1 or items[n][nxt] != items[n][nxt - 1]
                if first and depth[nxt] == level and (n, nxt) in by_unit and (n, nxt) not in seen:
                    out.append(by_unit[n, nxt])
                    seen.add((n, nxt))
                    taken += 1
                    # A label among them ("- Failover and Redundancy:") brings its own sub-items.
                    for sub in self.sub_items(by_unit[n, nxt], items[n], depth, by_unit):
                        if (sub[2], sub[3]) not in seen:
                            out.append(sub)
                            seen.add((sub[2], sub[3]))
                nxt += 1
        return out

    def enumeration_first(self, question: str, scored, picked, kind: str, context: Context) -> list:
        """A set question ("What tools can we use to commit encrypted secrets?") is answered most directly
        by a sentence naming that kind of thing and listing members by name ("Some popular tools for this
        approach are Bitnami Sealed Secrets, Mozilla SOPS"): it leads, when it scores within `enumerates`
        of the best unit, whatever else the answer quotes."""
        items = {p.n: p.items for p in context.passages}
        chosen = {(p[2], p[3]) for p in picked}
        known = key_terms(question, self.profile) | set(self.profile.subject_terms)
        for unit in scored:
            score, sim, n, pos, text = unit
            if score < scored[0][0] - self.w.enumerates:
                return picked
            if (n, pos) not in chosen and items[n][pos] < 0 and sim >= self.min_similarity \
                    and kind in tokens(text) and self.lists_members(text, known):
                return [unit, *picked]
        return picked

    def lists_members(self, text: str, known: set[str]) -> bool:
        """The sentence lists two or more names the question does not already use (and that are not the
        subjects the corpus is about): "are Bitnami Sealed Secrets, Mozilla SOPS", not two of the profile's subjects."""
        return any(len(key_terms(m.group(0), self.profile) - known) >= 2 for m in _NAMES.finditer(text, 1))

    def compose(self, picked, context: Context) -> Draft:
        """Keep the source's structure: what was a list item is a "- " line (an item's sentences on one
        line), what was prose runs on as a paragraph; every sentence carries its [n]."""
        lines, known, previous = [], {}, None
        vectors = {p.n: p.unit_vectors for p in context.passages}
        items = {p.n: p.items for p in context.passages}
        depths = {p.n: p.depths for p in context.passages}
        for _, _, n, pos, unit in picked:
            text = unit.strip()
            item = items[n][pos] if len(items[n]) > pos else -1
            key = (n, item) if item >= 0 else "prose"
            if lines and key == previous:
                lines[-1] += f" {text} [{n}]"
            else:
                lines.append(f"{text} [{n}]" if key == "prose" else f"{'  ' * depths[n][pos]}- {text} [{n}]")
            previous = key
            known[text] = vectors[n][pos]
        return Draft(text="\n".join(lines), known_vectors=known)
