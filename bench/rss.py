"""Bench serving memory step by step: RSS after imports, wiring, the index load, the query embedder and answers.

Usage: python bench/rss.py [--question "What is MLOps?"] [--answers 3]
Runs on the index in ASSISTANT_INDEX_DIR (default index/); build it first with `assistant index`.
Peak RSS of a whole `assistant ask` process is bench/coldstart.py's; this shows where it goes and what
a serving process holds once warm.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_mb() -> dict:
    """Current and peak resident memory of this process, in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return {"rss_mb": round(pages * resource.getpagesize() / 2**20, 1),
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--question", default="What is MLOps?")
    parser.add_argument("--answers", type=int, default=3)
    args = parser.parse_args()
    steps = [("start", rss_mb())]
    from assistant.app import Assistant
    from assistant.config import Settings

    steps.append(("imports", rss_mb()))
    assistant = Assistant.from_settings(Settings())
    steps.append(("wired (store open)", rss_mb()))
    assistant.retriever.refresh()
    steps.append(("index loaded (BM25, unit matrix)", rss_mb()))
    assistant.embedder.encode([args.question])
    steps.append(("query embedder loaded", rss_mb()))
    for _ in range(args.answers):
        assistant.ask(args.question)
    steps.append((f"after {args.answers} answers", rss_mb()))
    for name, figures in steps:
        print(f"{name:34s} rss {figures['rss_mb']:7.1f} MB   peak {figures['peak_mb']:7.1f} MB")
    print(json.dumps(dict(steps)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
