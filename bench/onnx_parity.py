"""Bench ONNX parity: the onnxruntime export against sentence-transformers on 1,000 texts and on every shipped question.

Usage: python bench/onnx_parity.py   (over the checkout's index; run `assistant index` first)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import save, table  # noqa: E402


def main() -> int:
    import numpy as np

    from assistant.app import Assistant
    from assistant.config import PROJECT_ROOT, Settings

    settings = Settings()
    onnx = Assistant.from_settings(settings)
    torch = Assistant.from_settings(settings.model_copy(update={"embedding_runtime": "torch"}))
    questions = [json.loads(line)["question"] for name in ("questions", "playbook", "holdout")
                 for line in (PROJECT_ROOT / "eval" / f"{name}.jsonl").read_text().splitlines()]
    passages = [h.text for batch in onnx.store.iter_chunks(onnx.store.active_generation()) for h in batch]
    texts = (questions + passages[::2])[:1000]
    timings = {}
    vectors = {}
    for name, assistant in (("onnx", onnx), ("torch", torch)):
        assistant.embedder.encode(texts[:8])  # load
        started = time.perf_counter()
        vectors[name] = assistant.embedder.encode(texts)
        timings[name] = round(time.perf_counter() - started, 2)
    cosines = (vectors["onnx"] * vectors["torch"]).sum(axis=1)
    same = sum([h.id for h in onnx.search(q).hits] == [h.id for h in torch.search(q).hits] for q in questions)
    answers_same = sum(onnx.ask(q).text == torch.ask(q).text for q in questions)
    result = {"texts": len(texts), "cosine_min": round(float(cosines.min()), 6),
              "cosine_mean": round(float(np.mean(cosines)), 6), "questions": len(questions),
              "retrieval_identical": same, "answers_identical": answers_same,
              "encode_s": timings, "runtime": onnx.embedder.runtime}
    path = save("onnx_parity", result)
    print(table([
        (f"cosine, {len(texts)} texts (min / mean)", f"{result['cosine_min']} / {result['cosine_mean']}", "", ">= 0.999"),
        (f"top-k identical, {len(questions)} shipped questions", f"{same} / {len(questions)}", "", "all"),
        ("answers identical", f"{answers_same} / {len(questions)}", "", "all"),
        ("encode 1,000 texts, onnx / torch (s)", f"{timings['onnx']} / {timings['torch']}", "", ""),
    ]))
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
