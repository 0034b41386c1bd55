"""Scale-out path: the same code against a real `chroma run` server on a loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.errors import StoreUnavailable
from tests.conftest import copy_corpus, free_port, make_settings

pytestmark = pytest.mark.slow
CHROMA = Path(sys.executable).with_name("chroma")


def start_chroma(path: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    import urllib.request

    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError("chroma run did not come up")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


@pytest.fixture
def chroma_server(tmp_path):
    port = free_port()
    proc = start_chroma(tmp_path / "chroma-server", port)
    yield f"http://127.0.0.1:{port}", proc
    if proc.poll() is None:
        stop(proc)


def test_index_and_query_through_chroma_server(tmp_path, chroma_server):
    url, _ = chroma_server
    settings = make_settings(tmp_path, copy_corpus(tmp_path / "corpus"), chroma_url=url)
    assistant = Assistant.from_settings(settings)
    assistant.ensure_index(progress=False)
    assert assistant.store.where == url
    hits = assistant.search("Which configuration management tools belong to DevOps?", k=3).hits
    assert any("Ansible" in h.text for h in hits)
    again = assistant.index(progress=False)
    assert again.embedded == 0 and again.chunks > 20
    assert not (tmp_path / "index" / "chroma").exists()  # nothing went to the embedded store


def test_dead_server_gives_a_clear_retryable_error(tmp_path, chroma_server):
    url, proc = chroma_server
    settings = make_settings(tmp_path, copy_corpus(tmp_path / "corpus"), chroma_url=url)
    assistant = Assistant.from_settings(settings)
    assistant.ensure_index(progress=False)
    assistant.search("What is MLOps?")
    stop(proc)
    with pytest.raises(StoreUnavailable, match=url.replace(".", r"\.")):
        assistant.search("What is ModelOps?")


def test_writers_on_a_chroma_server_take_turns_through_the_lease(tmp_path, chroma_server):
    import threading

    from assistant.errors import UserError
    from assistant.indexing import Lease, index_corpus
    from assistant.store import Store
    from tests.fakes import HashEmbedder

    url, _ = chroma_server
    settings = make_settings(tmp_path, copy_corpus(tmp_path / "corpus"), chroma_url=url)
    first, second = Lease(Store.open(settings)), Lease(Store.open(settings))
    first.acquire()
    with pytest.raises(UserError, match="another `assistant index`"):
        second.acquire()
    first.release()
    second.acquire()  # free again
    second.store.put_lease("a dead writer", 0.0)  # a lapsed lease is taken over
    first.acquire()
    first.release()

    # Two rebuilds at once: one waits its turn (refused), the other switches to a complete index.
    outcomes = []

    def rebuild():
        try:
            outcomes.append(index_corpus(settings, Store.open(settings), HashEmbedder(), rebuild=True, progress=False))
        except UserError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=rebuild) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    done = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, UserError)]
    assert len(done) == 1 and len(refused) == 1 and "another" in str(refused[0])
    store = Store.open(settings)
    assert store.count(store.active_generation())[0] == done[0].chunks and store.leftovers() == []


def test_unit_packs_through_chroma_server(tmp_path, chroma_server):
    """Units and their vectors live in the store (no file beside it), so every worker on the server reads them."""
    import numpy as np

    from assistant.store import Store
    from tests.test_unitvectors import chunk, unit_vectors

    url, _ = chroma_server
    store = Store.open(make_settings(tmp_path, chroma_url=url))
    chunks = [chunk(i) for i in range(4)]
    packs = [unit_vectors(3, 20 + i) for i in range(4)]
    store.upsert("g", chunks, unit_vectors(4, 1), packs, {"doc0.md": "h", "doc1.md": "h"})
    store.activate("g", model="test", format=7)
    other = Store.open(make_settings(tmp_path / "other", chroma_url=url))  # another worker
    units = other.units_of("g", ["c2"])
    assert [u.text for u in units] == list(chunks[2].units)
    assert np.abs(np.stack([u.vector for u in units]) - packs[2]).max() <= 1e-3
    assert other.count("g") == (4, 12)
    store.delete("g", ["c2"])
    assert other.units_of("g", ["c2"]) == [] and other.count("g") == (3, 9)
