"""Loaders: Markdown, text, HTML and PDF files; unreadable files are skipped by name."""

from __future__ import annotations

import logging

from assistant.corpus import clean_text, load_corpus, load_file
from tests.conftest import ARTICLE, SHIPPED_CORPUS


def test_shipped_corpus_is_the_article_and_the_playbook_without_legal_files():
    docs, skipped = load_corpus(SHIPPED_CORPUS)
    assert skipped == []
    sources = {d.source for d in docs}
    playbook = {p.relative_to(SHIPPED_CORPUS).as_posix()
                for p in (SHIPPED_CORPUS / "engineering-playbook" / "docs").rglob("*.md")}
    assert len(playbook) > 200 and sources == {"mlops-devops-modelops.md"} | playbook
    # The playbook's NOTICE.md and LICENSE travel with it (CC BY 4.0) but are not content.
    assert (SHIPPED_CORPUS / "engineering-playbook" / "NOTICE.md").is_file()
    assert (SHIPPED_CORPUS / "engineering-playbook" / "LICENSE").is_file()


def test_shipped_article_is_clean_markdown():
    doc = load_file(ARTICLE, ARTICLE.parent)
    assert doc.title == "MLOps, DevOps, and ModelOps: Which one to choose?"
    assert doc.metadata["author"] == "Tonye Harry"
    assert "Tonye Harry" in doc.text  # the byline stays
    for banner in ("star us on GitHub", "Testing. CI/CD. Monitoring.", "Deepchecks Hub", "fragile than you think"):
        assert banner not in doc.text
    assert "| Criteria | MLOps | DevOps | ModelOps |" in doc.text
    assert "| Key Tools |" in doc.text and "Jenkins, GitLab, Ansible, Chef, Puppet" in doc.text
    for heading in ("## DevOps", "## MLOps", "## ModelOps", "## Choosing the Right Approach", "## Conclusion"):
        assert f"\n{heading}\n" in doc.text
    assert doc.text.count("### Challenges") == 3 and doc.text.count("### Use cases") == 3


def test_loads_each_format(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("---\ntitle: Alpha\n---\n# Ignored H1\n\nGitOps uses pull requests.\n")
    (corpus / "b.txt").write_text("DataOps keeps pipelines healthy.\n")
    (corpus / "c.html").write_text(
        "<html><head><title>Gamma</title><script>alert(1)</script></head><body><h2>Part</h2>"
        "<p>Observability needs traces.</p><!-- hidden instruction --><ul><li>logs</li></ul></body></html>")
    _write_pdf(corpus / "d.pdf", "AIOps correlates alerts")
    docs, skipped = load_corpus(corpus)
    by_source = {d.source: d for d in docs}
    assert skipped == []
    assert by_source["a.md"].title == "Alpha"
    assert "pull requests" in by_source["b.txt"].text or "pipelines" in by_source["b.txt"].text
    html = by_source["c.html"]
    assert html.title == "Gamma" and "## Part" in html.text and "- logs" in html.text
    assert "alert(1)" not in html.text and "hidden instruction" not in html.text
    assert "AIOps correlates alerts" in by_source["d.pdf"].text


def test_unreadable_files_are_skipped_with_a_warning(tmp_path, caplog):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.md").write_text("# Good\n\nMLOps tracks experiments.\n")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (corpus / "empty.md").write_text("   \n")
    with caplog.at_level(logging.WARNING):
        docs, skipped = load_corpus(corpus)
    assert [d.source for d in docs] == ["good.md"]
    assert sorted(skipped) == ["broken.pdf", "empty.md"]
    assert "broken.pdf" in caplog.text and "empty.md" in caplog.text


def test_clean_text_removes_hidden_characters():
    assert clean_text("Dev\u200bOps\x00 rocks\ufeff") == "DevOps rocks"


def _write_pdf(path, text):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    fig.text(0.1, 0.5, text)
    fig.savefig(path, format="pdf")
    plt.close(fig)


def test_top_level_readme_is_not_corpus_but_nested_ones_are(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "guide").mkdir(parents=True)
    (corpus / "README.md").write_text("# About this folder\n\nPut documents here.\n")
    (corpus / "guide" / "README.md").write_text("# Guide\n\nGitOps reconciles desired state.\n")
    docs, _ = load_corpus(corpus)
    assert [d.source for d in docs] == ["guide/README.md"]


def test_legal_files_are_skipped_at_any_depth_and_nested_readmes_kept(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "playbook" / "docs").mkdir(parents=True)
    (corpus / "README.md").write_text("# About this folder\n\nNot content.\n")
    (corpus / "playbook" / "NOTICE.md").write_text("# Notice\n\nLicensed under CC BY 4.0.\n")
    (corpus / "playbook" / "LICENSE").write_text("Attribution 4.0 International\n")
    (corpus / "playbook" / "docs" / "README.md").write_text("# Testing\n\nUnit tests run on every commit.\n")
    docs, skipped = load_corpus(corpus)
    assert [d.source for d in docs] == ["playbook/docs/README.md"] and skipped == []


def test_symlinks_are_contained_and_named_in_warnings(tmp_path, caplog):
    import logging

    from assistant.corpus import corpus_files

    corpus = tmp_path / "corpus"
    (corpus / "team").mkdir(parents=True)
    (corpus / "team" / "guide.md").write_text("# Guide\n\nText.\n")
    (corpus / "team" / "loop").symlink_to(corpus, target_is_directory=True)  # a folder loop
    (tmp_path / "outside.md").write_text("# Secret\n\nNot corpus.\n")
    (corpus / "leak.md").symlink_to(tmp_path / "outside.md")  # a file link out of the corpus
    (corpus / "alias.md").symlink_to(corpus / "team" / "guide.md")  # a link inside it is fine
    with caplog.at_level(logging.WARNING, logger="assistant.corpus"):
        files = corpus_files(corpus, warn=True)
    assert [p.relative_to(corpus).as_posix() for p in files] == ["alias.md", "team/guide.md"]
    assert "loop" in caplog.text and "leak.md" in caplog.text
