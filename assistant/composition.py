"""Compose (offline): quote the picked units as the source has them, a list as a list, a paragraph as one."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from assistant.answerer import Draft
from assistant.context import Context, code_body
from assistant.domain import DomainProfile
from assistant.grammar import (ADVICE, GOES_ON, _CONTRAST, _LEANING_CLAUSE, _NAMES, _POINTS_BACK, _PRONOUN,
                               _introduces_list, _title_like)
from assistant.text import STOPWORDS, key_terms, tokens

# "Post the above in a shared channel", "All of the above apply": the list before the sentence is what it says.
_REFERS_ABOVE = re.compile(r"\b(?:the|of the|all the) above\b(?!\s+(?:section|heading|example|diagram|image|figure|table|code))", re.I)
_ENUMERATION = re.compile(r"\b(?:such as|including|like|from|e\.g\.,?)\s+([^.;:()]+)", re.I)
# A code block an answer shows whole; a longer one (a pipeline's YAML) is read at its source.
_CODE_LINES, _CODE_CHARS, _CODE_BLOCKS, _CODE_BLOCKS_NEEDED = 12, 700, 2, 4
_ENDS_STATEMENT = re.compile(r"[.!?][\"')\]]*$")
_ANNOUNCING = frozenset({"following", "follows", "below", "include", "includes", "like", "example", "examples"})
_ENUMERATION_BREAK = re.compile(r"\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|to)\s+")
# "Key features of Release Trains include fixed dates, shared gates, ...": a sentence naming a set of the
# subject by another word than the question's ("capabilities"), then its members.
_SET_OF = re.compile(r"\b([A-Za-z-]+s)\s+of\s+([^,.;:]{1,40}?)\s+(?:include|includes|are|comprise|consist of)\s+"
                     r"([^.;:()]+)", re.I)

if TYPE_CHECKING:
    from assistant.scoring import ExtractiveWeights


def _cell_names(cell: str) -> list[str]:
    """The names a table cell lists ("Key Tools of Stack A: Jenkins, GitLab, Ansible, Chef, Puppet"):
    three or more, each of at most four words; [] for a cell that says something instead."""
    _, colon, value = cell.partition(": ")
    names = [part.strip() for part in re.split(r",\s*(?:and\s+)?", value.rstrip(". "))] if colon else []
    return names if len(names) >= 3 and all(0 < len(name.split()) <= 4 for name in names) else []


class Composition:
    """The paragraph and list-item rules of ExtractiveAnswerer, which mixes them in: what comes with a
    picked unit (its sub-list, its paragraph, the sentence it leans on) and how the picks become the
    answer's text. Which whole list answers a set question is assistant/lists.py's."""

    w: ExtractiveWeights
    profile: DomainProfile
    min_similarity: float

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
        """A picked sentence that leans on the one before it ("It is a language-agnostic CLI tool ...",
        "Canary releases, on the other hand, ...") says nothing alone: the sentence it leans on ("One
        inclusive linter we recommend is woke.", "Blue-green releases switch ...") comes right before it, when
        that is prose of the same passage and itself quotable."""
        for i in range(len(picked) - 1, -1, -1):
            for _ in range(2):  # the sentence brought may lean on its own predecessor ("It aims ...")
                _, _, n, pos, unit = picked[i]
                before = by_unit.get((n, pos - 1))
                # A contrast after an earlier sentence of its passage already has its other side there.
                leans = _PRONOUN.match(unit) or _LEANING_CLAUSE.match(unit) or _POINTS_BACK.match(unit) or (_CONTRAST.match(unit) and not any(
                    q[2] == n and q[3] < pos for q in picked))
                if not (before and leans and items[n][pos] < 0 and items[n][pos - 1] < 0
                        and all((p[2], p[3]) != (n, pos - 1) for p in picked)):
                    break
                picked.insert(i, before)

    @staticmethod
    def list_above(picked, by_unit, items, depths) -> None:
        """A picked sentence that refers to the list above it ("Post the above in a shared channel ...")
        says nothing without that list: its top-level items (each one's first sentence) come right
        before it, when they are of its passage and quotable."""
        for i in range(len(picked) - 1, -1, -1):
            _, _, n, pos, unit = picked[i]
            if items[n][pos] >= 0 or pos == 0 or items[n][pos - 1] < 0 or not _REFERS_ABOVE.search(unit):
                continue
            start = pos - 1
            while start > 0 and items[n][start - 1] >= 0:
                start -= 1
            have = {(p[2], p[3]) for p in picked}
            run = [by_unit[n, j] for j in range(start, pos) if depths[n][j] == 0 and (n, j) in by_unit
                   and (j == start or items[n][j] != items[n][j - 1]) and (n, j) not in have]
            picked[i:i] = run

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
                # follows is the substance of the answer, however its lead-in scores alone. A list of
                # headings ("take note of these differences:" over "Batch vs. Stream") says nothing.
                listed = [by_unit[n, i][4] for i in range(nxt + 1, len(items[n]))
                          if items[n][i] >= 0 and (n, i) in by_unit]
                if following not in picked and not (kind is None and listed and all(map(_title_like, listed))):
                    picked.append(following)
                return
            if self.profile.signpost.search(following[4]):
                return  # "This article will provide an overview ...": about the document, not the argument
            if kind is not None:
                if not (kind and kind in tokens(following[4])) or not take(following):
                    return  # naming the set asked for is the evidence here, however its words score
            elif (following[1] < self.w.continuation_ratio * top_sim and not GOES_ON.match(following[4])) \
                    or not take(following):
                return  # a sentence adding to the argument ("Additionally, ...") comes however it scores

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
            at, nxt, taken = len(out) - 1, pos + 1, 0
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
            # A lead-in none of whose items is quotable ("Possible questions to ask:" over questions)
            # would dangle: it goes, unless it is all the answer has.
            end = pos + 1
            while end < len(items[n]) and items[n][end] >= 0 and depth[end] >= level:
                end += 1
            if text.rstrip().endswith(":") and end > pos + 1 and not any((n, q) in seen for q in range(pos + 1, end)) \
                    and len(picked) > 1 and out[at] is unit:
                del out[at]
        return self.with_parents(out, by_unit, items, depths or {})

    @staticmethod
    def with_parents(picked, by_unit, items, depths: dict[int, tuple[int, ...]]) -> list:
        """A sub-item ("Ideal for projects that require a dynamic user interface.") says nothing without
        the item it belongs to ("React"): that item's first sentence comes before it."""
        out, seen = [], {(p[2], p[3]) for p in picked}
        for unit in picked:
            n, pos = unit[2], unit[3]
            depth = depths.get(n)
            if depth and items[n][pos] >= 0 and depth[pos] > 0:
                parent = pos - 1
                while parent >= 0 and items[n][parent] >= 0 and depth[parent] >= depth[pos]:
                    parent -= 1
                if parent >= 0 and items[n][parent] >= 0:
                    while parent > 0 and items[n][parent - 1] == items[n][parent]:
                        parent -= 1  # the item's first sentence names it
                    if (n, parent) not in seen and (n, parent) in by_unit:
                        out.append(by_unit[n, parent])
                        seen.add((n, parent))
            out.append(unit)
        return out

    def enumeration_first(self, question: str, scored, picked, kind: str, context: Context) -> list:
        """A set question ("What tools can we use to commit encrypted secrets?") is answered most directly
        by a sentence naming that kind of thing and listing members by name ("Some popular tools for this
        approach are Bitnami Sealed Secrets, Mozilla SOPS"): it leads, when it scores within `enumerates`
        of the best unit, whatever else the answer quotes."""
        items = {p.n: p.items for p in context.passages}
        chosen = {(p[2], p[3]) for p in picked}
        known = key_terms(question, self.profile) | set(self.profile.subject_terms)
        # A set named by another word ("Key features of X include ...") stands for the one asked about
        # ("capabilities") only when the passages never use the question's word: else "features" are not "tools".
        renamed = not any(kind in tokens(u[4]) for u in scored)
        # A sentence naming members must be of a passage ranked, by retrieval, no lower than the best unit's:
        # "Some popular tools for this approach are Bitnami Sealed Secrets, Mozilla SOPS" names tools, but for
        # encrypting, not for "Which tools detect secrets committed to our repo?". A set named by another word
        # says itself whose set it is ("Key features of release trains include ...").
        best = scored[0][2] if scored else 0
        unit = self.leading(scored, self.w.enumerates, items, lambda n, pos, text: (n, pos) not in chosen and (
            n <= best and kind in tokens(text) and self.lists_members(text, known, kind)
            or renamed and self.lists_set_of(text, question)))
        return [unit, *picked] if unit else picked

    def leading(self, scored, margin: float, items, accepts):
        """The best prose unit within `margin` of the best unit, quotable (`min_similarity`), that
        `accepts(n, pos, text)`: the sentence to lead an answer with; None when there is none."""
        for unit in scored:
            score, sim, n, pos, text = unit
            if score < scored[0][0] - margin:
                return None
            if items[n][pos] < 0 and sim >= self.min_similarity and accepts(n, pos, text):
                return unit
        return None

    def advice_first(self, scored, picked, context: Context) -> list:
        """A question asking what to do ("Should we keep encrypted secrets in the repo or point to an
        external vault? Why?") is answered first by the sentence recommending something ("TLDR: Referencing
        secrets in an external key vault is the recommended approach."), with the sentence after it when that
        one leans on it ("It is easier to orchestrate secret rotation ..."), when it scores within `margin`
        of the best unit, whatever else the answer quotes."""
        items = {p.n: p.items for p in context.passages}
        unit = self.leading(scored, self.w.margin, items,
                            lambda n, pos, text: bool(ADVICE.search(text)) and not text.rstrip().endswith(":"))
        if unit is None:
            return picked
        _, _, n, pos, _ = unit
        lead = [unit]
        follower = next((u for u in scored if (u[2], u[3]) == (n, pos + 1)), None)
        if follower and items[n][pos + 1] < 0 and _PRONOUN.match(follower[4]):
            lead.append(follower)
        moved = {(u[2], u[3]) for u in lead}
        return [*lead, *(p for p in picked if (p[2], p[3]) not in moved)]

    def lists_set_of(self, text: str, question: str) -> bool:
        """The sentence names a set of what the question is about and lists three or more of its members:
        "Key features of Release Trains include fixed dates, shared gates, a train lead, and release notes."
        for "What are the core capabilities of release trains?"."""
        asked = set(tokens(question))
        for m in _SET_OF.finditer(text):
            if not set(tokens(m.group(2))) & asked:
                continue
            parts = [p for p in _ENUMERATION_BREAK.split(m.group(3)) if p.strip()]
            if len(parts) >= 3 and all(1 <= len(p.split()) <= 4 for p in parts):
                return True
        return False

    def lists_members(self, text: str, known: set[str], kind: str = "") -> bool:
        """The sentence lists two or more names the question does not already use (and that are not the
        subjects the corpus is about): "are Bitnami Sealed Secrets, Mozilla SOPS", not two of the profile's subjects."""
        if any(len(key_terms(m.group(0), self.profile) - known) >= 2 for m in _NAMES.finditer(text, 1)):
            return True
        # ... or three or more short common nouns right after the kind asked for: "a wide range of use
        # cases, from predictive maintenance and fraud detection to image recognition and natural language
        # processing". Parts count from the first until one is no short noun ("Day 1", a clause).
        for m in _ENUMERATION.finditer(text):
            if kind not in tokens(text[max(0, m.start() - 30):m.start()])[-3:]:
                continue
            count = 0
            for part in _ENUMERATION_BREAK.split(m.group(1)):
                if not 1 <= len(part.split()) <= 4 or re.search(r"\d", part):
                    break
                count += 1
            if count >= 3:
                return True
        return False

    @staticmethod
    def compose_sections(members, context: Context) -> Draft:
        """Sibling sections as a set (Lists.sibling_sections): one "- Name: ..." line each, its units
        on that line, each cited to its passage (whose heading is the name)."""
        vectors = {p.n: p.unit_vectors for p in context.passages}
        lines, known = [], {}
        for name, units in members:
            said = " ".join(f"{u[4].strip()} [{u[2]}]" for u in units)
            lines.append(f"- {name}: {said}")
            known.update({u[4].strip(): vectors[u[2]][u[3]] for u in units})
        return Draft(text="\n".join(lines), known_vectors=known)

    def compose(self, picked, context: Context, split_cells: bool = False) -> Draft:
        """Keep the source's structure: what was a list item is a "- " line (an item's sentences on one
        line), what was prose runs on as a paragraph; every sentence carries its [n]. With `split_cells`
        (a set question), a table cell that lists names ("Key Tools of Stack A: Jenkins, GitLab, ...")
        is that list: its label, then one name a line."""
        lines, known, previous, blocks = [], {}, None, {}
        vectors = {p.n: p.unit_vectors for p in context.passages}
        items = {p.n: p.items for p in context.passages}
        depths = {p.n: p.depths for p in context.passages}
        tables = {p.n for p in context.passages if p.hit.kind == "table"}
        # Table cells ("Focus of Approach A: ...", "Key Tools of Approach B: ...") read as a list, one a line,
        # not run together as if they were the sentences of a paragraph.
        cells = sum(p[2] in tables for p in picked) >= 2

        def is_item(p) -> bool:
            return len(items[p[2]]) > p[3] and items[p[2]][p[3]] >= 0

        # A sentence right above a short code block ("... install Azurite simply with npm ...") comes with
        # it: the command is what a "how do I" question wants. The block's one-line form, quoted as an item
        # of its lead-in (blocks.parse_blocks), is then not said twice.
        passages = {p.n: p for p in context.passages}
        by_key = {(p[2], p[3]): p[4].strip() for p in picked}
        code = {(p[2], p[3]): block for p in picked
                if (block := passages[p[2]].code_after.get(p[3])) and _short_code(block)}
        # A sentence that leads into its block ("... can then run", "The following command sets it:") says
        # nothing without it; one that ends as a statement is complete, its block an illustration: the
        # first such blocks in answer order, while the answer shows fewer than _CODE_BLOCKS.
        needed = [key for key in code if not _ENDS_STATEMENT.search(by_key[key])]
        extra = [key for key in code if key not in needed][:max(0, _CODE_BLOCKS - len(needed))]
        code = {key: code[key] for key in code if key in needed[:_CODE_BLOCKS_NEEDED] or key in extra}
        shown = {" ".join(code_body(b).split()) for b in code.values()}
        picked = [p for p in picked if (p[2], p[3]) in code or " ".join(p[4].split()) not in shown]
        # A lead-in whose list is not quoted (a long code block followed it) is left hanging: one that
        # announces only ("... which is structured as:") is left out, one that says something ("Before
        # merging topic into main, we rebase topic with the main branch:") ends as a statement.
        hanging = {(p[2], p[3]) for i, p in enumerate(picked) if p[4].rstrip().endswith(":") and not is_item(p)
                   and p[2] not in tables and (p[2], p[3]) not in code
                   and (i + 1 == len(picked) or not is_item(picked[i + 1]))}
        for _, _, n, pos, unit in picked:
            text = unit.strip()
            if (n, pos) in code:
                blocks[text] = code[n, pos]
            if (n, pos) in hanging:
                last = (re.findall(r"[\w-]+", text) or [""])[-1].lower()
                if last in STOPWORDS or last in _ANNOUNCING:
                    continue
                text = text.rstrip(": ") + "."
            if split_cells and n in tables and (names := _cell_names(text)):
                lines += [f"{text.partition(': ')[0]}: [{n}]"] + [f"- {name} [{n}]" for name in names]
                previous = "cell"
                continue
            if cells and n in tables:
                lines.append(f"- {text} [{n}]")
                previous = "cell"
                known[text] = vectors[n][pos]
                continue
            item = items[n][pos] if len(items[n]) > pos else -1
            key = (n, item) if item >= 0 else ("prose", n)
            if lines and key == previous:
                lines[-1] += f" {text} [{n}]"
            else:
                lines.append(f"{text} [{n}]" if item < 0 else f"{'  ' * depths[n][pos]}- {text} [{n}]")
            previous = key
            known[text] = vectors[n][pos]
        return Draft(text="\n".join(lines), known_vectors=known, code=blocks)


def _short_code(block: str) -> bool:
    body = code_body(block)
    return bool(body) and body.count("\n") < _CODE_LINES and len(body) <= _CODE_CHARS
