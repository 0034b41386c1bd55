"""Bench at scale: search and ask latency against the floor, and serving memory, at growing corpus sizes.

Usage: python bench/scale.py [--sizes 100 1000 10000] [--large] [--keep]   (--large adds 100,000 chunks)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import QUESTIONS, RESULTS, latency, save, table, timed  # noqa: E402


def rss_mb() -> dict:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            name, value = line.split(":")
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": fields.get("VmRSS"), "peak_rss_mb": fields.get("VmHWM")}


def serve(index_dir: str, corpus_dir: str, repeats: int) -> dict:
    """Runs in a fresh process: what a serving process costs at this size."""
    from assistant.app import Assistant
    from assistant.config import Settings

    settings = Settings(index_dir=Path(index_dir), corpus_dir=Path(corpus_dir), data_dir=Path(index_dir) / "data")
    started = time.perf_counter()
    phases = {"start": rss_mb()["rss_mb"]}
    assistant = Assistant.from_settings(settings)
    phases["opened"] = rss_mb()["rss_mb"]
    assistant.warm_up()
    phases["warm"] = rss_mb()["rss_mb"]
    load_s = time.perf_counter() - started
    retriever, embedder = assistant.retriever, assistant.embedder
    # The floor is raw Chroma, so this reaches past the store's typed API on purpose.
    with assistant.store._using() as view:
        chunks = assistant.store._cols(view, retriever.generation)[0]
    search_ms, floor_ms, ask_ms = [], [], []
    for q in QUESTIONS * repeats:
        floor_ms.append(timed(lambda: chunks.query(query_embeddings=[embedder.encode([q])[0]],
                                                   n_results=settings.k, include=["distances"]))[0])
        search_ms.append(timed(assistant.search, q)[0])
        ask_ms.append(timed(assistant.ask, q)[0])
    phases["served"] = rss_mb()["rss_mb"]
    units = retriever._units
    return {"load_s": round(load_s, 2), "search": latency(search_ms), "floor": latency(floor_ms),
            "ask": latency(ask_ms), "bm25_mb": round(retriever._bm25.nbytes / 2**20, 1), **rss_mb(),
            "rss_phases_mb": phases, "embedding_runtime": embedder.runtime,
            "unit_search": "exact matrix" if units is not None else "candidates' packs",
            "unit_matrix_mb": round(units.nbytes / 2**20, 1) if units is not None else 0.0,
            "answer_check": assistant.ask("Which tools are used in DevOps?").text[:120]}


def build(size: int, root: Path, pool: list[str], composed) -> dict:
    from assistant.config import Settings
    from assistant.indexing import index_corpus
    from assistant.store import Store
    from bench.generate import generate

    corpus = generate(root / "corpus", size, pool)
    settings = Settings(corpus_dir=corpus, index_dir=root / "index", data_dir=root / "data")
    seconds, stats = timed(index_corpus, settings, Store.open(settings), composed, progress=False)
    # The composed embedder has no ONNX export to make: without one, the serving process would load
    # torch (~600 MB more) where `assistant index` leaves a torch-free server.
    from assistant.embeddings import Embedder

    Embedder.from_settings(settings).ensure_export()
    return {"chunks": stats.chunks, "documents": stats.documents, "index_s": round(seconds / 1000, 1),
            "index_dir": str(settings.index_dir), "corpus_dir": str(corpus)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000, 10000])
    parser.add_argument("--large", action="store_true", help="add the 100,000-chunk corpus (about 10 minutes)")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep each size's index and corpus (to profile them)")
    parser.add_argument("--serve", nargs=2, metavar=("INDEX_DIR", "CORPUS_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        print(json.dumps(serve(*args.serve, args.repeats)))
        return 0

    from assistant.chunking import chunk_document
    from assistant.config import PROJECT_ROOT
    from assistant.corpus import load_corpus
    from assistant.embeddings import Embedder, load_model
    from assistant.indexing import embedding_text, unit_embedding_text
    from bench.composed import ComposedEmbedder
    from bench.generate import sentence_pool

    real = Embedder(load_model())
    pool = sentence_pool()
    composed = ComposedEmbedder(real, pool)
    docs, _ = load_corpus(PROJECT_ROOT / "corpus")  # the article itself gets real vectors
    article = [t for c in chunk_document(docs[0]) for t in [embedding_text(c)] + [unit_embedding_text(c, u)
                                                                                  for u in c.units]]
    composed.cache.update(zip(article, real.encode(article)))

    sizes = sorted(set(args.sizes + ([100_000] if args.large else [])))
    results = []
    for size in sizes:
        root = Path(tempfile.mkdtemp(prefix=f"scale-{size}-"))
        try:
            built = build(size, root, pool, composed)
            proc = subprocess.run([sys.executable, __file__, "--serve", built["index_dir"], built["corpus_dir"],
                                   "--repeats", str(args.repeats)], capture_output=True, text=True, check=True)
            served = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append({"size": size, **{k: v for k, v in built.items() if not k.endswith("_dir")}, **served})
            print(f"  {size} chunks: built in {built['index_s']} s, search p50 {served['search']['p50_ms']} ms",
                  file=sys.stderr)
        finally:
            if args.keep:
                print(f"  kept {root} (index/ and corpus/ of {size} chunks)", file=sys.stderr)
            else:
                shutil.rmtree(root, ignore_errors=True)
    # Merge with earlier sizes (the 100k run is usually a run of its own), newest figures win.
    previous = RESULTS / "scale.json"
    if previous.exists():
        kept = [r for r in json.loads(previous.read_text()).get("results", []) if r["size"] not in sizes]
        results = sorted(kept + results, key=lambda r: r["size"])
    path = save("scale", {"results": results, "embedder": "composed (see bench/composed.py)"})
    rows = []
    for r in results:
        rows.append((f"{r['chunks']} chunks: search p50/p95 (ms)", f"{r['search']['p50_ms']} / {r['search']['p95_ms']}",
                     f"floor {r['floor']['p50_ms']} / {r['floor']['p95_ms']}",
                     f"ratio {r['search']['p50_ms'] / r['floor']['p50_ms']:.2f} (<= 1.5)"
                     + (", p95 <= 50" if r["size"] >= 10000 else "")))
        rows.append((f"{r['chunks']} chunks: ask p50/p95 (ms)", f"{r['ask']['p50_ms']} / {r['ask']['p95_ms']}", "",
                     "p95 <= 150" if r["size"] == 10000 else ""))
        rows.append((f"{r['chunks']} chunks: serving RSS (MB)", f"{r['rss_mb']} (peak {r['peak_rss_mb']})",
                     f"BM25 {r['bm25_mb']} MB, units: {r.get('unit_search', 'HNSW')}, index {r['index_s']} s",
                     "<= 1536" if r["size"] == 100000 else ""))
    print(table(rows))
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
