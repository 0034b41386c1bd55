"""Source documents: the corpus files served read-only as rendered pages, so every citation opens."""

from __future__ import annotations

import base64
import html
import secrets

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse

from assistant.links import SOURCE_ROUTE, slug

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{title}</title>
<style>
:root {{ color-scheme: light dark; }}
body {{ font: 16px/1.55 ui-sans-serif, system-ui, sans-serif; max-width: 52rem; margin: 0 auto; padding: 1rem 1.2rem 4rem; }}
header {{ font-size: .85em; opacity: .75; border-bottom: 1px solid #8884; padding-bottom: .5em; margin-bottom: 1em; }}
pre, code {{ font-family: ui-monospace, monospace; font-size: .92em; }}
pre {{ overflow-x: auto; padding: .7em; border-radius: 6px; background: #8881; }}
table {{ border-collapse: collapse; display: block; overflow-x: auto; }}
th, td {{ border: 1px solid #8886; padding: .3em .6em; vertical-align: top; }}
h1, h2, h3, h4, h5, h6, #cited {{ scroll-margin-top: 1.5rem; }}
:target, .cited {{ background: rgba(245, 158, 11, .18); box-shadow: -.6rem 0 0 rgba(245, 158, 11, .18); }}
.cited {{ border-left: 3px solid #f59e0b; padding-left: .4rem; }}
a {{ color: #2563eb; }} @media (prefers-color-scheme: dark) {{ a {{ color: #93c5fd; }} }}
</style></head>
<body><header>{crumbs}{canonical}</header><main>{body}</main></body></html>"""


MARKED = ("paragraph_open", "heading_open", "list_item_open", "table_open", "blockquote_open")


def parse_span(at: str) -> tuple[int, int] | None:
    """"120-480" (a citation's character span in the document) -> (120, 480); anything else None."""
    first, sep, last = (at or "").partition("-")
    if not sep or not first.isdigit() or not last.isdigit() or int(last) <= int(first):
        return None
    return int(first), int(last)


def render_markdown(text: str, span: tuple[int, int] | None = None) -> str:
    """Document Markdown as HTML: raw HTML shown as text, no images (nothing is fetched), links only
    with http(s)/mailto/relative targets (markdown-it's validator), headings with GitHub-style ids.
    The blocks of the cited `span` are marked, the first with id="cited" (where the link scrolls)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").disable("image")
    tokens = md.parse(text)
    seen: dict[str, int] = {}
    lines = (text.count("\n", 0, span[0]), text.count("\n", 0, max(span[0], span[1] - 1))) if span else None
    cited = False
    for i, token in enumerate(tokens):
        if lines and token.type in MARKED and token.map and token.map[0] <= lines[1] and token.map[1] > lines[0]:
            token.attrJoin("class", "cited")
            if not cited and token.type != "heading_open":  # a heading keeps its own anchor
                token.attrSet("id", "cited")
                cited = True
        if token.type == "heading_open" and i + 1 < len(tokens):
            anchor = slug(tokens[i + 1].content) or "section"
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            token.attrSet("id", anchor if count == 0 else f"{anchor}-{count}")
        elif token.type == "inline":
            for child in token.children or ():
                if child.type == "link_open":
                    child.attrSet("rel", "noopener noreferrer nofollow")
    return md.renderer.render(tokens, md.options, {})


def document_page(assistant, source: str, span: tuple[int, int] | None = None) -> str:
    """The rendered page of one corpus file; raises 404 for anything that is not one (paths outside
    the corpus folder, hidden or legal files, unknown types)."""
    from assistant.corpus import indexable, load_file

    path = assistant.links.resolve(source)
    corpus_dir = assistant.links.corpus_dir
    if path is None or not indexable(path.relative_to(corpus_dir)):  # not a walk of the corpus per page
        raise HTTPException(404, "no such document in the corpus")
    try:
        doc = load_file(path, corpus_dir)
    except Exception:
        raise HTTPException(404, "the document cannot be read") from None
    canonical = assistant.links.canonical(doc.source)
    link = (f' · <a href="{html.escape(canonical, quote=True)}" rel="noopener noreferrer">original</a>'
            if canonical else "")
    crumbs = " › ".join(html.escape(part) for part in doc.source.split("/"))
    return PAGE.format(title=html.escape(doc.title), crumbs=crumbs, canonical=link, body=render_markdown(doc.text, span))


def _allowed(request: Request, credentials: tuple[str, str] | None, api_key: str) -> bool:
    """Loopback without --auth: open. Otherwise the web chat's user:password (HTTP Basic, which a
    browser asks for once) or the API's bearer key."""
    if not credentials and not api_key:
        return True
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if api_key and scheme.lower() == "bearer":
        return secrets.compare_digest(value.strip().encode(), api_key.encode())
    if credentials and scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except Exception:
            return False
        return (secrets.compare_digest(user.encode(), credentials[0].encode())
                & secrets.compare_digest(password.encode(), credentials[1].encode()))
    return False


def add_document_routes(app: FastAPI, assistant, credentials: tuple[str, str] | None = None, api_key: str = "") -> None:
    @app.get(f"/{SOURCE_ROUTE}/{{source:path}}", response_class=HTMLResponse, tags=["documents"])
    def source_document(source: str, request: Request, at: str = ""):
        """A corpus document, rendered read-only; citations link here at their section (#anchor)."""
        if not _allowed(request, credentials, api_key):
            raise HTTPException(401, "sign in to read the documents",
                                headers={"WWW-Authenticate": 'Basic realm="methodology assistant"'})
        page = document_page(assistant, source, parse_span(at))
        return HTMLResponse(page, headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                                                      "img-src 'none'; base-uri 'none'; form-action 'none'",
                                           "X-Content-Type-Options": "nosniff"})
