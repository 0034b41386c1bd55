"""Load: read .md, .txt, .html and .pdf files of the corpus folder into Markdown documents."""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path, PurePath

from assistant.types import Document

log = logging.getLogger(__name__)

SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")
MAX_FILE_BYTES = 20 * 1024 * 1024
# Characters that hide text from a human reader but not from a model.
_INVISIBLE = re.compile("[\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_INVISIBLE_ELEMENTS = re.compile(r"<(script|style|iframe|noscript|template|object|embed)\b.*?(?:</\1\s*>|\Z)", re.I | re.S)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


def clean_text(text: str) -> str:
    """Normalise Unicode and drop invisible or control characters (hidden-text injection)."""
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    return _CONTROL.sub("", text)


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        log.warning("%s: not valid UTF-8; undecodable bytes replaced", path)
        return raw.decode("utf-8", errors="replace")


def _front_matter(text: str) -> tuple[dict, str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    import yaml

    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError:
        meta = {}
    return (meta if isinstance(meta, dict) else {}), text[match.end():]


def _first_heading(text: str) -> str | None:
    match = re.search(r"^#\s+(.+?)\s*#*\s*$", text, re.M)
    return match.group(1).strip() if match else None


def _strip_markup(text: str) -> str:
    """Raw HTML in Markdown, outside code: what a reader of the rendered page never sees (comments,
    scripts, styles, tags themselves) is dropped; the text inside ordinary tags stays."""
    parts = re.split(r"(^\s*(?:```|~~~).*?^\s*(?:```|~~~)[^\n]*$)", text, flags=re.M | re.S)
    for i in range(0, len(parts), 2):  # even parts are outside fenced code
        part = _HTML_COMMENT.sub("", parts[i])
        part = _INVISIBLE_ELEMENTS.sub("", part)
        parts[i] = _TAG.sub("", part)
    return "".join(parts)


def front_matter(path: Path) -> dict:
    """A Markdown file's YAML front matter (title, url ...), {} when it has none."""
    return _front_matter(clean_text(_decode(path.read_bytes(), path)))[0]


def load_markdown(path: Path) -> tuple[str, dict]:
    meta, body = _front_matter(clean_text(_decode(path.read_bytes(), path)))
    return _strip_markup(body), meta


def load_text(path: Path) -> tuple[str, dict]:
    return clean_text(_decode(path.read_bytes(), path)), {}


def load_html(path: Path) -> tuple[str, dict]:
    """What a reader of the page sees, as Markdown: text a browser does not render (scripts, styles,
    comments, hidden elements, CSS-hidden text from style attributes or the page's own stylesheet) never
    comes out. One pass, linear in the input however deep the nesting (see assistant/html_text.py)."""
    from assistant.html_text import html_to_markdown

    text, title = html_to_markdown(_decode(path.read_bytes(), path))
    return clean_text(text), ({"title": title} if title else {})


def load_pdf(path: Path) -> tuple[str, dict]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    pages = [page.extract_text() or "" for page in reader.pages]
    meta = reader.metadata or {}
    title = getattr(meta, "title", None)
    return clean_text("\n\n".join(pages)), ({"title": title} if title else {})


LOADERS: dict[str, Callable[[Path], tuple[str, dict]]] = {
    ".md": load_markdown, ".markdown": load_markdown, ".txt": load_text,
    ".html": load_html, ".htm": load_html, ".pdf": load_pdf,
}


LEGAL_FILES = {"notice.md", "notice.txt", "license", "license.md", "license.txt"}


def indexable(relative: PurePath) -> bool:
    """Whether a path under the corpus folder names a document (the rules of corpus_files, for one
    path): a loadable type, nothing hidden, no NOTICE or LICENSE, not the folder's own README."""
    name = relative.name.lower()
    return (relative.suffix.lower() in SUFFIXES and name not in LEGAL_FILES
            and not any(part.startswith(".") for part in relative.parts)
            and not (len(relative.parts) == 1 and name == "readme.md"))


def corpus_files(corpus_dir: Path, warn: bool = False) -> list[Path]:
    """Every loadable file under the folder, in a stable order. A README at the top describes the
    folder, not the subject (in subfolders a README is usually content and is kept); a NOTICE or
    LICENSE is a legal file wherever it is (a copied corpus must carry them, but they answer nothing).
    Symlinked folders are not followed (a loop, or a tree outside the corpus), symlinked files only
    when they point inside it; with `warn`, each folder or link left out is logged by name."""
    if not corpus_dir.is_dir():
        return []
    root = corpus_dir.resolve()
    note = log.warning if warn else log.debug

    def unreadable(error: OSError) -> None:
        note("skipped unreadable folder %s: %s", error.filename, error.strerror)

    found = []
    for folder, dirs, files in os.walk(corpus_dir, onerror=unreadable):
        here = Path(folder)
        for name in list(dirs):
            if (here / name).is_symlink():
                note("skipped symlinked folder %s (links to folders are not followed)", here / name)
                dirs.remove(name)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            path = here / name
            if not indexable(path.relative_to(corpus_dir)):
                continue
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                note("skipped %s: a link to a file outside the corpus folder", path)
                continue
            if path.is_file():
                found.append(path)
    return sorted(found)


def collections(corpus_dir: Path) -> list[tuple[str, int, str]]:
    """The corpus by top-level folder (or file): (name, documents, credit), where the credit is the
    heading of the folder's NOTICE and the first line of its LICENSE; for the About view."""
    counts: dict[str, int] = {}
    for path in corpus_files(corpus_dir):
        name = path.relative_to(corpus_dir).parts[0]
        counts[name] = counts.get(name, 0) + 1
    out = []
    for name, count in counts.items():
        folder, credit = corpus_dir / name, []
        for legal in ("NOTICE.md", "NOTICE.txt", "LICENSE", "LICENSE.md", "LICENSE.txt"):
            if folder.is_dir() and (folder / legal).is_file():
                lines = [ln.strip("# \ufeff") for ln in (folder / legal).read_text(errors="replace").splitlines()]
                first = next((ln for ln in lines if ln and not set(ln) <= set("=-")), "")
                if first:
                    credit.append(first if legal.startswith("NOTICE") else f"license: {first}")
        out.append((name, count, " · ".join(dict.fromkeys(credit))))
    return out


def load_file(path: Path, corpus_dir: Path) -> Document:
    """Load one file; raises on anything unreadable (the caller decides to skip)."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB ({size} bytes)")
    text, meta = LOADERS[path.suffix.lower()](path)
    if not text.strip():
        raise ValueError("no text")
    rel = path.relative_to(corpus_dir).as_posix()
    title = str(meta.get("title") or _first_heading(text) or path.stem.replace("-", " ").title())
    return Document(source=rel, title=title, text=text, metadata=meta)


def load_corpus(corpus_dir: Path) -> tuple[list[Document], list[str]]:
    """All readable documents, plus the relative paths of the files skipped (each logged)."""
    documents, skipped = [], []
    for path in corpus_files(corpus_dir, warn=True):
        try:
            documents.append(load_file(path, corpus_dir))
        except Exception as exc:  # one broken file must not stop the rest from indexing
            rel = path.relative_to(corpus_dir).as_posix()
            log.warning("skipped %s: %s", rel, exc)
            skipped.append(rel)
    return documents, skipped
