"""Embed without torch: an ONNX export of the sentence-transformers model, made at index time, run with onnxruntime."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
# Of the export folder; a change makes every export stale. 2: weights in a file of their own, which
# onnxruntime maps instead of copying (see OnnxEncoder).
FORMAT = 2
WEIGHTS = "model.weights"
POOLINGS = ("mean", "cls")


def export_dir(index_dir: Path, model_path: str) -> Path:
    """Where the export of one model lives: beside the index, named by the model's path."""
    digest = hashlib.sha1(f"{FORMAT}:{Path(model_path).resolve() if os.path.exists(model_path) else model_path}"
                          .encode()).hexdigest()[:12]
    return Path(index_dir) / "onnx" / digest


def is_exported(folder: Path) -> bool:
    return all((folder / name).is_file() for name in ("model.onnx", WEIGHTS, "tokenizer.json", "config.json"))


def export(model, folder: Path) -> Path:
    """Write model.onnx (the transformer's graph), model.weights (its fp32 weights), tokenizer.json and
    config.json (pooling, max length, dimension) for a loaded SentenceTransformer. Raises ValueError
    for a pipeline it cannot mirror."""
    import onnx
    import torch

    modules = [type(m).__name__ for m in model]
    if modules[:2] != ["Transformer", "Pooling"] or any(m not in ("Normalize",) for m in modules[2:]):
        raise ValueError(f"cannot export a {' + '.join(modules)} pipeline (Transformer + Pooling [+ Normalize] only)")
    pooling = model[1].get_config_dict().get("pooling_mode")
    if pooling not in POOLINGS:
        raise ValueError(f"cannot export {pooling!r} pooling")
    transformer, tokenizer = model[0].auto_model, model[0].tokenizer
    sample = tokenizer(["an example sentence", "two"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class Encoder(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            return self.inner(**dict(zip(names, inputs))).last_hidden_state

    # Written in a folder of its own, moved into place whole: a reader never sees half an export.
    partial = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on opsets and tracing, not user concerns
        torch.onnx.export(Encoder(transformer).eval(), tuple(sample[n] for n in names), str(partial / "graph.onnx"),
                          input_names=names, output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]})
    graph = onnx.load(str(partial / "graph.onnx"))
    onnx.save_model(graph, str(partial / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=WEIGHTS, size_threshold=1024)
    (partial / "graph.onnx").unlink()
    (partial / WEIGHTS).chmod(0o644)  # onnx writes it owner-only; the graph beside it is world-readable
    tokenizer.backend_tokenizer.save(str(partial / "tokenizer.json"))
    config = {"format": FORMAT, "pooling": pooling, "normalize": "Normalize" in modules, "inputs": names,
              "max_tokens": int(model.max_seq_length), "dimension": int(model.get_embedding_dimension()),
              "pad_id": int(tokenizer.pad_token_id or 0)}
    (partial / "config.json").write_text(json.dumps(config, indent=1))
    shutil.rmtree(folder, ignore_errors=True)  # an older, damaged or half-written export of this model
    partial.rename(folder)
    _drop_stale_exports(folder.parent)
    return folder


def _drop_stale_exports(root: Path) -> None:
    """Exports of an older format are never read again (their folder name includes the format)."""
    for other in root.iterdir():
        try:
            stale = json.loads((other / "config.json").read_text()).get("format") != FORMAT
        except (OSError, ValueError):
            continue  # not an export, or one being written
        if stale:
            shutil.rmtree(other, ignore_errors=True)


class OnnxEncoder:
    """The same `encode` as SentenceTransformer (normalised float32 vectors), on onnxruntime."""

    def __init__(self, folder: Path, threads: int = 0):
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - both come with chromadb and transformers
            raise RuntimeError("onnxruntime and tokenizers are needed: pip install onnxruntime tokenizers") from exc
        self.config = json.loads((folder / "config.json").read_text())
        options = ort.SessionOptions()
        # No busy-waiting between queries: a serving process embeds one short query at a time, and
        # spinning threads burned more CPU than the inference (about 14 ms per answer under load).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # The weights file is mapped, not read: the word-embedding table (half the model) stays on
        # disk but for the rows queries use. Pre-packing would copy every matrix to the heap again.
        # Together: 300 -> ~255 MB serving RSS, 341 -> ~260 MB peak (bench/rss.py, BENCHMARKS.md).
        options.add_session_config_entry("session.disable_prepacking", "1")
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.config["max_tokens"])
        self.tokenizer.no_padding()

    def get_embedding_dimension(self) -> int:
        return int(self.config["dimension"])

    def _batch(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encoded)
        ids = np.full((len(encoded), width), self.config["pad_id"], dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.int64)
        types = np.zeros((len(encoded), width), dtype=np.int64)
        for row, e in enumerate(encoded):
            ids[row, :len(e.ids)], mask[row, :len(e.ids)], types[row, :len(e.ids)] = e.ids, 1, e.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self.session.run(None, {n: feeds[n] for n in self.config["inputs"]})[0]
        if self.config["pooling"] == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        if self.config["normalize"]:
            pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled.astype(np.float32)

    def encode(self, texts: list[str], batch_size: int = 64, normalize_embeddings: bool = True, **_) -> np.ndarray:
        """Batches of similar length (less padding), returned in the caller's order."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.get_embedding_dimension()), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.get_embedding_dimension()), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            out[chunk] = self._batch([texts[i] for i in chunk])
        if normalize_embeddings and not self.config["normalize"]:
            out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
        return out
