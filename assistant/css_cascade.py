"""CSS cascade: the page's <style> rules, matched during the walk, and each element's winning values."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bs4 import BeautifulSoup, Tag

from assistant.css_selectors import _Compound, _Selector, _parse_selector, _split_list
from assistant.css_values import Color, _color, _declarations, _font_size, _hiding_declaration, _tiny

_MAX_CSS_WORK = 10_000_000  # selector states stepped per document (a few seconds); real pages need far fewer

# --- stylesheets ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Rule:
    selector: _Selector
    declarations: tuple[tuple[str, str, bool], ...]
    order: int
    conditional: bool  # inside @media/@supports/@container: may or may not apply


_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.S)
_CSS_TOKEN = re.compile(r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[{};]""")
_PRINT_ONLY = re.compile(r"^\s*(?:only\s+)?(?:print|speech)\b", re.I)


def _media_applies(query: str) -> bool | None:
    """True: always (screen, all, none given); None: only sometimes; False: never on screen."""
    query = query.strip().lower()
    if not query or query in ("all", "screen", "only screen"):
        return True
    if all(_PRINT_ONLY.match(part) for part in query.split(",")):
        return False
    return None


def _parse_stylesheet(css: str, conditional: bool, rules: list[_Rule]) -> None:
    """Qualified rules of a stylesheet, appended to `rules`; at-rule groups are walked with a stack
    (nesting depth costs nothing), CSS nesting (`.a { .b { ... } }`, `&`) is resolved."""
    css = _CSS_COMMENT.sub("", css)
    # Frames: ("group", conditional) | ("skip",) | ("rule", selectors, conditional, declaration text pieces)
    stack: list[tuple] = [("group", conditional)]
    prelude_start = 0
    block_start = 0
    for match in _CSS_TOKEN.finditer(css):
        token = match.group(0)
        if token[0] in "\"'":
            continue
        at = match.start()
        top = stack[-1]
        if token == "{":
            prelude = css[prelude_start:at].strip()
            if top[0] == "rule":
                top[3].append(css[block_start:prelude_start])
            if top[0] == "skip":
                stack.append(("skip",))
            elif prelude.startswith("@"):
                name = re.match(r"@([-\w]+)", prelude)
                name = name.group(1).lower() if name else ""
                cond = top[1] if top[0] != "rule" else top[2]
                if name == "media":
                    applies = _media_applies(prelude[6:])
                    stack.append(("skip",) if applies is False else ("group", cond or applies is None))
                elif name in ("supports", "container", "scope", "document", "-moz-document"):
                    stack.append(("group", True))
                elif name == "layer":
                    stack.append(("group", cond))
                else:
                    stack.append(("skip",))  # @font-face, @keyframes, @page ...
            else:
                cond = top[1] if top[0] == "group" else top[2]
                selectors = _split_list(prelude)
                if top[0] == "rule":  # nested rule: relative to each parent selector
                    selectors = [s.replace("&", parent) if "&" in s else f"{parent} {s}"
                                 for parent in top[1] for s in selectors]
                    if len(selectors) > 256 or sum(map(len, selectors)) > 20_000:
                        # Nesting multiplies selectors; no real sheet comes near this.
                        raise ValueError("the page's stylesheet nests too deeply to apply")
                stack.append(("rule", selectors, cond, []))
            prelude_start = block_start = match.end()
        elif token == "}":
            if len(stack) > 1:
                _close(stack.pop(), css[block_start:at], rules)
            prelude_start = block_start = match.end()
            if stack[-1][0] == "rule":
                block_start = match.end()
        else:  # ";" ends a declaration or an at-statement (@import ...)
            prelude_start = match.end()
    while len(stack) > 1:  # unclosed blocks close at the end of the sheet, as in a browser
        _close(stack.pop(), css[block_start:], rules)
        block_start = len(css)


def _close(frame: tuple, tail: str, rules: list[_Rule]) -> None:
    if frame[0] != "rule":
        return
    declarations = tuple(_declarations("".join(frame[3]) + tail))
    if not declarations:
        return
    for text in frame[1]:
        if selector := _parse_selector(text):
            rules.append(_Rule(selector, declarations, len(rules), frame[2]))


def _stylesheets(soup: BeautifulSoup) -> list[_Rule]:
    """The rules of every <style> element that a browser applies (not in a <template>; not print-only)."""
    rules: list[_Rule] = []
    stack = [iter(soup.contents)]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
            continue
        if not isinstance(node, Tag) or node.name == "template":
            continue
        if node.name == "style":
            kind = str(node.get("type", "text/css")).strip().lower()
            applies = _media_applies(str(node.get("media", "")))
            if kind in ("", "text/css") and applies is not False:
                _parse_stylesheet(node.get_text(), applies is None, rules)
            continue
        stack.append(iter(node.contents))
    return rules


# --- matching and the cascade, one element at a time during the walk -----------------------------------

@dataclass(frozen=True, slots=True)
class _Style:
    """What a node inherits: the selector states open for descendants and the inherited visibility."""
    descendant: frozenset  # (selector index, compound index) that any descendant may continue
    child: frozenset  # ... that only a direct child may continue
    invisible: bool  # visibility:hidden
    no_font: bool  # font-size near 0
    color: Color | None
    backdrop: Color | None  # the nearest opaque background behind the text


