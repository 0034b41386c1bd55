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

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

from assistant.css_cascade import _BLACK, _WHITE, _Matcher, _Style, _cascade, _inherit, _stylesheets
from assistant.css_values import _hides_box, _unreadable

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
