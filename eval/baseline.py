"""Eval baseline: the "tutorial" pipeline (1000/200 character splitter, dense-only top-4, same model)."""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from assistant.text import split_sentences
from assistant.corpus import load_corpus


@dataclass(frozen=True)
class BaselinePassage:
    id: str
    source: str
    section: str
    text: str


@dataclass(frozen=True)
class BaselineAnswer:
    text: str
    passages: tuple[BaselinePassage, ...]  # retrieved, best first; [n] cites passages[n-1]
    sentences: tuple[dict, ...]  # {"text", "citations": [n]}


def _section_at(text: str, offset: int, title: str) -> str:
    """The heading path in force at a character offset (the splitter knows nothing of headings)."""
    path: list[tuple[int, str]] = []
    for match in re.finditer(r"^(#{1,6})\s+(.+?)\s*$", text[:offset + 1], re.M):
        level = len(match.group(1))
        path = [p for p in path if p[0] < level] + [(level, match.group(2))]
    names = [h for level, h in path if level > 1]
    return " > ".join(names) or title


class TutorialPipeline:
    """What a LangChain tutorial builds: split, embed, store in Chroma, take the top 4 by similarity.
    Without an LLM here, it answers with the 3 sentences of those passages closest to the question
    (embedded at question time) and never refuses."""

    name = "baseline (1000/200 splitter, dense top-4)"

    def __init__(self, corpus_dir, embedder, k: int = 4, sentences: int = 3):
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.embedder, self.k, self.sentences = embedder, k, sentences
        documents, _ = load_corpus(corpus_dir)
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
        texts, metas = [], []
        for doc in documents:
            for piece in splitter.create_documents([doc.text], metadatas=[{"source": doc.source}]):
                start = piece.metadata["start_index"]
                texts.append(piece.page_content)
                metas.append({"source": doc.source, "section": _section_at(doc.text, start, doc.title)})
        self._dir = tempfile.TemporaryDirectory(prefix="baseline-")
        client = chromadb.PersistentClient(path=self._dir.name, settings=ChromaSettings(anonymized_telemetry=False))
        self.store = Chroma(collection_name="tutorial", embedding_function=embedder, client=client,
                            collection_metadata={"hnsw:space": "cosine"})
        self.store.add_texts(texts, metadatas=metas, ids=[f"b{i}" for i in range(len(texts))])

    def ask(self, question: str, history=()) -> tuple[BaselineAnswer, float]:
        started = time.perf_counter()
        docs = self.store.similarity_search(question, k=self.k)  # the tutorial ignores history
        passages = tuple(BaselinePassage(d.id or "", d.metadata["source"], d.metadata["section"], d.page_content)
                         for d in docs)
        candidates = [(n, s) for n, p in enumerate(passages, 1) for s in split_sentences(p.text.replace("\n", " "))]
        if candidates:
            vectors = self.embedder.encode([s for _, s in candidates])
            scores = vectors @ self.embedder.encode([question])[0]
            best = sorted(np.argsort(-scores)[:self.sentences])
            chosen = [candidates[i] for i in best]
        else:
            chosen = []
        text = " ".join(f"{s} [{n}]" for n, s in chosen)
        sentences = tuple({"text": s, "citations": [n]} for n, s in chosen)
        return BaselineAnswer(text, passages, sentences), (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self._dir.cleanup()
