"""Property-based: any text the loaders, chunker and question checks can meet never crashes them."""

from __future__ import annotations

import logging
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.app import check_question
from assistant.chunking import chunk_document, words
from assistant.corpus import load_corpus
from assistant.errors import UserError
from assistant.types import Document

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
markdownish = st.text(alphabet=st.sampled_from(list(string.printable) + ["#", "|", "-", "*", "`", "é", "中", "\u200b",
                                                                         "\x00", "\ufeff", "🙂"]), max_size=3000)


@FAST
@given(text=st.one_of(st.text(max_size=3000), markdownish))
def test_chunker_never_crashes_and_keeps_limits(text):
    doc = Document(source="x.md", title="X", text=text)
    chunks = chunk_document(doc)
    for chunk in chunks:
        assert chunk.id and chunk.section is not None
        assert 0 <= chunk.start <= chunk.end <= len(text) + 1
        if chunk.kind != "table":
            assert words(chunk.text) <= 250
    assert len({c.id for c in chunks}) == len(chunks)


@FAST
@given(raw=st.binary(max_size=4000), suffix=st.sampled_from([".md", ".txt", ".html", ".pdf"]))
def test_loaders_skip_or_load_any_bytes(tmp_path_factory, raw, suffix):
    corpus = tmp_path_factory.mktemp("c")
    (corpus / f"file{suffix}").write_bytes(raw)
    (corpus / "good.md").write_text("# Good\n\nMLOps tracks experiments.\n")
    docs, skipped = load_corpus(corpus)
    assert "good.md" in [d.source for d in docs]
    assert len(docs) + len(skipped) == 2
    for doc in docs:
        assert "\x00" not in doc.text and doc.text.strip()


@FAST
@given(question=st.text(max_size=2600))
def test_question_check_accepts_or_explains(question):
    try:
        cleaned = check_question(question, 2000)
    except UserError as exc:
        assert "empty" in str(exc) or "too long" in str(exc)
    else:
        assert cleaned == cleaned.strip() and 0 < len(cleaned) <= 2000
        assert not any(ord(c) < 32 for c in cleaned)


def test_deep_nesting_huge_tables_and_big_files(tmp_path, caplog):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    nested = "\n".join("#" * (1 + i % 6) + f" Level {i}\n\n" + "  " * (i % 40) + f"- item {i}" for i in range(3000))
    (corpus / "nested.md").write_text(nested)
    table = "| a | b | c |\n| --- | --- | --- |\n" + "\n".join(f"| r{i} | {'x ' * 30} | y{i} |" for i in range(5000))
    (corpus / "table.md").write_text(table)
    (corpus / "big.txt").write_text("DevOps pipelines deliver software. " * 300_000)  # about 10 MB
    (corpus / "huge.md").write_bytes(b"a" * (21 * 1024 * 1024))  # over the 20 MB limit
    (corpus / "nul.txt").write_bytes(b"MLOps\x00 tracks\x00 models \xff\xfe invalid utf-8")
    (corpus / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> broken")
    with caplog.at_level(logging.WARNING):
        docs, skipped = load_corpus(corpus)
    sources = {d.source: d for d in docs}
    assert {"nested.md", "table.md", "big.txt", "nul.txt"} <= set(sources)
    assert "huge.md" in skipped and "corrupt.pdf" in skipped
    assert "huge.md" in caplog.text and "corrupt.pdf" in caplog.text
    assert "MLOps tracks models" in sources["nul.txt"].text
    table_chunks = chunk_document(sources["table.md"])
    # Rows packed per chunk (about 250 words each), every row kept as a citable unit.
    assert len(table_chunks) < 1000 and all(c.kind == "table" for c in table_chunks)
    assert sum(len(c.units) for c in table_chunks) == 5000 and "y4999" in table_chunks[-1].text
    assert len(chunk_document(sources["nested.md"])) > 10


@pytest.mark.parametrize("question, message", [
    ("", "empty"), (" \t\n", "empty"), ("\x00\x01\x02", "empty"), ("q" * 2001, "too long"),
    (b"\xff\xfe", "not text"),
])
def test_bad_questions_get_a_clear_message(question, message):
    with pytest.raises(UserError, match=message):
        check_question(question, 2000)


@pytest.mark.parametrize("question", ["¿Qué es MLOps?", "MLOps 是什么？", "Что такое DevOps?", "What is\tMLOps\x07?"])
def test_other_languages_and_control_characters_pass(question):
    cleaned = check_question(question, 2000)
    assert cleaned and "\x07" not in cleaned and "\t" not in cleaned
