"""HTML to Markdown text as a reader sees it in a browser: text that is not rendered never comes out.

One pass over the parsed tree (BeautifulSoup, html.parser) with an explicit stack, so time and output
are linear in the input however deep the nesting (20,000 nested lists load in about a second) and no
recursion limit is reached. Dropped, with everything inside them:

- what a browser does not render: head, script, style, template, noscript, iframe/object/embed/canvas/
  audio/video fallback, closed dialogs and popovers, form option lists, comments; `hidden` and
  aria-hidden="true" elements;
- what CSS hides, from style attributes and from the page's own <style> blocks (type, class, id and
  attribute selectors with descendant and child combinators; specificity, order and !important
  honoured): display:none, content-visibility:hidden, opacity near 0, zero height or width with overflow
  hidden, left/top/right, margins, text-indent or translate far off screen, clip/clip-path that leave
  nothing, scale(0); and, as inherited (a child may set them back): visibility:hidden, font-size near 0
  and text the colour of its background (white on the default white page, transparent).

When unsure, it hides: a rule whose selector can only be approximated (sibling combinators, :not(),
:nth-child()) or that applies only under a media query counts when it hides something and is ignored
when it would show something. Print-only rules and rules for :hover, :focus and similar states are
ignored (they do not apply to the page at rest); so are external stylesheets and scripts (not loaded).
A stylesheet too costly to apply (far beyond any real page) fails the file rather than risk hidden text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

# Elements whose content is never rendered as text.
_SKIP = frozenset({"head", "title", "script", "style", "template", "noscript", "iframe", "object", "embed",
                   "applet", "canvas", "audio", "video", "picture", "select", "datalist", "option", "optgroup",
                   "meta", "link", "base", "param", "source", "track", "map", "area", "frameset", "frame",
                   "noframes", "input", "rp", "desc", "metadata"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_LISTS = frozenset({"ul", "ol", "dl", "menu", "dir"})
_BLOCKS = frozenset({"address", "article", "aside", "blockquote", "body", "center", "dd", "details", "dialog",
                     "div", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "hr",
                     "html", "legend", "main", "nav", "p", "section", "summary", "caption", "tbody", "thead",
                     "tfoot", "tr", "td", "th", "textarea", "button", "label"}) | _HEADINGS | _LISTS
_MAX_CSS_WORK = 10_000_000  # selector states stepped per document (a few seconds); real pages need far fewer

# --- CSS values ----------------------------------------------------------------------------------------

_LENGTH = re.compile(r"(-?\d*\.?\d+)(px|pt|pc|em|rem|ex|ch|vw|vh|vmin|vmax|%|cm|mm|in|q)?\b", re.I)
_PX = {"px": 1.0, "pt": 4 / 3, "pc": 16.0, "em": 16.0, "rem": 16.0, "ex": 8.0, "ch": 8.0, "cm": 37.8,
       "mm": 3.78, "in": 96.0, "q": 0.945, "vw": 12.8, "vh": 7.2, "vmin": 7.2, "vmax": 12.8, "": 1.0,
       "%": 5.0}  # so that -100% (of the containing block) is off screen and -50% (centring tricks) is not
_OFFSCREEN_PX = -500.0  # left:-9999px, text-indent:-10000px ... (legitimate layouts nudge by a few px)


def _px(value: str) -> float | None:
    """A CSS length in (approximate) pixels; percentages and viewport units against a 1280x720 page."""
    match = _LENGTH.fullmatch(value.strip())
    if not match:
        return None
    return float(match.group(1)) * _PX[(match.group(2) or "").lower()]


def _lengths(value: str, percent: bool = True) -> list[float]:
    return [float(m.group(1)) * _PX[(m.group(2) or "").lower()] for m in _LENGTH.finditer(value)
            if percent or m.group(2) != "%"]


def _tiny(value: str) -> bool:
    """A size that leaves nothing to read: 0, 1px, 0.05em."""
    px = _px(value)
    return px is not None and px <= 1.0


_NAMED = dict(zip(
    "black white red green blue yellow cyan aqua magenta fuchsia silver gray grey maroon olive navy purple teal "
    "lime orange snow ivory ghostwhite whitesmoke seashell linen floralwhite oldlace mintcream azure aliceblue "
    "honeydew lavenderblush beige cornsilk lightyellow lightcyan".split(),
    [(0, 0, 0), (255, 255, 255), (255, 0, 0), (0, 128, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255),
     (0, 255, 255), (255, 0, 255), (255, 0, 255), (192, 192, 192), (128, 128, 128), (128, 128, 128),
     (128, 0, 0), (128, 128, 0), (0, 0, 128), (128, 0, 128), (0, 128, 128), (0, 255, 0), (255, 165, 0),
     (255, 250, 250), (255, 255, 240), (248, 248, 255), (245, 245, 245), (255, 245, 238), (250, 240, 230),
     (255, 250, 240), (253, 245, 230), (245, 255, 250), (240, 255, 255), (240, 248, 255), (240, 255, 240),
     (255, 240, 245), (245, 245, 220), (255, 248, 220), (255, 255, 224), (224, 255, 255)]))
_HEX = re.compile(r"#([0-9a-f]{3,8})\b")
_FUNC = re.compile(r"(rgba?|hsla?)\(([^)]*)\)")
Color = tuple[float, float, float, float]  # r, g, b in 0..255, alpha in 0..1


def _color(value: str) -> Color | None:
    """The first colour in a CSS value (a background shorthand may hold more), or None if unknown."""
    value = value.strip().lower()
    if value in ("transparent", "rgba(0,0,0,0)"):
        return (0.0, 0.0, 0.0, 0.0)
    if match := _HEX.search(value):
        h = match.group(1)
        if len(h) in (3, 4):
            h = "".join(c * 2 for c in h)
        if len(h) not in (6, 8):
            return None
        alpha = int(h[6:8], 16) / 255 if len(h) == 8 else 1.0
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), alpha)
    if match := _FUNC.search(value):
        parts = [p for p in re.split(r"[\s,/]+", match.group(2).strip()) if p]
        try:
            nums = [float(p.rstrip("%deg")) / (100 if p.endswith("%") and i == 3 else 1) for i, p in enumerate(parts)]
        except ValueError:
            return None
        if len(nums) < 3:
            return None
        alpha = nums[3] if len(nums) > 3 else 1.0
        if match.group(1).startswith("rgb"):
            scale = [2.55 if parts[i].endswith("%") else 1.0 for i in range(3)]
            return (nums[0] * scale[0], nums[1] * scale[1], nums[2] * scale[2], alpha)
        hue, sat, light = nums[0] % 360 / 360, nums[1] / 100, nums[2] / 100  # hsl
        q = light * (1 + sat) if light < 0.5 else light + sat - light * sat
        p = 2 * light - q

        def channel(t: float) -> float:
            t %= 1
            if t < 1 / 6:
                return p + (q - p) * 6 * t
            if t < 1 / 2:
                return q
            return p + (q - p) * (2 / 3 - t) * 6 if t < 2 / 3 else p
        return (channel(hue + 1 / 3) * 255, channel(hue) * 255, channel(hue - 1 / 3) * 255, alpha)
    for word in re.findall(r"[a-z]+", value):
        if word in _NAMED:
            return (*_NAMED[word], 1.0)
    return None


def _luminance(c: Color) -> float:
    def lin(v: float) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])


def _unreadable(color: Color | None, backdrop: Color | None) -> bool:
    """Text in this colour on this background cannot be seen (contrast ratio under 1.1, or no alpha)."""
    if color is None:
        return False
    if color[3] <= 0.1:
        return True
    if backdrop is None:
        return False  # over an image or an unknown colour: assume readable
    a = color[3]
    shown = (color[0] * a + backdrop[0] * (1 - a), color[1] * a + backdrop[1] * (1 - a),
             color[2] * a + backdrop[2] * (1 - a), 1.0)
    lighter, darker = sorted((_luminance(shown), _luminance(backdrop)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05) < 1.1


def _opacity(value: str) -> float | None:
    match = re.fullmatch(r"\s*(\d*\.?\d+)(%?)\s*", value)
    return float(match.group(1)) / (100 if match.group(2) else 1) if match else None


def _font_size(decls: dict[str, str]) -> str | None:
    if "font-size" in decls:
        return decls["font-size"]
    match = re.search(r"(?:^|\s)(\d*\.?\d+[a-z%]*)(?:/|\s|$)", decls.get("font", ""))
    return match.group(1) if match else None


def _hides_box(decls: dict[str, str]) -> bool:
    """Declarations that leave an element and all it holds invisible."""
    get = decls.get
    if get("display") == "none" or get("content-visibility") == "hidden":
        return True
    if (o := _opacity(get("opacity", ""))) is not None and o <= 0.05:
        return True
    if re.search(r"opacity\(\s*0*(?:\.0*)?%?\s*\)", get("filter", "")):
        return True
    for prop in ("left", "top", "right", "margin-left", "margin-top", "text-indent", "inset-inline-start"):
        if (px := _px(get(prop, ""))) is not None and px <= _OFFSCREEN_PX:
            return True
    if margin := get("margin", "").split():  # top right bottom left: the top and the left side
        left = margin[3] if len(margin) == 4 else margin[1] if len(margin) > 1 else margin[0]
        if any((px := _px(v)) is not None and px <= _OFFSCREEN_PX for v in (margin[0], left)):
            return True
    transform = get("transform", "")
    if re.search(r"scale[xyz3d]*\(\s*0*(?:\.0+)?\s*[,)]", transform):
        return True
    for args in re.findall(r"translate[xyz3d]*\(([^)]*)\)", transform):  # % is of its own size: centring
        if any(px <= _OFFSCREEN_PX for px in _lengths(args, percent=False)):
            return True
    clip = re.search(r"rect\(([^)]*)\)", get("clip", ""))
    if clip and (sides := _lengths(clip.group(1))) and all(abs(px) <= 1 for px in sides):
        return True
    clip_path = get("clip-path", "")
    if (inset := re.search(r"inset\(([^)]*)\)", clip_path)) and any(
            v.endswith("%") and float(v[:-1] or 0) >= 50 for v in re.findall(r"\d*\.?\d+%", inset.group(1))):
        return True
    if re.search(r"(?:circle|ellipse)\(\s*0*(?:\.0+)?(?:px|%)?\s*(?:0*(?:\.0+)?(?:px|%)?\s*)?(?:at\b|\))", clip_path):
        return True
    overflow = " ".join(get(p, "") for p in ("overflow", "overflow-x", "overflow-y"))
    if re.search(r"\b(?:hidden|clip)\b", overflow):
        if any(_tiny(get(p, "")) for p in ("height", "max-height", "width", "max-width")):
            return True
    return False


def _hiding_declaration(prop: str, value: str) -> bool:
    """Could this one declaration hide something? (Rules that apply only sometimes, or whose selector
    is approximated, contribute only these.)"""
    if prop in ("overflow", "overflow-x", "overflow-y"):
        return bool(re.search(r"\b(?:hidden|clip)\b", value))
    if prop in ("height", "max-height", "width", "max-width"):
        return _tiny(value)
    if prop == "visibility":
        return value in ("hidden", "collapse")
    if prop in ("font-size", "font"):
        size = _font_size({prop: value})
        return size is not None and _tiny(size)
    if prop == "color":
        return (c := _color(value)) is not None and c[3] <= 0.1
    if prop in ("background", "background-color"):
        return False
    return _hides_box({prop: value})


_TRACKED = frozenset({"display", "visibility", "opacity", "font-size", "font", "color", "background",
                      "background-color", "position", "left", "top", "right", "margin", "margin-left", "margin-top",
                      "text-indent", "inset-inline-start", "height", "width", "max-height", "max-width", "overflow",
                      "overflow-x", "overflow-y", "clip", "clip-path", "transform", "content-visibility", "filter"})
_IMPORTANT = re.compile(r"!\s*important\s*$", re.I)
_DECL_SPLIT = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\([^()]*\)|;)""")


