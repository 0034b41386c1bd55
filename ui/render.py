"""Web rendering: answers, sources and the About page as escaped HTML (nothing from a document or a model runs)."""

import bisect
import html
import re

from assistant.chain import blocks, levels, segments
from assistant.citations import MARKER, cited_numbers
from assistant.context import code_body
from assistant.text import STOPWORDS, stem, visible
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


def block_text(value: str) -> str:
    """Escaped text inside a message's HTML block: newlines as entities too, because a blank line
    would end the block and hand the rest to the Markdown parser."""
    return text(value).replace("\n", "&#10;")


def cite_link(citation: Citation, links=None) -> str:
    """[n] as a link that opens the cited document at its section, in a new tab: a real address,
    never a "#" anchor (Gradio's <base href> turns those into page reloads that lose the chat)."""
    href = links.cite(citation) if links else ""
    where = html.escape(visible(" › ".join(p for p in (citation.title, citation.section) if p)), quote=True)
    label = f"&#91;{citation.n}&#93;"
    if not href:
        return f'<sup class="cite" title="{where}">{label}</sup>'
    return (f'<sup><a class="cite" href="{html.escape(href, quote=True)}" target="_blank" rel="noopener noreferrer" '
            f'title="{where}">{label}</a></sup>')


def _cited(value: str, by_n: dict[int, Citation], links) -> str:
    """Escaped text with its [n] markers as links to the cited documents (unknown numbers stay text)."""
    parts, last = [], 0
    for match in MARKER.finditer(value):
        parts.append(text(value[last:match.start()]))
        numbers = cited_numbers(match.group(0))
        parts.append("".join(cite_link(by_n[n], links) for n in numbers) if set(numbers) <= set(by_n)
                     else text(match.group(0)))
        last = match.end()
    parts.append(text(value[last:]))
    return "".join(parts).strip()


def plain_text(answer: Answer, links=None) -> str:
    """The answer as plain text, for Copy and for chat clients: the Markdown with [n], then one line
    per source (title › section, and where it opens)."""
    if answer.refused or not answer.citations:
        return answer.text
    lines = []
    for c in answer.citations:
        title = visible(c.title or c.source)
        where = f"{title} › {c.section}" if c.section and c.section != title else title
        lines.append(f"[{c.n}] {where} ({links.cite(c) if links else visible(c.source)})")
    return answer.text + "\n\nSources:\n" + "\n".join(lines)


def answer_body(answer: Answer, links=None) -> str:
    """The verified answer with the structure the answerer gave it: paragraphs, and list items as a
    list (an item's sentences together). Text is escaped; [n] link to their documents."""
    if answer.refused:
        return f'<span class="refusal">🚫 {text(answer.text)}</span>'
    by_n = {c.n: c for c in answer.citations}
    if not answer.sentences:
        return _cited(answer.text, by_n, links)

    def html_of(run) -> str:
        return " ".join(_cited(f"{s.text} " + "".join(f"[{n}]" for n in s.citations), by_n, links) for s in run)

    def item(group) -> str:
        return "".join(html_of(run) + code_html(code) for run, code in segments(group))

    def paragraph(group) -> str:
        return "".join(f"<p>{html_of(run)}</p>{code_html(code)}" for run, code in segments(group))

    return "".join(_nested_list([(item(g), d) for g, d in zip(groups, levels(groups))]) if is_list
                   else paragraph(groups[0]) for is_list, groups in blocks(answer.sentences))


def code_html(block: str) -> str:
    """A fenced block quoted from a passage as <pre><code>, escaped (its newlines too: a blank line would
    end the message's HTML block), its language as a class; "" for none."""
    if not block:
        return ""
    lines = block.split("\n")
    language = re.sub(r"[^\w+#.-]", "", lines[0].lstrip("`~"))
    kind = f' class="language-{language}"' if language else ""
    return f"<pre><code{kind}>{block_text(code_body(block))}</code></pre>"


def _nested_list(items: list[tuple[str, int]]) -> str:
    """<ul> of (html, depth) items, a deeper item's list inside the <li> of the item above it."""
    parts, depth = [], -1
    for body, level in items:
        if level > depth:
            parts.append("<ul>")
        else:
            parts.append("</li>")
            for _ in range(depth - level):
                parts.append("</ul></li>")
        depth = level
        parts.append(f"<li>{body}")
    parts.append("</li>" + "</ul></li>" * depth + "</ul>")
    return "".join(parts)


def answer_message(answer: Answer, links=None) -> str:
    """One chat message: the answer, its own expandable Sources, and a Copy control that copies plain
    text (the page's script reads .copy-text; the chat's own copy button would copy this HTML)."""
    body = answer_body(answer, links)
    # The chat's sanitizer drops data- attributes: the text to copy rides in a hidden element.
    copy = block_text(plain_text(answer, links))
    button = (f'<button class="copy-answer" type="button" title="Copy as plain text">Copy</button>'
              f'<span class="copy-text">{copy}</span>')
    if answer.refused or not answer.citations:
        return f'<div class="answer">{body}<div class="answer-tools">{button}</div></div>'
    entries = "".join(_source(c, _support(answer, c), links, block_text) for c in answer.citations)
    return (f'<div class="answer">{body}<details class="answer-sources"><summary>Sources '
            f'({len(answer.citations)})</summary>{entries}</details><div class="answer-tools">{button}</div></div>')


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


def highlight(passage: str, support: list[str] | str, escape=html.escape) -> str:
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
        parts.append(escape(passage[last:match.start()]))
        token = escape(match.group(0))
        parts.append(f"<mark>{token}</mark>" if hit else token)
        last = match.end()
    parts.append(escape(passage[last:]))
    return "".join(parts)


