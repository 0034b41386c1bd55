"""Shared fixtures: every test runs in its own tmp_path; the shipped corpus is indexed once per session."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from assistant.config import PROJECT_ROOT, Settings

SHIPPED_CORPUS = PROJECT_ROOT / "corpus"


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
    shutil.copytree(SHIPPED_CORPUS, dest, dirs_exist_ok=True)
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
    return Assistant.from_settings(settings, embedder=embedder)


def assistant_with(root: Path, embedder, extra: dict[str, str], **overrides):
    """An indexed Assistant over the shipped corpus plus `extra` documents (file name -> text)."""
    from assistant.app import Assistant

    corpus = copy_corpus(root / "corpus")
    for name, text in extra.items():
        (corpus / name).write_text(text)
    return Assistant.from_settings(make_settings(root, corpus, **overrides), embedder=embedder)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
