"""Faults: a dead Chroma server, a killed indexer, two indexers, crashes while writing, backup/restore."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.backup import export_index, import_index
from assistant.errors import StoreUnavailable, UserError
from assistant.files import append_jsonl, read_jsonl, write_atomic
from assistant.store import Store
from tests.conftest import PROJECT_ROOT, copy_corpus, free_port, make_settings, stored_ids_and_texts
from tests.test_store_server import start_chroma, stop

pytestmark = pytest.mark.slow
PLAYBOOK = PROJECT_ROOT / "corpus" / "engineering-playbook" / "docs"


def test_chroma_killed_mid_questions_then_back(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_chroma(tmp_path / "server", port)
    try:
        settings = make_settings(tmp_path, copy_corpus(tmp_path / "corpus"), chroma_url=url)
        assistant = Assistant.from_settings(settings)
        assistant.ensure_index(progress=False)
        before = assistant.ask("Which tools are used in DevOps?")
        stop(proc)
        for question in ("What is MLOps?", "What are the benefits of ModelOps?"):
            with pytest.raises(StoreUnavailable, match="try again"):
                assistant.ask(question)
        proc = start_chroma(tmp_path / "server", port)
        after = assistant.ask("Which tools are used in DevOps?")  # the same process, resumed
        assert after.text == before.text and after.citations
    finally:
        if proc.poll() is None:
            stop(proc)


def _index_until_first_batch(corpus, root, rebuild, ready):
    """Child process: index, signal after the first batch is stored, then hang until killed."""
    from assistant import indexing
    from assistant.embeddings import Embedder
    from assistant.indexing import index_corpus

    indexing.EMBED_BATCH = 16  # small batches, so the kill lands with most of the work still to do

    settings = make_settings(root, corpus)
    store = Store.open(settings)
    original = store.upsert

    def upsert(*args, **kwargs):
        original(*args, **kwargs)
        ready.set()
        time.sleep(600)

    store.upsert = upsert
    index_corpus(settings, store, Embedder.from_settings(settings), rebuild=rebuild, progress=False)


def kill_mid_index(corpus, root, rebuild):
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    child = ctx.Process(target=_index_until_first_batch, args=(corpus, root, rebuild, ready))
    child.start()
    try:
        assert ready.wait(240), "the indexer never stored a batch"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)


@pytest.fixture
def bigger_corpus(tmp_path):
    corpus = copy_corpus(tmp_path / "corpus")
    docs = sorted(p for p in PLAYBOOK.rglob("*.md"))[:25]
    if not docs:
        pytest.skip("the engineering playbook corpus is not beside the checkout")
    for i, doc in enumerate(docs):
        (corpus / f"playbook-{i:03d}.md").write_text(doc.read_text(errors="replace"))
    return corpus


def test_interrupted_rebuild_keeps_serving_and_the_next_index_completes(tmp_path, bigger_corpus, embedder):
    settings = make_settings(tmp_path, bigger_corpus)
    store = Store.open(settings)
    from assistant.indexing import index_corpus

    first = index_corpus(settings, store, embedder, progress=False)
    generation = store.active_generation()
    del store
    kill_mid_index(bigger_corpus, tmp_path, rebuild=True)

    store = Store.open(settings)
    assert store.active_generation() == generation  # the half-built generation never served
    assert store.count(generation)[0] == first.chunks
    assert store.leftovers()  # ... and it is there, unfinished
    again = index_corpus(settings, store, embedder, progress=False)
    assert again.embedded == 0 and store.leftovers() == [] and again.chunks == first.chunks


def test_interrupted_incremental_index_resumes_without_duplicates(tmp_path, bigger_corpus, embedder):
    from assistant.indexing import index_corpus

    playbook = sorted(bigger_corpus.glob("playbook-*.md"))
    aside = tmp_path / "aside"
    aside.mkdir()
    for path in playbook:
        path.rename(aside / path.name)
    settings = make_settings(tmp_path, bigger_corpus)
    small = index_corpus(settings, Store.open(settings), embedder, progress=False)
    for path in aside.iterdir():
        path.rename(bigger_corpus / path.name)
    kill_mid_index(bigger_corpus, tmp_path, rebuild=False)

    store = Store.open(settings)
    resumed = index_corpus(settings, store, embedder, progress=False)
    assert 0 < resumed.embedded < resumed.chunks - small.chunks  # the first batch was kept
    ids, _ = stored_ids_and_texts(store)
    reference = index_corpus(make_settings(tmp_path / "ref", bigger_corpus), Store.open(
        make_settings(tmp_path / "ref", bigger_corpus)), embedder, progress=False)
    assert len(ids) == len(set(ids)) == reference.chunks  # no duplicate, no orphan
    chunks, units = store.count(store.active_generation())
    ref_store = Store.open(make_settings(tmp_path / "ref", bigger_corpus))
    assert (chunks, units) == ref_store.count(ref_store.active_generation())


def test_second_indexer_process_is_refused(tmp_path):
    copy_corpus(tmp_path / "corpus")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from assistant.config import Settings; from assistant.indexing import index_lock\n"
        "with index_lock(Settings()):\n    print('locked', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = subprocess.run([sys.executable, "-m", "assistant", "index"], capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 2 and "another `assistant index`" in result.stderr
        assert "Chroma server" in result.stderr  # says how to get several writers
    finally:
        holder.kill()
        holder.wait()


def test_write_atomic_keeps_the_old_file_on_a_crash(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    write_atomic(path, '{"ok": 1}')

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_atomic(path, '{"ok": 2, "half')
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temp file left behind


def test_jsonl_log_survives_a_damaged_line(tmp_path):
    path = tmp_path / "feedback.jsonl"
    append_jsonl(path, [{"vote": "up"}])
    with path.open("a") as fh:
        fh.write('{"vote": "do')  # what a crashed non-atomic writer would leave
    append_jsonl(path, [{"vote": "down"}])
    assert [r["vote"] for r in read_jsonl(path)] == ["up", "down"]


def test_backup_round_trip_keeps_chunks_and_rankings(tmp_path, shipped):
    backup = tmp_path / "index.jsonl.gz"
    counts = export_index(shipped.store, backup)
    assert counts["chunks"] == shipped.store.count(shipped.store.active_generation())[0]
    questions = [json.loads(line)["question"] for line in
                 (PROJECT_ROOT / "eval" / "questions.jsonl").read_text().splitlines()[:20]]
    before = {q: [h.id for h in shipped.search(q, k=5).hits] for q in questions}

    settings = make_settings(tmp_path / "restored", copy_corpus(tmp_path / "restored" / "corpus"))
    store = Store.open(settings)
    assert import_index(store, backup) == counts
    restored = Assistant.from_settings(settings, )
    assert store.count(store.active_generation()) == shipped.store.count(shipped.store.active_generation())
    assert {q: [h.id for h in restored.search(q, k=5).hits] for q in questions} == before
    assert restored.index(progress=False).embedded == 0  # the restored index is current


def test_import_of_a_damaged_backup_changes_nothing(tmp_path, shipped):
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(b"not gzip at all")
    generation = shipped.store.active_generation()
    with pytest.raises(UserError, match="not an index backup"):
        import_index(shipped.store, bad)
    assert shipped.store.active_generation() == generation


def test_serving_process_follows_a_rebuild_by_another_process(tmp_path):
    settings = make_settings(tmp_path, copy_corpus(tmp_path / "corpus"))
    assistant = Assistant.from_settings(settings)
    assistant.ensure_index(progress=False)
    before = assistant.ask("Which tools are used in DevOps?")
    old = assistant.retriever.generation
    result = subprocess.run([sys.executable, "-m", "assistant", "index", "--rebuild", "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    after = assistant.ask("Which tools are used in DevOps?")  # the generation it held was dropped
    assert after.text == before.text and assistant.retriever.generation != old


def _rewrite(source: Path, dest: Path, edit) -> Path:
    """A copy of a backup with its lines changed by `edit(lines) -> lines`."""
    import gzip

    with gzip.open(source, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    with gzip.open(dest, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(edit(lines)) + "\n")
    return dest


def _set(line: str, **changes) -> str:
    row = json.loads(line)
    for key, value in changes.items():
        if key == "meta":
            row["meta"].update(value)
        else:
            row[key] = value
    return json.dumps(row)


@pytest.mark.parametrize("name, edit", [
    ("cut to 60 lines", lambda lines: lines[:60]),
    ("header only", lambda lines: lines[:1]),
    ("units only", lambda lines: [lines[0]] + [ln for ln in lines[1:] if '"kind": "unit"' in ln] + [lines[-1]]),
    ("a changed text", lambda lines: [lines[0], _set(lines[1], text="PWNED"), *lines[2:]]),
    ("a short vector", lambda lines: [lines[0], _set(lines[1], vector=[0.1, 0.2]), *lines[2:]]),
    ("a bad metadata value", lambda lines: [lines[0], _set(lines[1], meta={"start": {"nested": 1}}), *lines[2:]]),
    ("a line that is no object", lambda lines: [lines[0], "[1, 2]", *lines[1:]]),
    ("a row of unknown kind", lambda lines: [lines[0], _set(lines[1], kind="thing"), *lines[2:]]),
])
def test_a_tampered_or_incomplete_backup_is_refused_and_the_index_untouched(tmp_path, shipped, name, edit):
    good = tmp_path / "good.jsonl.gz"
    export_index(shipped.store, good)
    bad = _rewrite(good, tmp_path / "bad.jsonl.gz", edit)
    settings = make_settings(tmp_path / "target", copy_corpus(tmp_path / "target" / "corpus"))
    store = Store.open(settings)
    import_index(store, good)
    generation, counts = store.active_generation(), store.count(store.active_generation())
    collections = sorted(c if isinstance(c, str) else c.name for c in store.client.list_collections())
    with pytest.raises(UserError) as raised:
        import_index(store, bad)
    assert "\n" not in str(raised.value) and "current index is unchanged" in str(raised.value), name
    assert store.active_generation() == generation and store.count(generation) == counts
    assert sorted(c if isinstance(c, str) else c.name for c in store.client.list_collections()) == collections


def test_a_failed_feedback_write_is_a_sentence_not_an_error(tmp_path, shipped):
    from ui.web import new_state, record_vote

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the data folder should be")
    settings = shipped.settings.model_copy(update={"data_dir": blocked})
    answer = shipped.ask("What are the benefits of ModelOps?")
    state = {**new_state(), "id": "c1", "questions": [answer.question], "answers": [answer]}
    status = record_vote(shipped, settings, state, "up", turn=0)
    assert status.startswith("Your feedback could not be saved") and "Errno" not in status
