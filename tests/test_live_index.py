"""A serving process sees every committed index change (added, changed, removed documents) without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from assistant.config import PROJECT_ROOT
from tests.conftest import assistant_with

pytestmark = pytest.mark.slow

ZEBRA = """# Zebra release train

## Cadence

The Zebra release train ships a new platform build every second Thursday at noon. Each Zebra build
is signed by the release captain before it reaches the staging ring, and the staging ring soaks the
build for forty-eight hours before production.
"""
QUESTION = "How often does the Zebra release train ship a new platform build?"


def index_in_another_process(settings) -> dict:
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(settings.index_dir), "ASSISTANT_CORPUS_DIR": str(settings.corpus_dir),
           "ASSISTANT_DATA_DIR": str(settings.data_dir), "ASSISTANT_EMBEDDING_RUNTIME": "torch", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "assistant", "index", "--json"], env=env, capture_output=True,
                         text=True, timeout=300, cwd=PROJECT_ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def answer_within(assistant, question: str, wanted, seconds: float = 5.0):
    deadline = time.monotonic() + seconds
    while True:
        answer = assistant.ask(question)
        if wanted(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.3)


def cites_zebra(answer) -> bool:
    return not answer.refused and any(c.source == "zebra.md" for c in answer.citations)


def test_incremental_changes_reach_a_running_assistant(tmp_path, embedder):
    serving = assistant_with(tmp_path, embedder, {})
    assert not cites_zebra(serving.ask(QUESTION))  # warm: BM25 and the collections are loaded

    (serving.settings.corpus_dir / "zebra.md").write_text(ZEBRA)
    assert index_in_another_process(serving.settings)["embedded"] >= 1
    answer = answer_within(serving, QUESTION, cites_zebra)
    assert cites_zebra(answer), answer.text

    (serving.settings.corpus_dir / "zebra.md").write_text(ZEBRA.replace("second Thursday", "Monday morning"))
    assert index_in_another_process(serving.settings)["embedded"] >= 1
    answer = answer_within(serving, QUESTION, lambda a: "Monday morning" in a.text)
    assert "Monday morning" in answer.text and "second Thursday" not in answer.text

    (serving.settings.corpus_dir / "zebra.md").unlink()
    assert index_in_another_process(serving.settings)["deleted"] >= 1
    answer = answer_within(serving, QUESTION, lambda a: not cites_zebra(a))
    assert not cites_zebra(answer) and "Zebra" not in " ".join(c.text for c in answer.citations)


def test_reopening_keeps_one_copy_of_the_store_plus_those_in_use(tmp_path, embedder):
    """Every index change reopens the embedded store; the copies replaced must be closed (each held
    20-35 MB), yet a call still running on one must finish on it."""
    from assistant.store import live_copies

    serving = assistant_with(tmp_path, embedder, {})
    store, generation = serving.store, serving.store.active_generation()
    path = str(serving.settings.chroma_path)

    def ours() -> set[str]:
        return {p for p in live_copies() if p.startswith(path)}

    vector = serving.retriever.embed_query(QUESTION)
    for _ in range(20):
        store.reopen()
        assert store.query_chunks(generation, vector, 3) and store.count(generation)[0] > 0
        assert len(ours()) == 1
    assert ours() <= {path, path + "/."}  # spellings are reused, not one per reopen

    with store._using() as busy:  # a call in flight on the current copy...
        chunks, _ = store._cols(busy, generation)
        store.reopen()
        store.reopen()
        assert len(ours()) == 2  # ...keeps it open beside the fresh one, not one per reopen
        assert chunks.count() > 0  # and it still answers
    assert len(ours()) == 1 and busy.client is None  # closed once the call is done
    assert serving.ask("What are the benefits of ModelOps?").citations  # answered from the fresh copy
