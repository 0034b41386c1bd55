"""Benchmarks: index throughput, re-index, search and ask latency against their floors (one command).

Usage: python bench/core.py [--no-playbook]   (writes bench/results/core.json and prints a table)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import QUESTIONS, latency, save, table, timed  # noqa: E402

from assistant.config import PROJECT_ROOT, Settings  # noqa: E402

def build_corpus(root: Path, playbook: bool) -> Path:
    """The shipped corpus (article + playbook), or the article alone."""
    corpus = root / "corpus"
    if playbook:
        shutil.copytree(PROJECT_ROOT / "corpus", corpus)
        return corpus
    corpus.mkdir(parents=True)
    for path in (PROJECT_ROOT / "corpus").glob("*.md"):
        shutil.copy(path, corpus / path.name)
    return corpus


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-playbook", dest="playbook", action="store_false",
                        help="index only the shipped article (the playbook's 244 documents make the throughput "
                             "figure meaningful)")
    parser.add_argument("--repeats", type=int, default=5, help="passes over the question list for latency")
    args = parser.parse_args()

    from assistant.app import Assistant
    from assistant.embeddings import Embedder, load_model
    from assistant.indexing import embedding_text, unit_embedding_text

    root = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        settings = Settings(corpus_dir=build_corpus(root, args.playbook), index_dir=root / "index",
                            data_dir=root / "data")
        embedder = Embedder(load_model())
        embedder.encode(["warm up the model"])
        assistant = Assistant.from_settings(settings, embedder=embedder)
        store, retriever = assistant.store, assistant.retriever

        index_ms, stats = timed(assistant.index, progress=False)
        # Bare floor: model.encode on exactly the texts the indexer embedded (chunks and their units).
        from assistant.chunking import chunk_document
        from assistant.corpus import load_corpus

        docs, _ = load_corpus(settings.corpus_dir)
        chunks = [c for d in docs for c in chunk_document(d)]
        texts = [embedding_text(c) for c in chunks] + [unit_embedding_text(c, u) for c in chunks for u in c.units]
        bare_ms, _ = timed(embedder.model.encode, texts, batch_size=settings.embedding_batch_size,
                           normalize_embeddings=True, show_progress_bar=False)
        index_tps, bare_tps = len(texts) / (index_ms / 1000), len(texts) / (bare_ms / 1000)
        reindex_ms, again = timed(assistant.index, progress=False)

        retriever.refresh()
        # The floor is raw Chroma, so this reaches past the store's typed API on purpose.
        with store._using() as view:
            chunk_col = store._cols(view, retriever.generation)[0]
        for q in QUESTIONS:  # settle: Chroma compacts what was just written on the first queries
            assistant.search(q)
        questions = QUESTIONS * args.repeats
        search_ms, floor_ms, ask_ms = [], [], []
        for q in questions:  # interleaved, so machine noise hits all three alike
            floor_ms.append(timed(lambda: chunk_col.query(query_embeddings=[embedder.encode([q])[0]],
                                                          n_results=settings.k, include=["distances"]))[0])
            search_ms.append(timed(assistant.search, q)[0])
            ask_ms.append(timed(assistant.ask, q)[0])
        search, floor, ask = latency(search_ms), latency(floor_ms), latency(ask_ms)
        payload = {
            "corpus": {"documents": stats.documents, "chunks": stats.chunks, "texts_embedded": len(texts)},
            "index": {"seconds": round(index_ms / 1000, 2), "texts_per_s": round(index_tps, 1),
                      "bare_encode_texts_per_s": round(bare_tps, 1), "ratio": round(index_tps / bare_tps, 3)},
            "reindex_unchanged": {"seconds": round(reindex_ms / 1000, 3), "embedded": again.embedded},
            "search": search, "floor": floor, "search_p50_ratio": round(search["p50_ms"] / floor["p50_ms"], 2),
            "ask_extractive": ask,
        }
        path = save("core", payload)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(table([
        ("index throughput (texts/s)", f"{index_tps:.1f}", f"bare encode {bare_tps:.1f}",
         f"ratio {index_tps / bare_tps:.2f} (>= 0.9)"),
        ("re-index unchanged", f"{reindex_ms / 1000:.2f} s, {again.embedded} embedded", "", "<= 2 s, 0"),
        ("search p50 / p95 (ms)", f"{search['p50_ms']} / {search['p95_ms']}",
         f"floor {floor['p50_ms']} / {floor['p95_ms']}", f"p50 ratio {payload['search_p50_ratio']} (<= 1.5)"),
        ("ask (extractive) p50 / p95 (ms)", f"{ask['p50_ms']} / {ask['p95_ms']}", "", "p95 <= 100"),
    ]))
    print(f"\n{stats.documents} documents, {stats.chunks} chunks, {len(texts)} texts embedded; written {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
