"""Source links: where a citation opens (a document's canonical URL, or the app's read-only copy)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import quote

SOURCE_ROUTE = "source"  # the web app serves corpus documents read-only under /source/<path>
_NON_SLUG = re.compile(r"[^\w\- ]+")


def slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces as hyphens; so one anchor
    works on the app's copy of a document and on its GitHub/wiki original."""
    text = unicodedata.normalize("NFKC", heading).strip().lower()
    return _NON_SLUG.sub("", text).replace(" ", "-")


def section_anchor(section: str) -> str:
    """The anchor of a citation's innermost heading ("Monitoring > Drift" -> "drift")."""
    last = (section or "").split(" > ")[-1].strip()
    return slug(last) if last else ""


class SourceLinks:
    """Links for citations. A document's front matter `url:` wins; else `template` (e.g.
    "https://github.com/org/repo/blob/main/{path}") maps the corpus path to a wiki or repository;
    else the app's read-only copy at `<base>/source/<path>` ("" base: a link relative to the page)."""

    def __init__(self, corpus_dir: Path, template: str = "", base: str = ""):
        self.corpus_dir = Path(corpus_dir).resolve()
        self.template, self.base = template, base.rstrip("/")
        self._front: dict[str, tuple[float, str]] = {}

    def rebased(self, base: str) -> "SourceLinks":
        """The same links with absolute app addresses under `base` (an API reply leaves the page)."""
        other = SourceLinks(self.corpus_dir, self.template, self.base or base)
        other._front = self._front
        return other

    def resolve(self, source: str) -> Path | None:
        """The corpus file named by a citation's path, or None for anything outside the corpus folder."""
        if not source or "\x00" in source or source.startswith(("/", "\\")):
            return None
        path = (self.corpus_dir / source).resolve()
        if not path.is_relative_to(self.corpus_dir) or not path.is_file():
            return None
        return path

    def _front_matter_url(self, source: str) -> str:
        path = self.resolve(source)
        if path is None or path.suffix.lower() not in (".md", ".markdown"):
            return ""
        mtime = path.stat().st_mtime
        cached = self._front.get(source)
        if cached and cached[0] == mtime:
            return cached[1]
        from assistant.corpus import front_matter

        url = str(front_matter(path).get("url") or "").strip()
        url = url if url.startswith(("https://", "http://")) else ""  # never a javascript: or file: link
        self._front[source] = (mtime, url)
        return url

    def canonical(self, source: str) -> str:
        """The document's own address outside this app, or "" when none is known."""
        url = self._front_matter_url(source)
        if not url and self.template and self.resolve(source) is not None:
            url = self.template.replace("{path}", quote(source))
        return url

    def local(self, source: str, section: str = "", start: int = 0, end: int = 0) -> str:
        """The app's copy: with the passage's character span, the page marks that passage and scrolls
        to it (#cited); without, it scrolls to the section's heading."""
        if end > start >= 0:
            fragment = f"?at={start}-{end}#cited"
        else:
            anchor = section_anchor(section)
            fragment = f"#{anchor}" if anchor else ""
        path = f"{SOURCE_ROUTE}/{quote(source)}{fragment}"
        return f"{self.base}/{path}" if self.base else path

    def href(self, source: str, section: str = "", start: int = 0, end: int = 0) -> str:
        """Where a citation opens: the canonical URL at the section when known, else the app's copy
        at the passage itself."""
        url = self.canonical(source)
        if url:
            anchor = section_anchor(section)
            return url if "#" in url or not anchor else f"{url}#{anchor}"
        return self.local(source, section, start, end)

    def cite(self, citation) -> str:
        """`href` for a Citation record."""
        return self.href(citation.source, citation.section, citation.start, citation.end)
