"""Web rendering: answers, sources and the About page as escaped HTML (nothing from a document or a model runs)."""

import bisect
import html
import re

from assistant.chain import blocks
from assistant.citations import MARKER, cited_numbers
from assistant.text import STOPWORDS, stem
from assistant.types import Answer, Citation

_SEGMENT = re.compile(r".+?(?:[.!?](?=\s)|$)", re.M)  # sentences, and lines (list items, table rows)
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
# Entities rather than backslashes: Markdown never treats an entity as syntax, so text cannot turn
# into a link, an image (a fetch), emphasis, a heading, a table, LaTeX or an autolinked URL.
_ESCAPE = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'\\`*_[]()!#|~$@:{}+-="})


def text(value: str) -> str:
    """Escape text for a chatbot message, which Gradio renders as Markdown plus HTML (one pass, so an
    entity is never escaped twice)."""
    return str(value).translate(_ESCAPE)


def cite_link(n: int) -> str:
    return f'<sup><a class="cite" href="#src-{n}" title="source {n}">&#91;{n}&#93;</a></sup>'


def _cited(value: str, known: set[int]) -> str:
    """Escaped text with its [n] markers as links to the matching source entry."""
    parts, last = [], 0
    for match in MARKER.finditer(value):
        parts.append(text(value[last:match.start()]))
        numbers = cited_numbers(match.group(0))
        parts.append("".join(cite_link(n) for n in numbers) if set(numbers) <= known else text(match.group(0)))
        last = match.end()
    parts.append(text(value[last:]))
    return "".join(parts).strip()


def answer_message(answer: Answer) -> str:
    """The verified answer for the chat, with the structure the answerer gave it: paragraphs, and list
    items as a list (an item's sentences together). Text is escaped; [n] link to their sources."""
    if answer.refused:
        return f'<span class="refusal">🚫 {text(answer.text)}</span>'
    known = {c.n for c in answer.citations}
    if not answer.sentences:
        return _cited(answer.text, known)

    def html_of(group) -> str:
        return " ".join(_cited(f"{s.text} " + "".join(f"[{n}]" for n in s.citations), known) for s in group)

    return "".join("<ul>" + "".join(f"<li>{html_of(g)}</li>" for g in groups) + "</ul>" if is_list
                   else f"<p>{html_of(groups[0])}</p>" for is_list, groups in blocks(answer.sentences))


def pending_message(pieces: str) -> str:
    # Streamed pieces are not verified yet, so their [n] are shown as plain text, not links.
    return f"{text(pieces)} …"


def notice_message(message: str, kind: str = "error") -> str:
    icon = {"error": "⚠️", "busy": "⏳"}.get(kind, "ℹ️")
    return f'<span class="notice {kind}">{icon} {text(message)}</span>'


def _words(value: str) -> set[str]:
    out = set()
    for word in _WORD.findall(value.lower()):
        word = word.replace("’", "'").split("'")[0]
        if len(word) > 2 and word not in STOPWORDS:
            out.update((word, stem(word)))
    return out


def highlight(passage: str, support: list[str] | str) -> str:
    """The passage, escaped, with <mark> around the words each supporting sentence shares with the
    passage sentence it best matches (so a word repeated elsewhere in the passage stays plain)."""
    sentences = [support] if isinstance(support, str) else support
    spans = [(m.start(), m.end()) for m in _SEGMENT.finditer(passage)] or [(0, len(passage))]
    segment_words = [_words(passage[start:end]) for start, end in spans]
    wanted: dict[int, set[str]] = {}
    for sentence in sentences:
        words = _words(sentence)
        overlap = [len(seen & words) for seen in segment_words]
        best = max(overlap, default=0)
        for i, count in enumerate(overlap):
            if best and count >= 0.8 * best:
                wanted.setdefault(i, set()).update(words)
    parts, last = [], 0
    for match in _WORD.finditer(passage):
        segment = bisect.bisect_right([start for start, _ in spans], match.start()) - 1
        word = match.group(0).lower().replace("’", "'").split("'")[0]
        hit = (len(word) > 2 and word not in STOPWORDS
               and bool({word, stem(word)} & wanted.get(segment, set())))
        parts.append(html.escape(passage[last:match.start()]))
        token = html.escape(match.group(0))
        parts.append(f"<mark>{token}</mark>" if hit else token)
        last = match.end()
    parts.append(html.escape(passage[last:]))
    return "".join(parts)


def _source(citation: Citation, support: list[str]) -> str:
    section = html.escape(citation.section or "(no section)")
    return (f'<div class="src" id="src-{citation.n}">'
            f'<div class="src-head"><span class="src-n">[{citation.n}]</span> '
            f'<span class="src-title">{html.escape(citation.title or citation.source)}</span></div>'
            f'<div class="src-section">{section} · <code>{html.escape(citation.source)}</code></div>'
            f'<blockquote class="passage">{highlight(citation.text, support)}</blockquote></div>')


def sources_panel(answer: Answer | None) -> str:
    if answer is None:
        return '<div class="sources empty">Sources of the latest answer appear here.</div>'
    if answer.refused:
        return ('<div class="sources refused">No sources: the documents do not answer this question. '
                "The reply lists what they do cover; try one of those topics.</div>")
    entries = []
    for citation in answer.citations:
        entries.append(_source(citation, [s.text for s in answer.sentences if citation.n in s.citations]))
    return f'<div class="sources"><h3>Sources</h3>{"".join(entries)}</div>'


def notice_panel(message: str) -> str:
    return f'<div class="sources notice">{html.escape(message)}</div>'


def about_panel(about: dict, files: list[str]) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k).replace('_', ' '))}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in about.items())
    listing = "".join(f"<li><code>{html.escape(name)}</code></li>" for name in files) or "<li>(none)</li>"
    return (f'<div class="about"><table>{rows}</table>'
            f"<h3>Corpus files ({len(files)})</h3><ul>{listing}</ul></div>")


CSS = """
.cite { text-decoration: none; font-weight: 600; }
.refusal { display: block; border-left: 4px solid #d97706; padding-left: .6em; font-style: italic; }
.notice { display: block; border-left: 4px solid #dc2626; padding-left: .6em; }
.sources .src { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6em; margin: .5em 0; }
.sources .src:target { outline: 2px solid var(--color-accent); }
.src-n { font-weight: 700; }
.src-title { font-weight: 600; }
.src-section { font-size: .85em; opacity: .8; margin: .2em 0; }
.passage { white-space: pre-wrap; margin: .4em 0 0; padding-left: .6em; border-left: 3px solid #9ca3af; }
.passage mark { background: #fde68a; color: inherit; }
.sources.refused { border-left: 4px solid #d97706; padding: .6em; }
.about th { text-align: left; padding-right: 1em; }
"""
