"""Eval gate: the threshold flags (declared once, for `assistant eval` and `make test`) and their check."""

from __future__ import annotations

THRESHOLDS = {
    "min-fact-recall": "fail when fact recall is below X",
    "min-groundedness": "fail when groundedness is below X",
    "min-citation-validity": "fail when citation validity is below X",
    "min-hit-at-k": "fail when hit@k is below X",
    "min-mrr": "fail when MRR is below X",
    "min-refusal-accuracy": "fail when refusal accuracy is below X",
    "max-false-refusals": "fail when more than X answerable questions are refused",
    "max-latency-p95-ms": "fail when p95 latency exceeds X ms",
    "max-non-answer-sentences": "fail when more than X answer sentences are questions or pointers",
    "min-list-structure": "fail when fewer than this share of list questions are answered as lists",
}


def add_gate_arguments(parser) -> None:
    for name, help_text in THRESHOLDS.items():
        parser.add_argument(f"--{name}", type=float, default=None, metavar="X", help=help_text)


def limits_from(args) -> dict[str, float | None]:
    return {flag: getattr(args, flag.replace("-", "_"), None) for flag in THRESHOLDS}


def check_thresholds(summary: dict, limits: dict[str, float | None]) -> list[str]:
    """Failed gates as readable lines; `limits` uses the flag names (min-fact-recall, ...)."""
    failed = []
    for flag, limit in limits.items():
        if limit is None:
            continue
        kind, _, metric = flag.partition("-")
        metric = metric.replace("-", "_")
        value = summary.get(metric)
        if value is None:
            failed.append(f"{metric}: no value to compare with {limit}")
        elif (kind == "min" and value < limit) or (kind == "max" and value > limit):
            failed.append(f"{metric} = {value} ({'below' if kind == 'min' else 'above'} {limit})")
    return failed
