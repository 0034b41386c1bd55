"""Eval report: one self-contained HTML file with the summary, a plot per metric and the failing questions."""

from __future__ import annotations

import base64
import html
import io

from eval.runner import failing

METRICS = ("fact_recall", "context_fact_recall", "groundedness", "strict_groundedness", "citation_validity", "hit_at_k", "mrr",
           "refusal_accuracy", "false_refusal_rate")


def _plot(metric: str, summary: dict, baseline: dict | None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, values, errors = ["assistant"], [summary.get(metric) or 0.0], []
    cis = [summary.get("ci95", {}).get(metric)]
    if baseline:
        names.append("baseline")
        values.append(baseline.get(metric) or 0.0)
        cis.append(baseline.get("ci95", {}).get(metric))
    for value, ci in zip(values, cis):
        errors.append((value - ci[0], ci[1] - value) if ci else (0, 0))
    fig, ax = plt.subplots(figsize=(3.2, 2.4), dpi=90)
    ax.bar(names, values, color=["#2f6f4f", "#9a9a9a"][:len(names)],
           yerr=list(zip(*errors)) if errors else None, capsize=4)
    ax.set_ylim(0, 1.05)
    ax.set_title(metric.replace("_", " "), fontsize=10)
    for i, value in enumerate(values):
        ax.text(i, min(value + 0.03, 1.0), f"{value:.2f}", ha="center", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _fmt(value) -> str:
    return "–" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))


def render(summary: dict, rows: list[dict], baseline: dict | None = None, title: str = "Evaluation run") -> str:
    e = html.escape
    head = ["metric", "assistant", "95% CI", "baseline", "difference"]
    lines = []
    for key in METRICS + ("false_refusals", "latency_p50_ms", "latency_p95_ms"):
        ours, theirs = summary.get(key), (baseline or {}).get(key)
        ci = summary.get("ci95", {}).get(key)
        diff = ours - theirs if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) else None
        lines.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in (
            key, _fmt(ours), f"{ci[0]:.3f} – {ci[1]:.3f}" if ci else "–", _fmt(theirs),
            "–" if diff is None else f"{diff:+.3f}")) + "</tr>")
    plots = "".join(f'<img alt="{e(metric)}" src="data:image/png;base64,{_plot(metric, summary, baseline)}">'
                    for metric in METRICS)
    failures = []
    for row in rows:
        reasons = failing(row)
        if not reasons:
            continue
        cites = "".join(f"<li><b>[{c['n']}] {e(c['section'])}</b>: {e(c['text'][:400])}</li>"
                        for c in row.get("citations", []))
        failures.append(f"<tr><td>{e(row['id'])}</td><td>{e(row['question'])}</td><td>{e('; '.join(reasons))}"
                        f"</td><td>{markdown(row['answer'])}<ul>{cites}</ul></td></tr>")
    answers = "".join(
        f"<tr><td>{e(row['id'])}</td><td>{e(row['question'])}</td><td>{e(row.get('answerer') or '')}"
        f"{'<br>refused: ' + e(row['reason']) if row.get('refused') and row.get('reason') else ''}</td>"
        f"<td>{markdown(row['answer'])}</td></tr>" for row in rows)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top;font-size:14px}}img{{margin:4px}}</style>
</head><body><h1>{e(title)}</h1>
<p>{summary['questions']} questions ({summary['answerable']} answerable, {summary['unanswerable']} not);
k = {summary['k']}. Confidence intervals: 95% bootstrap over questions.</p>
<table><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr>{''.join(lines)}</table>
<h2>Metrics</h2><div>{plots}</div>
<h2>Questions that need a look ({len(failures)})</h2>
<table><tr><th>id</th><th>question</th><th>why</th><th>answer and cited passages</th></tr>{''.join(failures)}</table>
<h2>Every answer, as a reader sees it</h2>
<table><tr><th>id</th><th>question</th><th>answerer</th><th>answer</th></tr>{answers}</table>
</body></html>"""


def markdown(text: str) -> str:
    """An answer's Markdown as HTML: paragraphs, lists, emphasis and tables; raw HTML from documents
    or models is escaped, and there are no images or links."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table").disable(["image", "link", "autolink"])
    return md.render(text or "")