def _declarations(block: str) -> list[tuple[str, str, bool]]:
    """(property, value, important) for the tracked properties of a declaration block."""
    out, current = [], []
    for piece in _DECL_SPLIT.split(block):
        if piece == ";":
            out.append("".join(current))
            current = []
        else:
            current.append(piece)
    out.append("".join(current))
    decls = []
    for text in out:
        prop, colon, value = text.partition(":")
        prop = prop.strip().lower()
        if not colon or prop not in _TRACKED:
            continue
        value = value.strip().lower()
        important = bool(_IMPORTANT.search(value))
        decls.append((prop, _IMPORTANT.sub("", value).strip(), important))
    return decls


# --- selectors -----------------------------------------------------------------------------------------

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


# --- the walk ------------------------------------------------------------------------------------------

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


def _hidden_element(el: Tag) -> bool:
    if el.name in _SKIP:
        return True
    if el.has_attr("hidden") or str(el.get("aria-hidden", "")).strip().lower() == "true":
        return True
    if el.name == "dialog" and not el.has_attr("open"):
        return True
    return el.has_attr("popover")


class _Writer:
    """Collects text into Markdown blocks: headings, paragraphs, list items and tables."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, object]] = []
        self.buffer: list[str] = []
        self.table: dict | None = None  # the outermost open table: rows, row, cell, depth of nesting

    def text(self, text: str) -> None:
        if self.table is not None:
            target = self.table["cell"] if self.table["cell"] is not None else self.table["loose"]
            target.append(text)
        else:
            self.buffer.append(text)

    def flush(self, kind: str) -> None:
        text = " ".join("".join(self.buffer).split())
        self.buffer.clear()
        if text:
            self.blocks.append((kind, text))

    def render(self) -> str:
        lines: list[str] = []
        previous = None
        for kind, value in self.blocks:
            if kind == "li":
                if previous not in (None, "li") and lines and lines[-1] != "":
                    lines.append("")
                lines.append(f"- {value}")
            else:
                if lines and lines[-1] != "":
                    lines.append("")
                if kind in _HEADINGS:
                    lines += ["#" * int(kind[1]) + f" {value}", ""]
                elif kind == "table":
                    lines += [*value, ""]
                else:
                    lines += [value, ""]
            previous = kind
        return "\n".join(lines)


def _table_lines(rows: list[list[str]]) -> list[str]:
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    return (["| " + " | ".join(rows[0]) + " |", "|" + " --- |" * width]
            + ["| " + " | ".join(r) + " |" for r in rows[1:]])


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


def html_to_markdown(markup: str) -> tuple[str, str | None]:
    """Markdown text of what a reader of the page sees (headings, paragraphs, list items, tables) and
    the page's <title>. Linear in the input; raises ValueError only for a stylesheet too costly to apply."""
    soup = BeautifulSoup(markup, "html.parser")
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text().split()) if title_tag else None
    rules = _stylesheets(soup)
    matcher = _Matcher(rules)
    out = _Writer()
    root = _Style(frozenset(), frozenset(), False, False, _BLACK, _WHITE)
    # Each frame: (children iterator, element, its style, the kind of block its text belongs to, whether
    # it flushed on entry). Text kinds: "p", "li", "h1".."h6"; inside a table, text goes to cells.
    stack: list[tuple] = [(iter(soup.contents), None, root, "p", False)]
    while stack:
        children, element, style, kind, flushed = stack[-1]
        node = next(children, None)
        if node is None:
            stack.pop()
            if element is not None:
                _leave(out, element, kind, flushed)
            continue
        if isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString) and not style.invisible and not style.no_font \
                    and not _unreadable(style.color, style.backdrop):
                out.text(str(node))
            continue
        if not isinstance(node, Tag) or _hidden_element(node):
            continue
        classes = node.get("class") or ()
        classes = frozenset(classes.split() if isinstance(classes, str) else classes)
        matched, descendant, child = matcher.step(node, style, classes)
        decls = _cascade(node, matched, rules) if (matched or node.get("style") or node.get("bgcolor")
                                                   or node.name == "font") else {}
        if decls and _hides_box(decls):
            continue
        inherited = _inherit(decls, style) if decls else (style.invisible, style.no_font, style.color, style.backdrop)
        node_kind, node_flushed = _enter(out, node, kind)
        stack.append((iter(node.contents), node, _Style(descendant, child, *inherited), node_kind, node_flushed))
    out.flush("p")
    return out.render(), title


