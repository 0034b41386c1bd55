"""CSS values: lengths in pixels, colours and their contrast, and the declarations that hide a box."""

from __future__ import annotations

import re

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
