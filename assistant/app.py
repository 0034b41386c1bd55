"""Wire: the one place that builds store, embedder, retriever, answerer and verifier from settings."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from assistant.config import Settings
from assistant.errors import UserError
from assistant.types import Answer, IndexStats, Retrieval


_SURROGATE = re.compile("[\ud800-\udfff]")


def check_question(question: object, max_chars: int, subject: str = "the documents in the corpus") -> str:
    """The same rules for every front end: CLI, web, Slack and eval."""
    if isinstance(question, bytes):
        try:
            question = question.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError("the question is not text (it contains bytes that are not UTF-8)") from None
    if not isinstance(question, str):
        raise UserError("the question must be text")
    if _SURROGATE.search(question):
        # Lone surrogates: undecodable bytes of a command line (Python's surrogateescape) or "\ud800"
        # sent as JSON. No tokenizer accepts them, and guessing the encoding would change the question.
        raise UserError("the question is not valid UTF-8 text (check your terminal's or client's encoding)")
    from assistant.corpus import clean_text

    cleaned = " ".join(clean_text(question).split())
    if not cleaned:
        raise UserError(f"the question is empty: type a question about {subject}")
    if len(cleaned) > max_chars:
        raise UserError(f"the question is too long ({len(cleaned)} characters; the limit is {max_chars})")
    return cleaned


def limit_blas_threads(threads: int) -> None:
    """At most `threads` BLAS threads in this process (0: leave the library's default); see Settings."""
    if threads > 0:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api="blas")


class Assistant:
    """The wired parts; built once per process by `from_settings`, with no side effects on the index."""

    def __init__(self, settings: Settings, store, embedder, retriever, profile, chain=None, links=None):
        from assistant.links import SourceLinks

        self.settings, self.store, self.embedder, self.retriever = settings, store, embedder, retriever
        self.profile, self.chain = profile, chain
        self.links = links or SourceLinks(settings.corpus_dir, settings.source_url_template, settings.public_url)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, embedder=None, chat_model=None) -> "Assistant":
        """Wire every part from settings; `embedder` or `chat_model` given here replace the configured ones.
        Opens the store but never indexes: callers that may start on an empty store call `ensure_index`."""
        from assistant.chain import build_chain
        from assistant.domain import load_profile
        from assistant.embeddings import Embedder
        from assistant.rerank import RerankWeights
        from assistant.retrieval import HybridRetriever
        from assistant.snapshot import snapshot_files
        from assistant.store import Store

        settings = settings or Settings()
        limit_blas_threads(settings.blas_threads)
        profile = load_profile(settings.domain_file)
        store = Store.open(settings)
        embedder = embedder or Embedder.from_settings(settings)
        retriever = HybridRetriever(store, embedder, settings.k, settings.candidates, settings.rrf_k,
                                    generic_headings=frozenset(profile.generic_headings),
                                    rerank=RerankWeights(pool=settings.rerank_pool),
                                    snapshots=snapshot_files(settings), kinds_named=profile.document_kinds_named)
        chain = build_chain(settings, retriever, embedder, chat_model=chat_model, profile=profile)
        return cls(settings, store, embedder, retriever, profile, chain)

    def has_index(self) -> bool:
        return self.store.active_generation() is not None

    def ensure_index(self, progress: bool = True) -> IndexStats | None:
        """Build the index when there is none yet (first `make run`); None when one exists."""
        return None if self.has_index() else self.index(progress=progress)

    def index(self, rebuild: bool = False, progress: bool = True) -> IndexStats:
        from assistant.indexing import index_corpus

        stats = index_corpus(self.settings, self.store, self.embedder, rebuild=rebuild, progress=progress)
        self.retriever.refresh(max_age_s=0)  # serve the new generation now, not within a second
        return stats

    def check(self, question: object) -> str:
        return check_question(question, self.settings.max_question_chars, self.profile.subject)

    def search(self, question: str, k: int | None = None) -> Retrieval:
        return self.retriever.retrieve(self.check(question), k=k)

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        return self.chain.invoke(self.check(question), tuple(history))

    def stream(self, question: str, history: Sequence[str] = ()) -> Iterator[str | Answer]:
        """Text pieces as they are produced, then the verified Answer (which may differ: the
        verifier removes what the sources do not support)."""
        yield from self.chain.stream(self.check(question), tuple(history))

    @property
    def index_version(self) -> str:
        """The active index generation: logged with feedback so a vote can be tied to what answered."""
        return self.store.active_generation() or ""

    def warm_up(self) -> None:
        """Load the model, the BM25 index and the spelling word list before the first user waits for them."""
        self.retriever.retrieve("warm up the model, the BM25 index and the vector index")
        if self.settings.correct_spelling:
            from assistant.spelling import english

            english("warm")  # the English word list loads once, in about 0.2 s

    def about(self) -> dict:
        info = self.store.info()
        chunks, units = self.store.count(info["generation"]) if info.get("generation") else (0, 0)
        return {"corpus_dir": str(self.settings.corpus_dir), "index": self.store.where,
                "documents": info.get("documents", 0), "chunks": chunks, "units": units,
                "embedding_model": info.get("model", ""), "answerer": self.chain.answerer.name,
                "built_at": info.get("built_at", ""), "generation": info.get("generation", "")}
