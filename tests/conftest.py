"""Shared fixtures: every test runs in its own tmp_path; the shipped corpus is indexed once per session."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from assistant.config import PROJECT_ROOT, Settings

# The tests are written against the article; the shipped playbook (corpus/engineering-playbook/)
# is exercised by the eval gate and the benchmarks, where its ~13k texts are embedded once.
ARTICLE = PROJECT_ROOT / "corpus" / "mlops-devops-modelops.md"
SHIPPED_CORPUS = ARTICLE.parent


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test reads or writes the checkout's index/ or data/, or a developer's .env."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("ASSISTANT_") and key != "ASSISTANT_TEST_GGUF":
            monkeypatch.delenv(key)
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(tmp_path / "corpus"))
    yield


def make_settings(tmp: Path, corpus: Path | None = None, **overrides) -> Settings:
    return Settings(corpus_dir=corpus or tmp / "corpus", index_dir=tmp / "index", data_dir=tmp / "data",
                    **overrides)


def copy_corpus(dest: Path) -> Path:
    """A corpus folder holding the shipped article (not the playbook: tests index it many times)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ARTICLE, dest / ARTICLE.name)
    return dest


@pytest.fixture(scope="session")
def embedder():
    from assistant.embeddings import Embedder, load_model

    return Embedder(load_model())


@pytest.fixture(scope="session")
def shipped(tmp_path_factory, embedder):
    """An Assistant over the shipped corpus, indexed once for the read-only tests."""
    from assistant.app import Assistant

    root = tmp_path_factory.mktemp("shipped")
    settings = make_settings(root, corpus=copy_corpus(root / "corpus"))
    assistant = Assistant.from_settings(settings, embedder=embedder)
    assistant.ensure_index(progress=False)
    return assistant


def assistant_with(root: Path, embedder, extra: dict[str, str], **overrides):
    """An indexed Assistant over the shipped corpus plus `extra` documents (file name -> text)."""
    from assistant.app import Assistant

    corpus = copy_corpus(root / "corpus")
    for name, text in extra.items():
        (corpus / name).write_text(text)
    assistant = Assistant.from_settings(make_settings(root, corpus, **overrides), embedder=embedder)
    assistant.ensure_index(progress=False)
    return assistant


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stored_ids_and_texts(store) -> tuple[list[str], list[str]]:
    """Ids and texts of every chunk in the active generation, read through the store's typed rows."""
    hits = [h for batch in store.iter_chunks(store.active_generation()) for h in batch]
    return [h.id for h in hits], [h.text for h in hits]
