"""Blocks: Markdown to typed blocks (paragraphs, list items, tables, code) with spans and heading paths."""

from __future__ import annotations

import html
import re
import textwrap
from dataclasses import dataclass

from assistant.citations import neutralise
from assistant.text import split_sentences, words
from assistant.types import Document

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# A task-list box ("- [ ] Design reviews are ...") is markup, not part of the item's text.
_LIST_ITEM = re.compile(r"^( *)(?:[-*+•]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?(.*)$")
# An item that is only a Markdown link, maybe with trailing punctuation.
_MAX_EXAMPLE_LINES, _MAX_EXAMPLE_CHARS = 3, 200
# A paragraph that is nothing but a picture: its alt text ("Top Down Integration Testing") is a caption,
# shown with its chunk, never an answer sentence.
_IMAGE_ONLY = re.compile(r"(?:\s*!\[[^\]]*\]\([^)]*\))+\s*")
# ... unless the alt text names nothing ("![image](...)"): then there is no caption to show.
_NO_CAPTION = re.compile(r"(?:\s*(?:image|img|picture|pic|photo|screenshot|screen shot|figure|alt text)\s*)+", re.I)
# "For more information on commit message conventions, see:": what follows is reading, not content.
_POINTS_AWAY = re.compile(r"\b(see|read|reading|references?|resources)\s*:\s*$", re.I)
_LINK_ONLY = re.compile(r"\[[^\]]+\]\([^)]*\)[\s.,;:]*")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
# The delimiter row: GitHub reads "| -- | -- |" as one too (a row of dashes alone carries nothing anyway).
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_TRAILING_DASH = re.compile(r"\s+[-–—]$")  # "The advantages of using custom exceptions are -": a colon's place
# "At the basic hardware level, there are four areas to consider.", "Below are some tools which may help.":
# a sentence announcing a set, right above a list, is its lead-in whatever its stop.
_ANNOUNCES = re.compile(r"\b(?:there|here|below)\s+(?:are|is)\s+(?:\w+\s+){0,2}?(?:some|several|a few|a number of|many|"
                        r"various|a couple of|two|three|four|five|six|seven|eight|nine|ten|\d+)\b[^.!?]*\.$", re.I)
_QUOTE = re.compile(r"^(?:[ \t]{0,3}>[ \t]?)+")
_FENCE = re.compile(r"^\s*(```|~~~)")
_BREAK = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_MARKDOWN_FENCE = re.compile(r"^\s*(```|~~~)\s*(markdown|md)\s*$", re.I)
_BOLD_LABEL = re.compile(r"^\s*\*\*([^*:]+)\*\*\s*$")  # "**Goals**": no colon, so no lead-in of its own
_LABEL_LEVEL = 7  # below every Markdown heading
# How many items a lead-in announces ("Loki has three main components:").
_NUMBERS = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}
_NUMBERS.update({str(n): n for n in range(1, 21)})
_COUNT = re.compile(r"\b(" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + r")\b(?=(?:\s+[\w-]+){0,3}\s*:?\s*$)", re.I)
# A heading that asks ("Why use Loki") or points to reading ("Resources") is no member of a set.
_NOT_AN_ITEM = re.compile(r"^(why|how|when|what|where|which|who|resources|references|see also|further reading|"
                          r"next steps|summary|conclusion|links)\b|\?\s*$", re.I)
