"""Bench cold start: `assistant ask` as a whole process (onnxruntime, and torch) next to a minimal LangChain + Chroma script.

Usage: python bench/coldstart.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import save, table  # noqa: E402

QUESTION = "Which tools are used in DevOps?"


def wall(cmd: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def peak_rss_mb(cmd: list[str], env: dict) -> float:
    """The process' peak resident memory, from GNU time (-f %M: kilobytes)."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], check=True, capture_output=True, env=env, text=True)
    return round(int(out.stderr.strip().splitlines()[-1]) / 1024, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from assistant.config import PROJECT_ROOT

    root = Path(tempfile.mkdtemp(prefix="coldstart-"))
    try:
        env = {**os.environ, "ASSISTANT_INDEX_DIR": str(root / "index"),
               "ASSISTANT_CORPUS_DIR": str(PROJECT_ROOT / "corpus"), "ASSISTANT_DATA_DIR": str(root / "data")}
        cli = [sys.executable, "-m", "assistant"]
        subprocess.run(cli + ["index", "--json"], check=True, capture_output=True, env=env)
        from assistant.config import Settings
        from assistant.store import Store

        settings = Settings(index_dir=root / "index")
        collection = f"{settings.collection}-{Store.open(settings).active_generation()}-chunks"
        minimal = [sys.executable, str(Path(__file__).with_name("minimal_langchain.py")),
                   str(settings.chroma_path), collection, QUESTION]
        ours, torch_runs, theirs, imports = [], [], [], []
        torch_env = {**env, "ASSISTANT_EMBEDDING_RUNTIME": "torch"}
        for _ in range(args.runs):  # alternate, so machine noise hits all alike
            ours.append(wall(cli + ["ask", QUESTION, "--json"], env))
            torch_runs.append(wall(cli + ["ask", QUESTION, "--json"], torch_env))
            theirs.append(wall(minimal, env))
            imports.append(wall([sys.executable, "-c", "import ui.cli"], env))
        rss_onnx = peak_rss_mb(cli + ["ask", QUESTION, "--json"], env)
        rss_torch = peak_rss_mb(cli + ["ask", QUESTION, "--json"], torch_env)
        reindex = wall(cli + ["index", "--json"], env)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result = {"assistant_ask_s": round(statistics.median(ours), 2),
              "assistant_ask_torch_s": round(statistics.median(torch_runs), 2),
              "ask_peak_rss_mb_onnx": rss_onnx, "ask_peak_rss_mb_torch": rss_torch,
              "minimal_langchain_s": round(statistics.median(theirs), 2),
              "ratio": round(statistics.median(ours) / statistics.median(theirs), 2),
              "cli_import_s": round(statistics.median(imports), 2), "reindex_unchanged_process_s": round(reindex, 2),
              "runs": args.runs, "samples": {"assistant": ours, "minimal": theirs}}
    path = save("coldstart", result)
    print(table([
        ("cold `assistant ask` (s, median)", result["assistant_ask_s"], f"minimal script {result['minimal_langchain_s']}",
         f"ratio {result['ratio']} (<= 1.0)"),
        ("cold `assistant ask`, sentence-transformers on torch (s)", result["assistant_ask_torch_s"], "", "before"),
        ("`assistant ask` peak RSS, onnxruntime / torch (MB)", f"{rss_onnx} / {rss_torch}", "", "<= 300"),
        ("`import ui.cli` (s)", result["cli_import_s"], "", ""),
        ("`assistant index` unchanged, whole process (s)", result["reindex_unchanged_process_s"], "", "<= 2"),
    ]))
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
