"""Slack: Answers as mrkdwn blocks, and Slack message text back to plain questions."""

from __future__ import annotations

import re

from assistant.citations import MARKER, cited_numbers, markers
from assistant.text import visible
from assistant.types import Answer, Citation

TITLE_CHARS = 60
SECTION_CHARS = 80
TERM_WORDS = 5  # a list item's "Term: ..." lead-in is bold up to this many words; past it, a clause
# Slack rejects a section text or a context element over 3,000 characters.
BLOCK_CHARS = 3000
CODE_FENCE = "```"  # mrkdwn's code block: its own line, no language tag
HOURGLASS = "hourglass_flowing_sand"

_USER = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_SPECIAL = re.compile(r"<!([^>|]*)(?:\|([^>]*))?>")  # <!here>, <!subteam^S1|@team>, <!date^...|fallback>
_LINK = re.compile(r"<([^>|]*)(?:\|([^>]*))?>")  # <https://x|label>, <#C1|general>, <mailto:a@b>
# An item's lead-in term: short, no comma, sentence end or marker inside, then ": " ("CI/CD: DevOps is ...").
_TERM = re.compile(r"([^:,.!?\[\]*\n]{2,60}):\s")


def escape(text: str) -> str:
    """The three characters Slack's mrkdwn treats as control characters. Escaping them is enough to
    stop `<!channel>`, `<@U1>` or `<http://x|y>` in a document from pinging anyone or becoming a link."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escape_cut(text: str, limit: int = BLOCK_CHARS) -> str:
    """Escaped text of at most `limit` characters, cut between characters so no entity is split."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    pieces, size = [], 0
    for piece in map(escape, str(text)):
        if size + len(piece) > limit - 1:
            break
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces) + "…"


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, cut at a word boundary where one is near."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def question_text(text: str) -> str:
    """What a user typed, as plain text: mentions and broadcasts dropped, links reduced to their
    label, Slack's entities decoded (the Assistant sees `&`, not `&amp;`)."""
    text = _USER.sub(" ", text or "")
    text = _SPECIAL.sub(lambda m: m.group(2) or " ", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1).lstrip("#"), text)
    return " ".join(unescape(text).split())


def slack_markers(text: str) -> str:
    """Every citation as `[n]`: "[1, 3]" becomes "[1][3]", the form the Sources lines use."""
    return MARKER.sub(lambda m: markers(cited_numbers(m.group(0))), text)


def _bold(text: str) -> str:
    """Escaped text in mrkdwn bold, or plain where an asterisk of its own would unbalance the bold."""
    return f"*{escape(text)}*" if text.strip() and "*" not in text else escape(text)


def _item(text: str, bullet: str = "• ") -> str:
    """A list item as a Slack bullet, its lead-in term ("Infrastructure as Code (IaC): ...") in bold."""
    term = _TERM.match(text)
    if not term or len(term.group(1).split()) > TERM_WORDS:
        return bullet + escape(text)
    return bullet + _bold(term.group(1) + ":") + escape(text[term.end(1) + 1:])


def _paragraph(text: str, leads_list: bool) -> str:
    """A paragraph; the lead-in of a list ("They include: [1]") in bold, its markers left outside."""
    if not leads_list:
        return escape(text)
    words = re.sub(r"(?:\s*\[\d+\])+\s*$", "", text)
    return _bold(words) + escape(text[len(words):]) if words.rstrip().endswith(":") else escape(text)


def body_lines(markdown: str) -> list[str]:
    """The answer's Markdown as mrkdwn lines, escaped: "- " items as bullets (mrkdwn has no list syntax
    of its own) with their lead-in terms bold, a paragraph that leads into a list bold, `[n]` markers."""
    lines = slack_markers(markdown).split("\n")
    out, fence = [], None  # fence: the open code block's indentation (an item's block is indented)
    for i, line in enumerate(lines):
        if fence is not None:
            # A quoted code block stays one: mrkdwn shows ``` blocks as they are (no language tag).
            closing = line.strip() in ("```", "~~~")
            out.append(CODE_FENCE if closing else escape(line[fence:] if not line[:fence].strip() else line.strip()))
            fence = None if closing else fence
        elif re.match(r"^ *(```|~~~)", line):
            fence = len(line) - len(line.lstrip(" "))
            out.append(CODE_FENCE)
        elif bullet := re.match(r"^( *)- ", line):
            # mrkdwn has no nesting: a sub-item is indented, with a hollow bullet.
            depth = len(bullet.group(1)) // 2
            out.append("    " * depth + _item(line[bullet.end():], "◦ " if depth else "• "))
        else:
            following = next((ln for ln in lines[i + 1:] if ln.strip()), "")
            out.append(_paragraph(line, following.lstrip(" ").startswith("- ")))
    return out


