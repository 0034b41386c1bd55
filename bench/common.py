"""Benchmark helpers: timing, percentiles, result files and a readable table."""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
QUESTIONS = [
    "Which tools are used in DevOps?", "What happened at Merck?", "What are the challenges of MLOps?",
    "When should I choose ModelOps?", "How does MLOps differ from DevOps?", "What is DataOps?",
    "Which companies used MLOps?", "What are the benefits of ModelOps?", "Who wrote the article?",
    "What does infrastructure as code mean?", "Why is MLOps expensive?", "What is model governance?",
]


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    idx = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[idx]


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, out


def latency(samples_ms: list[float]) -> dict:
    return {"n": len(samples_ms), "p50_ms": round(percentile(samples_ms, 50), 2),
            "p95_ms": round(percentile(samples_ms, 95), 2), "mean_ms": round(statistics.fmean(samples_ms), 2)}


def machine() -> dict:
    import os

    return {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "platform": platform.platform()}


def save(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"machine": machine(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                  time.gmtime()), **payload},
                              indent=2))
    tmp.replace(path)
    return path


def table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("figure", "value", "reference", "goal")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(4)]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(header), line(tuple("-" * w for w in widths))] + [line(r) for r in rows])
