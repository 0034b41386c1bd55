"""Benchmark suite: every bench script in turn, each in its own process, then one table.

Usage: python bench/run.py [--large] [--only core scale coldstart server webload]
Writes bench/results/<name>.json and bench/results/summary.md; about 9 minutes on 2 cores
(--large adds the 100,000-chunk corpus: about 15 minutes more).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITE = {
    "core": ["core.py"],
    "scale": ["scale.py"],
    "coldstart": ["coldstart.py"],
    "server": ["server.py"],
    "webload": ["webload.py"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="add the 100,000-chunk scale run")
    parser.add_argument("--only", nargs="*", choices=list(SUITE), help="run only these parts")
    args = parser.parse_args()
    parts, tables, failed = args.only or list(SUITE), [], []
    for name in parts:
        cmd = [sys.executable, str(HERE / SUITE[name][0])] + (["--large"] if name == "scale" and args.large else [])
        started = time.time()
        print(f"== {name}", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.strip() and not line.startswith("written")]
        tables.append(f"### {name} ({time.time() - started:.0f} s)\n\n```\n" + "\n".join(lines) + "\n```\n")
        if proc.returncode != 0:
            failed.append(name)
            tables[-1] += f"\nfailed (exit {proc.returncode}):\n```\n{proc.stderr[-2000:]}\n```\n"
    summary = "\n".join(tables)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "summary.md").write_text(summary)
    print(summary)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