_WHITE: Color = (255.0, 255.0, 255.0, 1.0)
_BLACK: Color = (0.0, 0.0, 0.0, 1.0)


class _Matcher:
    """Applies the page's stylesheet during the walk: each selector is a little automaton advanced one
    element at a time (descendant states are inherited, child states passed to children only), so
    matching costs the states open at each element, never a climb through its ancestors."""

    def __init__(self, rules: list[_Rule]):
        self.rules = rules
        # Each compound is filed under one thing an element must have for it to match (its id, a class,
        # its tag, or nothing): most open states are then skipped by a set lookup, not a full match.
        self.keys = [[self._key(c) for c in rule.selector.compounds] for rule in rules]
        # Equal compounds (".nav" in fifty rules) are matched once per element.
        ids: dict[_Compound, int] = {}
        self.ids = [[ids.setdefault(c, len(ids)) for c in rule.selector.compounds] for rule in rules]
        self.compounds = list(ids)
        self.starts: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for i, keys in enumerate(self.keys):
            self.starts.setdefault(keys[0], []).append((i, 0))
        self.work = 0

    @staticmethod
    def _key(c: _Compound) -> tuple[str, str]:
        return (("#", c.id) if c.id else (".", min(c.classes)) if c.classes
                else ("t", c.tag) if c.tag else ("*", ""))

    def step(self, el: Tag, parent: _Style, classes: frozenset[str]) -> tuple[list[int], frozenset, frozenset]:
        """Rules matching `el`, and the states it opens for its descendants and children."""
        if not self.rules:
            return [], parent.descendant, frozenset()
        has = set(self._keys(el, classes))
        active = [s for key in has for s in self.starts.get(key, ())]
        active += [(i, n) for i, n in (*parent.descendant, *parent.child) if self.keys[i][n] in has]
        self.work += len(parent.descendant) + len(parent.child) + len(active)
        if self.work > _MAX_CSS_WORK:
            raise ValueError("the page's stylesheet is too costly to apply")
        matched, descendant, child = [], [], []
        seen: dict[int, bool] = {}
        for i, n in active:
            selector = self.rules[i].selector
            cid = self.ids[i][n]
            hit = seen.get(cid)
            if hit is None:
                hit = seen[cid] = self.compounds[cid].matches(el, classes)
            if not hit:
                continue
            if n + 1 == len(selector.compounds):
                matched.append(i)
            elif selector.combinators[n + 1] == ">":
                child.append((i, n + 1))
            else:
                descendant.append((i, n + 1))
        inherited = parent.descendant
        if descendant and not inherited.issuperset(descendant):
            inherited = inherited | frozenset(descendant)
        return matched, inherited, frozenset(child)

    @staticmethod
    def _keys(el: Tag, classes: frozenset[str]):
        yield ("*", "")
        yield ("t", el.name)
        if el.get("id"):
            yield ("#", el.get("id"))
        for c in classes:
            yield (".", c)


def _cascade(el: Tag, matched: list[int], rules: list[_Rule]) -> dict[str, str]:
    """The winning value of each tracked property: !important, then inline, then specificity, then order.
    Presentational attributes (<font color>, bgcolor) count as the weakest rules."""
    best: dict[str, tuple] = {}

    def offer(prop: str, value: str, key: tuple) -> None:
        if prop not in best or key > best[prop][0]:
            best[prop] = (key, value)

    if el.name == "font" and el.get("color"):
        offer("color", str(el["color"]).lower(), (False, False, (0, 0, 0), -1))
    if el.get("bgcolor"):
        offer("background-color", str(el["bgcolor"]).lower(), (False, False, (0, 0, 0), -1))
    for i in matched:
        rule = rules[i]
        partial = rule.conditional or rule.selector.approximate
        for prop, value, important in rule.declarations:
            if partial and not _hiding_declaration(prop, value):
                continue  # when unsure whether a rule applies, it may hide but never show
            offer(prop, value, (important, False, rule.selector.specificity, rule.order))
    style = el.get("style")
    if style:
        for prop, value, important in _declarations(str(style)):
            offer(prop, value, (important, True, (0, 0, 0), 0))
    return {prop: value for prop, (_, value) in best.items()}


def _inherit(decls: dict[str, str], parent: _Style) -> tuple[bool, bool, Color | None, Color | None]:
    invisible, no_font, color, backdrop = parent.invisible, parent.no_font, parent.color, parent.backdrop
    visibility = decls.get("visibility")
    if visibility in ("hidden", "collapse"):
        invisible = True
    elif visibility == "visible":
        invisible = False
    size = _font_size(decls)
    if size is not None and size not in ("inherit", "unset"):
        if _tiny(size):
            no_font = True
        elif not re.search(r"(?:em|%|ex|ch)$", size) or size.endswith("rem"):
            no_font = False  # an absolute size (or rem) sets the text back to a readable size
    value = decls.get("color")
    if value is not None and value not in ("inherit", "unset", "currentcolor"):
        color = _BLACK if value in ("initial", "revert") else _color(value)
    background = decls.get("background-color", decls.get("background"))
    if background is not None:
        if "url(" in background or "gradient(" in background:
            backdrop = None  # text over an image: cannot judge its contrast
        elif (c := _color(background)) is not None and c[3] >= 0.5:
            backdrop = c
    return invisible, no_font, color, backdrop