def _enter(out: _Writer, el: Tag, kind: str) -> tuple[str, bool]:
    """Open an element: returns the kind of block its text belongs to and whether it started a block."""
    name = el.name
    table = out.table
    if table is not None:  # inside the outermost table everything is cell text
        if name == "table":
            table["depth"] += 1
            out.text(" ")
        elif name == "tr" and table["depth"] == 1:
            table["rows"].append([])
            table["cell"] = None
        elif name in ("td", "th") and table["depth"] == 1:
            if not table["rows"]:
                table["rows"].append([])
            table["cell"] = []
        elif name in _BLOCKS or name == "br" or name == "li":
            out.text(" ")
        return kind, False
    if name == "table":
        out.flush(kind)
        out.table = {"rows": [], "cell": None, "loose": [], "depth": 1}
        return kind, True
    if name == "br":
        out.text(" ")
        return kind, False
    absorbing = kind != "p"  # a list item or heading takes the text of the paragraphs inside it
    if name == "li" or name in _LISTS:
        out.flush(kind)
        return ("li" if name == "li" else kind), True
    if name in _HEADINGS:
        if absorbing:
            out.text(" ")
            return kind, False
        out.flush(kind)
        return name, True
    if name in _BLOCKS or name == "pre":
        if absorbing:
            out.text(" ")
            return kind, False
        out.flush(kind)
        return "p", True
    return kind, False


def _leave(out: _Writer, el: Tag, kind: str, flushed: bool) -> None:
    table = out.table
    name = el.name
    if table is not None:
        if name == "table":
            table["depth"] -= 1
            if table["depth"] == 0:
                out.table = None
                loose = " ".join("".join(table["loose"]).split())
                if loose:
                    out.blocks.append(("p", loose))
                if lines := _table_lines(table["rows"]):
                    out.blocks.append(("table", lines))
            else:
                out.text(" ")
        elif name in ("td", "th") and table["depth"] == 1 and table["cell"] is not None:
            table["rows"][-1].append(" ".join("".join(table["cell"]).split()))
            table["cell"] = None
        elif name in _BLOCKS or name == "li":
            out.text(" ")
        return
    if flushed:
        out.flush(kind)
    elif name in _BLOCKS or name == "pre" or name in _HEADINGS:
        out.text(" ")
