"""Slack: Answers as mrkdwn blocks, and Slack message text back to plain questions."""

from __future__ import annotations

import re

from assistant.types import Answer, Citation

QUOTE_CHARS = 120
TITLE_CHARS = 60
# Slack rejects a section text or a context element over 3,000 characters.
BLOCK_CHARS = 3000
HOURGLASS = "hourglass_flowing_sand"

_USER = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_SPECIAL = re.compile(r"<!([^>|]*)(?:\|([^>]*))?>")  # <!here>, <!subteam^S1|@team>, <!date^...|fallback>
_LINK = re.compile(r"<([^>|]*)(?:\|([^>]*))?>")  # <https://x|label>, <#C1|general>, <mailto:a@b>


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


def source_line(c: Citation) -> str:
    where = shorten(c.title or c.source, TITLE_CHARS)
    if c.section:
        where += " › " + c.section.replace(" > ", " › ")
    return f'[{c.n}] {escape(where)}: "{escape(shorten(c.text, QUOTE_CHARS))}"'


def feedback_block(key: str) -> dict:
    """The button value is a short key into the bot's recent answers, never the answer itself
    (values are capped at 2,000 characters and come back from the client)."""
    return {"type": "actions", "block_id": "feedback", "elements": [
        {"type": "button", "action_id": "feedback_up", "value": key,
         "text": {"type": "plain_text", "text": "👍 Helpful", "emoji": True}},
        {"type": "button", "action_id": "feedback_down", "value": key,
         "text": {"type": "plain_text", "text": "👎 Not helpful", "emoji": True}},
    ]}


def answer_message(answer: Answer, key: str) -> tuple[list[dict], str]:
    """(blocks, fallback text): the answer with its [n] markers, a compact Sources context, and the
    feedback buttons. A refusal lists no sources: it cites nothing."""
    # The answer's Markdown list items as Slack bullets (mrkdwn has no list syntax of its own).
    body = escape_cut(re.sub(r"(?m)^- ", "• ", answer.text))
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": body}}]
    lines = [] if answer.refused else [source_line(c) for c in answer.citations]
    if lines:
        sources = "*Sources*\n" + "\n".join(lines)
        if len(sources) > BLOCK_CHARS:
            sources = sources[: BLOCK_CHARS - 1].rsplit("\n", 1)[0] + "\n…"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": sources}]})
    blocks.append(feedback_block(key))
    fallback = body + ("\n\nSources:\n" + "\n".join(lines) if lines else "")
    return blocks, fallback


def notice(text: str) -> tuple[list[dict] | None, str]:
    """A one-line reply (error, rate limit): plain escaped text, no blocks."""
    return None, escape_cut(text)
