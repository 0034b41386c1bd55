"""CSS selectors: a complex selector read into compounds and combinators, and one compound matched."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bs4 import Tag

_IDENT = r"(?:[-\w]|\\[0-9a-fA-F]{1,6}\s?|\\[^\n0-9a-fA-F])+"
_SEL_TOKEN = re.compile(rf"""
    (?P<ws>\s+) | (?P<comb>[>+~]) | (?P<star>\*) | (?P<tag>{_IDENT}) | (?P<id>\#{_IDENT}) | (?P<cls>\.{_IDENT})
  | (?P<attr>\[\s*(?P<aname>{_IDENT})\s*(?:(?P<aop>[~|^$*]?=)\s*(?P<aval>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|{_IDENT})
        \s*(?P<aflag>[is])?\s*)?\])
  | (?P<pel>::{_IDENT}(?:\([^)]*\))?) | (?P<pcl>:{_IDENT}(?:\((?:[^()]|\([^()]*\))*\))?)
""", re.X)
# States the page is not in at rest: rules for them do not describe what a reader first sees.
_STATE_PSEUDO = frozenset({"hover", "focus", "focus-within", "focus-visible", "active", "visited", "target",
                           "checked", "open", "popover-open", "modal", "fullscreen", "picture-in-picture",
                           "invalid", "valid", "user-invalid", "user-valid", "placeholder-shown", "autofill",
                           "playing", "paused", "indeterminate", "default", "target-within", "current", "past",
                           "future", "drop", "closed"})
_LEGACY_PSEUDO_ELEMENTS = frozenset({"before", "after", "first-line", "first-letter", "marker", "placeholder",
                                     "selection", "backdrop"})


def _unescape(ident: str) -> str:
    return re.sub(r"\\([0-9a-fA-F]{1,6})\s?|\\(.)",
                  lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2), ident)


@dataclass(frozen=True)
class _Compound:
    tag: str | None
    id: str | None
    classes: frozenset[str]
    attrs: tuple[tuple[str, str | None, str | None, bool], ...]  # name, op, value, case-insensitive

    def matches(self, el: Tag, classes: frozenset[str]) -> bool:
        if self.tag is not None and el.name != self.tag:
            return False
        if self.id is not None and el.get("id") != self.id:
            return False
        if not self.classes <= classes:
            return False
        for name, op, want, fold in self.attrs:
            have = el.get(name)
            if have is None:
                return False
            if op is None:
                continue
            have = " ".join(have) if isinstance(have, list) else str(have)
            if fold:
                have, want = have.lower(), want.lower()
            if not ((op == "=" and have == want) or (op == "~=" and want in have.split())
                    or (op == "|=" and (have == want or have.startswith(want + "-")))
                    or (op == "^=" and want and have.startswith(want)) or (op == "$=" and want and have.endswith(want))
                    or (op == "*=" and want and want in have)):
                return False
        return True


@dataclass(frozen=True)
class _Selector:
    compounds: tuple[_Compound, ...]
    combinators: tuple[str, ...]  # combinators[i]: between compounds[i-1] and compounds[i] (" " or ">")
    specificity: tuple[int, int, int]
    approximate: bool  # parts dropped: it matches at least what the real selector matches


def _parse_selector(text: str) -> _Selector | None:
    """A complex selector, or None when it cannot apply to the page at rest (pseudo-elements, :hover,
    namespaces) or cannot be read."""
    compounds: list[_Compound] = []
    combinators: list[str] = []
    pending = " "
    tag = ident = None
    classes: set[str] = set()
    attrs: list = []
    started = approximate = False
    ids = cls_count = tags = 0

    def close() -> None:
        nonlocal tag, ident, classes, attrs, started, pending
        if started:
            compounds.append(_Compound(tag, ident, frozenset(classes), tuple(attrs)))
            combinators.append(pending)
        tag = ident = None
        classes, attrs, started, pending = set(), [], False, " "

    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _SEL_TOKEN.match(text, pos)
        if not match:
            return None
        pos = match.end()
        kind = match.lastgroup if match.lastgroup not in ("aname", "aop", "aval", "aflag") else "attr"
        if kind == "ws":
            if started:
                close()
            continue
        if kind == "comb":
            if started:
                close()
            if not compounds:
                return None
            if match.group("comb") in "+~":
                # A sibling of X: its parent is X's parent, so dropping X over-approximates.
                compounds.pop()
                pending = combinators.pop() if combinators else " "
                approximate = True
                if not compounds:
                    pending = " "
            else:
                pending = ">"
            continue
        started = True
        if kind == "star":
            continue
        if kind == "tag":
            tag, tags = _unescape(match.group("tag")).lower(), tags + 1
        elif kind == "id":
            ident, ids = _unescape(match.group("id")[1:]), ids + 1
        elif kind == "cls":
            classes.add(_unescape(match.group("cls")[1:]))
            cls_count += 1
        elif kind == "attr":
            value = match.group("aval")
            if value and value[0] in "\"'":
                value = value[1:-1]
            attrs.append((_unescape(match.group("aname")).lower(), match.group("aop"),
                          _unescape(value) if value is not None else None, match.group("aflag") == "i"))
            cls_count += 1
        elif kind == "pel":
            return None  # ::before, ::selection ... style generated content, not the element
        elif kind == "pcl":
            name = match.group("pcl")[1:].split("(")[0].lower()
            if name in _LEGACY_PSEUDO_ELEMENTS or name in _STATE_PSEUDO or "|" in text:
                return None
            approximate = True  # :not(), :nth-child(), :first-of-type ... dropped: matches more
            cls_count += 1
    close()
    if not compounds or combinators[0] == ">":
        return None
    return _Selector(tuple(compounds), tuple(combinators), (ids, cls_count, tags), approximate)


def _split_list(prelude: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(prelude):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            parts.append(prelude[start:i])
            start = i + 1
    parts.append(prelude[start:])
    return [p.strip() for p in parts if p.strip()]
