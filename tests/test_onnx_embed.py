"""Torch-free serving: the ONNX export embeds like sentence-transformers and a serving process never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from assistant.config import PROJECT_ROOT
from assistant.embeddings import Embedder, default_model_path, load_model
from assistant.onnx_embed import OnnxEncoder, export, export_dir, is_exported

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(shipped):
    """The packaged model exported beside the shared index, as `assistant index` does."""
    folder = export_dir(shipped.settings.index_dir, default_model_path())
    if not is_exported(folder):
        export(load_model(), folder)
    return folder


def sample_texts(shipped, n: int) -> list[str]:
    """Passages and sentences of the corpus and the shipped questions: short and long, as served."""
    texts = [h.text for batch in shipped.store.iter_chunks(shipped.store.active_generation()) for h in batch]
    for name in ("questions.jsonl", "playbook.jsonl", "holdout.jsonl"):
        texts += [json.loads(line)["question"] for line in (PROJECT_ROOT / "eval" / name).read_text().splitlines()]
    texts += [s for t in texts[:60] for s in t.split(". ")]
    return texts[:n]


def test_onnx_vectors_match_sentence_transformers(shipped, exported, embedder):
    texts = sample_texts(shipped, 400)
    reference = embedder.encode(texts)
    onnx = OnnxEncoder(exported).encode(texts, batch_size=16)
    cosines = (reference * onnx).sum(axis=1)
    assert onnx.shape == reference.shape and onnx.dtype == np.float32
    assert cosines.min() >= 0.999, (cosines.min(), texts[int(cosines.argmin())][:80])
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)


def test_retrieval_is_identical_on_the_shipped_questions(shipped, exported):
    from assistant.app import Assistant

    onnx = Assistant.from_settings(shipped.settings)  # auto: the export beside the index
    torch = Assistant.from_settings(shipped.settings.model_copy(update={"embedding_runtime": "torch"}))
    questions = [json.loads(line)["question"] for line in (PROJECT_ROOT / "eval/questions.jsonl").read_text().splitlines()]
    for question in questions:
        assert [h.id for h in onnx.search(question).hits] == [h.id for h in torch.search(question).hits], question
    assert onnx.embedder.runtime == "onnx" and torch.embedder.runtime == "torch"
    assert onnx.ask(questions[0]).text == torch.ask(questions[0]).text


def test_a_serving_process_answers_without_importing_torch(shipped, exported):
    code = ("import sys\nfrom assistant.app import Assistant\nfrom assistant.config import Settings\n"
            "a = Assistant.from_settings(Settings())\nanswer = a.ask('What are the benefits of ModelOps?')\n"
            "print(a.embedder.runtime, 'torch' in sys.modules, len(answer.citations))")
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
           "ASSISTANT_INDEX_DIR": str(shipped.settings.index_dir), "ASSISTANT_CORPUS_DIR": str(shipped.settings.corpus_dir)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         cwd=PROJECT_ROOT)
    runtime, imported, cited = out.stdout.split()
    assert (runtime, imported) == ("onnx", "False") and int(cited) >= 1, out.stderr[-2000:]


def test_without_an_export_the_embedder_falls_back_or_says_what_to_run(tmp_path):
    from assistant.config import Settings
    from assistant.errors import UserError

    auto = Embedder.from_settings(Settings(index_dir=tmp_path / "index"))
    assert not is_exported(auto.export_to) and auto.model is not None and auto.runtime == "torch"
    forced = Embedder.from_settings(Settings(index_dir=tmp_path / "index", embedding_runtime="onnx"))
    with pytest.raises(UserError, match="run `assistant index` first"):
        forced.encode(["x"])
    (auto.export_to).mkdir(parents=True)
    for name in ("model.onnx", "model.weights", "tokenizer.json", "config.json"):
        (auto.export_to / name).write_text("damaged")
    assert Embedder.from_settings(Settings(index_dir=tmp_path / "index")).encode(["x"]).shape == (1, 384)
