"""Source documents served read-only: rendering, the cited passage, containment and sign-in."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.links import SourceLinks, slug
from ui.documents import add_document_routes, parse_span

GUIDE = """---
title: Release guide
---
# Release guide

## Benefits

Releases ship on Tuesdays. <script>window.x=1</script> ![pixel](http://127.0.0.1:9/p.png)

## Rollback

Roll back with one command.

## Benefits

A second section with the same heading.
"""


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    (root / "team").mkdir(parents=True)
    (root / "team" / "guide.md").write_text(GUIDE)
    (root / "team" / "NOTICE.md").write_text("# Notice\n")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.md").write_text("# Hidden\n")
    (root / "linked.md").write_text("---\nurl: https://wiki.example.org/linked\n---\n# Linked\n\nText here.\n")
    (root / "evil.md").write_text("---\nurl: javascript:alert(1)\n---\n# Evil\n\nText.\n")
    (tmp_path / "secret.txt").write_text("top secret")
    return root


def client(corpus, credentials=None, api_key="") -> TestClient:
    app = FastAPI()
    add_document_routes(app, SimpleNamespace(links=SourceLinks(corpus)), credentials, api_key)
    return TestClient(app)


def test_a_document_renders_inert_with_heading_anchors(corpus):
    response = client(corpus).get("/source/team/guide.md")
    assert response.status_code == 200 and "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert '<h2 id="benefits">' in page and '<h2 id="benefits-1">' in page and '<h2 id="rollback">' in page
    assert "<script>" not in page and "<img" not in page and "Releases ship on Tuesdays." in page


def test_the_cited_span_is_marked_where_the_link_scrolls(corpus):
    from assistant.corpus import load_file

    start = load_file(corpus / "team" / "guide.md", corpus).text.index("Roll back")  # offsets as chunks record them
    page = client(corpus).get(f"/source/team/guide.md?at={start}-{start + 20}").text
    assert '<p class="cited" id="cited">Roll back with one command.</p>' in page
    assert page.count('class="cited"') == 1
    assert parse_span("9-3") is None and parse_span("x-1") is None and parse_span("3-9") == (3, 9)
    assert 'id="cited"' not in client(corpus).get("/source/team/guide.md?at=junk").text


@pytest.mark.parametrize("path", ["../secret.txt", "%2e%2e/secret.txt", "team/../../secret.txt", ".hidden/x.md",
                                  "team/NOTICE.md", "nothing.md", "team", "/etc/passwd", "..%2fsecret.txt"])
def test_nothing_outside_the_corpus_documents_is_served(corpus, path):
    response = client(corpus).get(f"/source/{path}")
    assert response.status_code == 404 and "top secret" not in response.text


def test_sign_in_with_the_web_password_or_the_api_key(corpus):
    guarded = client(corpus, credentials=("ann", "s3cret"), api_key="k1")
    assert guarded.get("/source/team/guide.md").status_code == 401
    assert guarded.get("/source/team/guide.md").headers["www-authenticate"].startswith("Basic")
    basic = "Basic " + base64.b64encode(b"ann:s3cret").decode()
    assert guarded.get("/source/team/guide.md", headers={"Authorization": basic}).status_code == 200
    assert guarded.get("/source/team/guide.md", headers={"Authorization": "Bearer k1"}).status_code == 200
    wrong = "Basic " + base64.b64encode(b"ann:guess").decode()
    assert guarded.get("/source/team/guide.md", headers={"Authorization": wrong}).status_code == 401
    assert guarded.get("/source/team/guide.md", headers={"Authorization": "Bearer k2"}).status_code == 401


def test_links_prefer_a_documents_own_url_then_the_template_then_the_app(corpus):
    links = SourceLinks(corpus)
    assert links.href("linked.md", "Linked > Part two") == "https://wiki.example.org/linked#part-two"
    assert links.href("evil.md") == "source/evil.md"  # only http(s) front-matter URLs are trusted
    assert links.href("team/guide.md", "Benefits", 10, 40) == "source/team/guide.md?at=10-40#cited"
    assert links.href("team/guide.md", "Rollback") == "source/team/guide.md#rollback"
    templated = SourceLinks(corpus, template="https://git.example.org/blob/main/{path}")
    assert templated.href("team/guide.md", "Rollback") == "https://git.example.org/blob/main/team/guide.md#rollback"
    assert templated.canonical("../secret.txt") == ""
    assert links.rebased("https://chat.example.org").href("team/guide.md") == "https://chat.example.org/source/team/guide.md"
    page = client(corpus).get("/source/linked.md").text
    assert 'href="https://wiki.example.org/linked"' in page
    assert slug("What is CI/CD?") == "what-is-cicd"