def fit(lines: list[str], limit: int = BLOCK_CHARS) -> str:
    """Escaped lines joined, whole lines only, within `limit` (an entity or a bold is never cut; a code
    block cut short is closed)."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    kept = []
    for line in lines:
        if len("\n".join([*kept, line])) > limit - 2 - len(CODE_FENCE) - 1:
            break
        kept.append(line)
    if kept.count(CODE_FENCE) % 2:
        kept.append(CODE_FENCE)
    return "\n".join(kept) + "\n…" if kept else escape_cut(unescape(lines[0]), limit)


def _link_url(url: str) -> str:
    """A URL inside <url|label>: the characters that would end it or split it percent-encoded, & escaped."""
    return url.replace(" ", "%20").replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace("&", "&amp;")


def section_label(section: str) -> str:
    """A heading path for one line: "A › B" when it fits, else its innermost heading, which tells
    sections of one document apart (their outer headings are often the same)."""
    parts = [p.strip() for p in section.split(" > ") if p.strip()]
    label = " › ".join(parts)
    if len(label) <= SECTION_CHARS or len(parts) < 2:
        return shorten(label, SECTION_CHARS)
    return "… › " + shorten(parts[-1], SECTION_CHARS - 4)


def source_groups(citations) -> list[list[Citation]]:
    """The citations by document, documents in the order of their first citation."""
    groups: dict[str, list[Citation]] = {}
    for c in citations:
        groups.setdefault(c.source, []).append(c)
    return list(groups.values())


def source_line(group: list[Citation], links=None) -> str:
    """One document: `[1][3] <url|Title> › Section A; Section B`. Slack can only open an absolute
    http(s) address, so without a canonical URL or `public_url` the title is plain, with its path."""
    first = group[0]
    title = visible(first.title or first.source)
    sections = list(dict.fromkeys(c.section for c in group if c.section and c.section != title))
    href = links.href(first.source, sections[0] if len(sections) == 1 else "") if links else ""
    label = escape(shorten(title, TITLE_CHARS))
    if href.startswith(("https://", "http://")):
        where = f"<{_link_url(href)}|{label}>"
    else:
        where = label if title == visible(first.source) else f"{label} ({escape(visible(first.source))})"
    if sections:
        where += " › " + "; ".join(escape(part) for part in dict.fromkeys(map(section_label, sections)))
    return f"{markers(c.n for c in group)} {where}"


def feedback_block(key: str) -> dict:
    """The button value is a short key into the bot's recent answers, never the answer itself
    (values are capped at 2,000 characters and come back from the client)."""
    return {"type": "actions", "block_id": "feedback", "elements": [
        {"type": "button", "action_id": "feedback_up", "value": key,
         "text": {"type": "plain_text", "text": "👍 Helpful", "emoji": True}},
        {"type": "button", "action_id": "feedback_down", "value": key,
         "text": {"type": "plain_text", "text": "👎 Not helpful", "emoji": True}},
    ]}


def answer_message(answer: Answer, key: str, links=None) -> tuple[list[dict], str]:
    """(blocks, fallback text): the answer with its [n] markers, a compact Sources context (one line
    per document, linked through `links`, a SourceLinks), and the feedback buttons. A refusal lists
    no sources: it cites nothing."""
    body = fit(body_lines(answer.text))
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": body}}]
    lines = [] if answer.refused else [source_line(g, links) for g in source_groups(answer.citations)]
    if lines:
        sources = fit(["*Sources*", *lines])
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": sources}]})
    blocks.append(feedback_block(key))
    fallback = body + ("\n\nSources:\n" + "\n".join(lines) if lines else "")
    return blocks, fallback


def notice(text: str) -> tuple[list[dict] | None, str]:
    """A one-line reply (error, rate limit): plain escaped text, no blocks."""
    return None, escape_cut(text)
