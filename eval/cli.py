"""Eval command: run, write results, compare with an earlier run, and gate CI on thresholds."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from assistant.config import PROJECT_ROOT
from assistant.errors import UserError
from assistant.files import read_jsonl, write_atomic
from eval.gate import check_thresholds, limits_from
from eval.questions import load_questions
from eval.runner import run_assistant, run_baseline, summarise

COMPARED = ("fact_recall", "groundedness", "hit", "rr", "refusal_correct", "false_refusal")


def compare(rows: list[dict], previous_dir: Path) -> list[dict]:
    """Questions whose metrics changed since an earlier run: improvements first, regressions last."""
    path = previous_dir / "results.jsonl"
    if not path.is_file():
        raise UserError(f"no results.jsonl in {previous_dir}")
    before = {r["id"]: r for r in read_jsonl(path)}
    changes = []
    for row in rows:
        old = before.get(row["id"])
        if old is None:
            continue
        delta = {}
        for key in COMPARED:
            a, b = old.get(key), row.get(key)
            if a != b and (a is not None or b is not None):
                sign = -1 if key == "false_refusal" else 1
                delta[key] = sign * (float(b or 0) - float(a or 0))
        if delta:
            changes.append({"id": row["id"], "question": row["question"], "delta": delta,
                            "total": round(sum(delta.values()), 4), "before": old.get("answer", ""),
                            "after": row["answer"]})
    return sorted(changes, key=lambda c: -c["total"])


def run_eval_command(args, settings, assistant) -> int:
    from eval.report import render

    questions = load_questions(Path(args.questions) if args.questions else PROJECT_ROOT / "eval" / "questions.jsonl")
    out = Path(args.out) if args.out else PROJECT_ROOT / "eval" / "runs" / time.strftime("%Y%m%d-%H%M%S")
    assistant.warm_up()  # latency figures are for a warm process, as users of a server see it
    rows = run_assistant(assistant, questions, progress=not args.json and sys.stderr.isatty())
    summary = summarise(rows, settings.k)
    baseline = None
    if not args.no_baseline:
        from eval.baseline import TutorialPipeline

        pipeline = TutorialPipeline(settings.corpus_dir, assistant.embedder)
        try:
            base_rows = run_baseline(pipeline, questions, assistant.embedder, settings.support_min_score,
                                     assistant.profile)
        finally:
            pipeline.close()
        baseline = summarise(base_rows, pipeline.k)
        write_atomic(out / "baseline.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in base_rows))
        summary["baseline"] = baseline
    write_atomic(out / "results.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    write_atomic(out / "summary.json", json.dumps(summary, indent=2))
    write_atomic(out / "report.html", render(summary, rows, baseline, f"Evaluation run {out.name}"))
    changes = compare(rows, Path(args.compare)) if args.compare else None
    if changes is not None:
        write_atomic(out / "compare.json", json.dumps(changes, indent=2, ensure_ascii=False))

    failed = check_thresholds(summary, limits_from(args))
    if args.json:
        print(json.dumps({**summary, "out": str(out), "failed": failed,
                          **({"changed": changes} if changes is not None else {})}))
    else:
        print_summary(summary, baseline, out, changes)
    for line in failed:
        print(f"eval gate failed: {line}", file=sys.stderr)
    return 1 if failed else 0


def print_summary(summary: dict, baseline: dict | None, out: Path, changes: list[dict] | None) -> None:
    keys = ("fact_recall", "context_fact_recall", "groundedness", "strict_groundedness", "citation_validity", "hit_at_k", "mrr",
            "refusal_accuracy", "false_refusals", "non_answer_sentences", "list_structure", "latency_p50_ms",
            "latency_p95_ms")
    print(f"{'metric':22} {'assistant':>10} {'baseline':>10}")
    for key in keys:
        ours, theirs = summary.get(key), (baseline or {}).get(key)
        print(f"{key:22} {'-' if ours is None else ours:>10} {'-' if theirs is None else theirs:>10}")
    print(f"\n{summary['questions']} questions; results, summary and report.html in {out}")
    if changes is not None:
        print(f"\n{len(changes)} questions changed (best first):")
        for change in changes:
            print(f"  {change['total']:+.2f} {change['id']}: {change['question'][:70]}")