def _support(answer: Answer, citation: Citation) -> list[str]:
    return [s.text for s in answer.sentences if citation.n in s.citations]


def _source(citation: Citation, support: list[str], links=None, escape=html.escape) -> str:
    """One source entry; `escape` is html.escape in the side panel (plain HTML) and block_text in a
    chat message (HTML inside Markdown)."""
    title = escape(visible(citation.title or citation.source))
    href = links.cite(citation) if links else ""
    if href:
        title = (f'<a class="src-title" href="{html.escape(href, quote=True)}" target="_blank" '
                 f'rel="noopener noreferrer">{title}</a>')
    else:
        title = f'<span class="src-title">{title}</span>'
    section = escape(citation.section or "(no section)")
    return (f'<div class="src cited-{citation.n}">'
            f'<div class="src-head"><span class="src-n">&#91;{citation.n}&#93;</span> {title}</div>'
            f'<div class="src-section">{section} · <code>{escape(visible(citation.source))}</code></div>'
            f'<blockquote class="passage">{highlight(citation.text, support, escape)}</blockquote></div>')


def sources_panel(answer: Answer | None, links=None, turn: int | None = None) -> str:
    """The side panel: the sources of one answer (the latest, or the one the user clicked)."""
    if answer is None:
        return '<div class="sources empty">Sources appear here. Click an answer to see its sources.</div>'
    if answer.refused:
        return ('<div class="sources refused">No sources: the documents do not answer this question. '
                "The reply lists what they do cover; try one of those topics.</div>")
    if not answer.citations:  # small talk ("hi", "thanks"): a reply, not an answer from the documents
        return '<div class="sources empty">No sources: this reply does not come from the documents.</div>'
    heading = f"Sources of answer {turn + 1}" if turn is not None else "Sources"
    entries = "".join(_source(c, _support(answer, c), links) for c in answer.citations)
    question = html.escape(answer.question)
    return f'<div class="sources"><h3>{heading}</h3><div class="src-question">{question}</div>{entries}</div>'


def notice_panel(message: str) -> str:
    return f'<div class="sources notice">{html.escape(message)}</div>'


ABOUT_FIELDS = {"documents": "Documents", "chunks": "Passages", "units": "Sentences and list items",
                "embedding_model": "Embedding model", "answerer": "Answerer", "generation": "Index version",
                "built_at": "Index built"}


def about_panel(about: dict, collections: list[tuple[str, int, str]]) -> str:
    """Counts, models and index version (never server paths), and a credit line per corpus collection:
    (folder, documents, the first line of its NOTICE)."""
    rows = "".join(f"<tr><th>{label}</th><td>{html.escape(str(about.get(key, '')))}</td></tr>"
                   for key, label in ABOUT_FIELDS.items() if key in about)
    credits = "".join(f"<li><b>{html.escape(name)}</b>: {count} documents"
                      + (f" · {html.escape(notice)}" if notice else "") + "</li>"
                      for name, count, notice in collections) or "<li>(no documents)</li>"
    return f'<div class="about"><table>{rows}</table><h3>Corpus</h3><ul>{credits}</ul></div>'


CSS = """
.cite { text-decoration: none; font-weight: 600; }
.refusal { display: block; border-left: 4px solid #d97706; padding-left: .6em; font-style: italic; }
.notice { display: block; border-left: 4px solid #dc2626; padding-left: .6em; }
.answer-sources { margin-top: .6em; border-top: 1px solid var(--border-color-primary); padding-top: .3em; }
.answer-sources summary { cursor: pointer; font-weight: 600; font-size: .9em; }
.src { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6em; margin: .5em 0; }
.src-n { font-weight: 700; }
.src-title { font-weight: 600; }
.src-section { font-size: .85em; opacity: .8; margin: .2em 0; overflow-wrap: anywhere; }
.src-question { font-size: .85em; font-style: italic; opacity: .8; margin-bottom: .4em; }
.passage { white-space: pre-wrap; margin: .4em 0 0; padding-left: .6em; border-left: 3px solid #9ca3af;
           max-height: 18em; overflow-y: auto; }
/* Translucent amber under the theme's own text colour: readable on light and on dark backgrounds. */
.passage mark { background: rgba(245, 158, 11, .32); color: inherit; border-radius: 2px; padding: 0 1px; }
.answer pre { overflow-x: auto; max-height: 20em; padding: .5em .7em; border-radius: 6px; font-size: .88em; }
.answer-tools { margin-top: .4em; }
.copy-text { display: none; }
.copy-answer { font-size: .8em; padding: .1em .6em; border: 1px solid var(--border-color-primary);
               border-radius: 6px; background: transparent; color: inherit; cursor: pointer; }
.sources.refused { border-left: 4px solid #d97706; padding: .6em; }
.about th { text-align: left; padding-right: 1em; }
/* Phones: every answer carries its own Sources block, so the side panel (far below) is hidden. */
@media (max-width: 768px) { #sources-column { display: none !important; } }
"""

# Copy as plain text: the answer's hidden .copy-text holds the text with [n] and the source list.
HEAD = """<script>
document.addEventListener("click", function (event) {
  var button = event.target && event.target.closest ? event.target.closest(".copy-answer") : null;
  if (!button) return;
  event.preventDefault(); event.stopPropagation();
  var holder = button.parentElement ? button.parentElement.querySelector(".copy-text") : null;
  var text = holder ? holder.textContent : "";
  function done() { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 1500); }
  function fallback() {
    var area = document.createElement("textarea");
    area.value = text; area.style.position = "fixed"; area.style.opacity = "0";
    document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); done(); } finally { area.remove(); }
  }
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
  else fallback();
}, true);
</script>"""