_EMPHASIS_ONLY = re.compile(r"(\*{1,2}|_{1,2})[^*_:]{1,60}\1")  # "*Diagram*", "**Identify**": a term alone
def plain(text: str) -> str:
    """Inline Markdown to plain text: emphasis, code ticks, links and images."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)  # images never travel as images
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_(?![\s_])(.+?)(?<![\s_])_(?![\w_])", r"\1", text)  # "_application health_", not snake_case
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = html.unescape(text)  # "&#179;", "&quot;": Markdown passes HTML entities through to the page
    # "[1]" in a document would pass for one of our citation markers: show it as "(1)".
    return neutralise(text).strip()


@dataclass
class Block:
    kind: str  # para | item | table | code
    text: str  # what the chunk shows
    units: list[str]
    start: int
    end: int
    section: str
    rows: list[list[str]] | None = None
    link: bool = False  # a list item that is nothing but a link: "- [Tutorial: ...](https://...)"
    depth: int = 0  # a list item's nesting: "- Failover:" 0, its "  - Hot Site: ..." 1


def _unwrap_template(lines: list[str]) -> list[str]:
    """A page that is mostly one fenced Markdown block (a pull request template) is that Markdown: its
    checklist is the page's content, to be quoted, not code. A short Markdown example inside a page
    (a sample landing page) stays an example. The fence lines become blank, so spans still fit."""
    filled = sum(bool(line.strip()) for line in lines)
    for i, line in enumerate(lines):
        if not _MARKDOWN_FENCE.match(line):
            continue
        end = next((j for j in range(i + 1, len(lines)) if _FENCE.match(lines[j])), None)
        if end is not None and 2 * sum(bool(ln.strip()) for ln in lines[i + 1:end]) > filled:
            return [*lines[:i], " " * len(line), *lines[i + 1:end], " " * len(lines[end]), *lines[end + 1:]]
        break  # only the page's first Markdown block can be the page
    return lines


def parse_blocks(doc: Document) -> list[Block]:
    """Markdown to blocks with character spans and heading paths."""
    blocks: list[Block] = []
    headings: list[tuple[int, str]] = []
    # A block quote ("> Note: ...", "> 1. **Step:** ...") is read as what it quotes: its markers become
    # spaces, so its lists are lists and the character spans still point into the document.
    lines = _unwrap_template([_QUOTE.sub(lambda m: " " * len(m.group(0)), line) for line in doc.text.split("\n")])
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1

    def section() -> str:
        path = [h for level, h in headings if level > 1]
        return " > ".join(path) or (headings[0][1] if headings else doc.title)

    outline = None  # (lead-in's index in blocks, its section's level, sub-section level, items so far)
    indents: list[int] = []  # the current list's item indentations, outermost first
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or _BREAK.match(line):  # a rule ("---", "***") only separates; it says nothing
            i += 1
            continue
        start = offsets[i]
        if _FENCE.match(line):
            j = i + 1
            while j < len(lines) and not _FENCE.match(lines[j]):
                j += 1
            code = textwrap.dedent("\n".join(lines[i + 1:j])).strip("\n").rstrip()
            if code.strip():
                # "Here's an example of a branch naming convention:" then a one-line block: the example
                # is what the lead-in announces, so it is citable, as the lead-in's item. Longer code
                # (a config file, a script) is shown, never quoted as an answer.
                example = [ln.strip() for ln in code.split("\n") if ln.strip()]
                short = len(example) <= _MAX_EXAMPLE_LINES and len(code) <= _MAX_EXAMPLE_CHARS
                units = [neutralise(" ".join(example))] if short and blocks and is_lead_in(blocks[-1]) \
                    and blocks[-1].section == section() else []
                # Fenced as in the source, so that an answer can quote the block whole (Passage.code_after).
                mark = "~~~" if "```" in code else "```"
                info = (line.strip().lstrip("`~").split() or [""])[0]
                blocks.append(Block("code", f"{mark}{info}\n{code}\n{mark}", units, start,
                                    offsets[min(j, len(lines) - 1)], section()))
            i = j + 1
            continue
        if heading := _HEADING.match(line):
            level = len(heading.group(1))
            title = plain(heading.group(2))[:200]
            if outline and level <= outline[1]:
                outline = None  # back at the lead-in's level or above: its sub-sections are done
            if outline is None and blocks and is_lead_in(blocks[-1]) and blocks[-1].section == section() \
                    and headings and level > headings[-1][0]:
                # "There are several categories of tests:" then "### Load Testing", "### Stress Testing":
                # the sub-section headings are the lead-in's items.
                outline = (len(blocks) - 1, headings[-1][0], level, [])
            if outline and level == outline[2] and title:
                at, _, _, items = outline
                lead = blocks[at]
                # "Loki has three main components:" then "## Promtail", ..., "## Why use Loki", "## Resources":
                # the count it states, and a heading that asks or points to reading, end its items.
                count = _COUNT.search(lead.text)
                if (count and len(items) >= _NUMBERS.get(count.group(1).lower(), 0)) or _NOT_AN_ITEM.match(title):
                    outline = None
                else:
                    items.append(Block("item", "- " + title, [title], lead.end, lead.end, lead.section))
                    blocks.insert(at + len(items), items[-1])
            headings = [h for h in headings if h[0] < level] + [(level, title)]
            i += 1
            continue
        if (label := _BOLD_LABEL.match(line)) and len(label.group(1).split()) <= 6 \
                and any(_LIST_ITEM.match(ln) for ln in lines[i + 1:i + 3] if ln.strip()):
            # "**Goals**" alone on its line, then a list: a heading in all but its markup. Its items are
            # about "Retrospectives > Goals", embedded so, and it ends at the next heading of any kind.
            headings = [h for h in headings if h[0] < _LABEL_LEVEL] + [(_LABEL_LEVEL, plain(label.group(1)))]
            i += 1
            continue
        if _TABLE_ROW.match(line):
            j = i
            while j < len(lines) and _TABLE_ROW.match(lines[j]):
                j += 1
            rows = [[plain(c) for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]
                    for row in lines[i:j] if not _TABLE_RULE.match(row)]
            blocks.append(Block("table", "", [], start, offsets[j - 1] + len(lines[j - 1]), section(), rows))
            i = j
            continue
        in_list = bool(blocks) and blocks[-1].kind == "item"
        # Indented four spaces or more, a "- " line is a nested item inside a list, else a code block.
        if (item := _LIST_ITEM.match(line)) and (len(item.group(1)) <= 3 or in_list):
            j = i + 1
            text = [item.group(2)]
            while j < len(lines) and lines[j].strip() and not _LIST_ITEM.match(lines[j]) \
                    and not _HEADING.match(lines[j]) and not _TABLE_ROW.match(lines[j]):
                text.append(lines[j].strip())
                j += 1
            # "1. *Diagram*" over its description: a term and what it means, as "Diagram: Capture ...".
            if len(text) > 1 and _EMPHASIS_ONLY.fullmatch(text[0]):
                text[0] += ":"
            raw = " ".join(text)
            body = plain(raw)
            indent = len(item.group(1))
            indents = [w for w in indents if w < indent] if in_list else []
            indents.append(indent)
            if body:
                blocks.append(Block("item", "  " * (len(indents) - 1) + "- " + body, split_sentences(body), start,
                                     offsets[j - 1] + len(lines[j - 1]), section(),
                                     link=bool(_LINK_ONLY.fullmatch(raw.strip())), depth=len(indents) - 1))
            i = j
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() and not any(
                p.match(lines[j]) for p in (_HEADING, _LIST_ITEM, _TABLE_ROW, _FENCE)):
            j += 1
        raw = " ".join(s.strip() for s in lines[i:j])
        body = plain(raw)
        if _IMAGE_ONLY.fullmatch(raw) and _NO_CAPTION.fullmatch(body):
            body = ""
        if body:
            blocks.append(Block("para", body, [] if _IMAGE_ONLY.fullmatch(raw) else split_sentences(body), start,
                                 offsets[j - 1] + len(lines[j - 1]), section()))
        i = j
    _colon_lead_ins(blocks)
    _drop_reading_lists(blocks)
    return blocks


def _colon_lead_ins(blocks: list[Block]) -> None:
    """A sentence that stops without punctuation right above a list ("... also look for these C# specific
    code review items"), or a list item's last sentence above its sub-items, introduces it, as if it
    ended with the colon its author left out: it gets one, so that it is read, and quoted, as the list's
    lead-in. So does one that ends on a dash where the colon would be ("The advantages of using custom
    exceptions are -"), and one announcing a set ("There are a number of basic components that are required
    to carry out a load test.")."""
    for block, after in zip(blocks, blocks[1:]):
        # An item's last sentence may lead into its sub-list the same way ("... follow these principles").
        # A label item ("- VS Code Extensions") is read as one already (Composition.sub_items).
        leads = block.kind == "para" or (block.kind == "item" and after.depth > block.depth
                                         and (len(block.units) > 1 or len(block.units[-1].split()) >= 6))
        # A dash where the colon would be says so however short the line ("Additional Tools -").
        dashed = _TRAILING_DASH.search(block.units[-1] if block.units else "") is not None
        if leads and after.kind == "item" and after.section == block.section and block.units \
                and len(block.units[-1].split()) >= (3 if dashed else 4):
            if re.search(r"[\w)\"'”’]$", block.text.rstrip()):
                block.text += ":"
                block.units[-1] += ":"
            elif _TRAILING_DASH.search(block.units[-1]) and _TRAILING_DASH.search(block.text.rstrip()):
                block.text = _TRAILING_DASH.sub(":", block.text.rstrip())
                block.units[-1] = _TRAILING_DASH.sub(":", block.units[-1])
            elif block.kind == "para" and _ANNOUNCES.search(block.units[-1]) and block.text.rstrip().endswith("."):
                block.text = block.text.rstrip()[:-1] + ":"
                block.units[-1] = block.units[-1].rstrip()[:-1] + ":"


def is_lead_in(block: Block) -> bool:
    return block.kind == "para" and block.text.rstrip().endswith(":")


def _drop_reading_lists(blocks: list[Block]) -> None:
    """A run of link-only items that no sentence of its section introduces is a reading list: shown
    with its chunk, but its link titles are no answer, so they get no citable units. Introduced ones
    ("There are some tools to implement shadow testing." then "- [Diffy](...)") name the things the
    section is about, when they are names rather than titles. A one- or two-word label ("Resources:",
    "See also:") introduces nothing."""
    i = 0
    while i < len(blocks):
        j = i
        while j < len(blocks) and blocks[j].kind == "item" and blocks[j].section == blocks[i].section:
            j += 1
        run = blocks[i:j]
        introduced = i > 0 and blocks[i - 1].kind == "para" and blocks[i - 1].section == blocks[i].section \
            and len(blocks[i - 1].text.split()) >= 3 and not _POINTS_AWAY.search(blocks[i - 1].text)
        if run and all(b.link for b in run):
            for b in run:
                # Introduced, a link names a thing ("Diffy", "Argo CD"); a longer title ("How to Write
                # a Git Commit Message", "Tutorial: Deploy ...") is still a pointer to read elsewhere.
                if not introduced or words(b.text) > 4:
                    b.units = []
        i = max(j, i + 1)
