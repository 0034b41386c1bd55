"""Shared fixtures: every test runs in its own tmp_path; the shipped corpus is indexed once per session."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
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


def toy_assistant(root: Path, files: dict[str, str], **overrides):
    """An indexed Assistant over `files` alone (file name -> text), with the hashed bag-of-words embedder:
    a few documents that make one rule's case, in a second or two."""
    from assistant.app import Assistant
    from tests.fakes import HashEmbedder

    corpus = root / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (corpus / name).write_text(text)
    assistant = Assistant.from_settings(make_settings(root, corpus, **overrides), embedder=HashEmbedder())
    assistant.ensure_index(progress=False)
    return assistant


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nearest_chunks_by_unit(packs, query, n: int) -> dict[str, float]:
    """Brute force over (chunk id, unit vectors) pairs: the chunks of the n units nearest to `query`,
    best first, each at its best unit: what a unit search must return."""
    units = sorted(((float(v @ query), cid) for cid, vectors in packs for v in vectors), reverse=True)[:n]
    nearest: dict[str, float] = {}
    for similarity, cid in units:
        nearest.setdefault(cid, similarity)
    return nearest


def stored_ids_and_texts(store) -> tuple[list[str], list[str]]:
    """Ids and texts of every chunk in the active generation, read through the store's typed rows."""
    hits = [h for batch in store.iter_chunks(store.active_generation()) for h in batch]
    return [h.id for h in hits], [h.text for h in hits]


def feedback_rows(settings) -> list[dict]:
    """The stored votes as the old feedback.jsonl lines were (same keys), in the order first given."""
    from dataclasses import asdict

    from assistant.feedback import entries

    return [asdict(entry) for entry in entries(settings)]


PG_USER = "assistant-pg"  # PostgreSQL refuses to run as root; as root the server runs as this user


def postgres_bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


class Postgres:
    """A throw-away PostgreSQL server: its own data folder in /tmp, trust authentication, listening on
    127.0.0.1 only, on a free port; fsync off (nothing in it outlives the session)."""

    def __init__(self, bindir: Path):
        self.bindir, self.port, self.names = bindir, free_port(), itertools.count()
        self.runas = []
        if os.geteuid() == 0:
            if subprocess.run(["id", "-u", PG_USER], capture_output=True).returncode != 0:
                subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
                               check=True, capture_output=True)
            self.runas = ["runuser", "-u", PG_USER, "--"]
        self.root = Path(tempfile.mkdtemp(prefix="assistant-pg-"))  # pytest's tmp folders are root-only
        if self.runas:
            shutil.chown(self.root, PG_USER, PG_USER)
        self.data = self.root / "data"
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")

    def _run(self, tool: str, *args) -> None:
        done = subprocess.run([*self.runas, str(self.bindir / tool), *map(str, args)], cwd=self.root,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = (self.root / "server.log").read_text() if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stderr or done.stdout}\n{log[-2000:]}")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database on the server: one per test."""
        import psycopg

        name = f"t{os.getpid()}_{next(self.names)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the session (the binaries of the machine: initdb, pg_ctl, postgres);
    skipped only where none is installed."""
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (pg_ctl, initdb) on PATH or in /usr/lib/postgresql/*/bin")
    server = Postgres(bindir)
    server.start()
    yield server
    try:
        server.stop("immediate")
    except RuntimeError:
        pass  # a test left it stopped
    shutil.rmtree(server.root, ignore_errors=True)


DATABASE_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]


@pytest.fixture(params=DATABASE_BACKENDS)
def database_url(request, tmp_path) -> str:
    """An empty database: a SQLite file in this test's folder, or a new database on the session's server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'assistant.db'}"
    return request.getfixturevalue("postgres").create_database()
