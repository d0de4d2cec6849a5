"""Features of a dataset's images, computed with the app's own loader and encoder (so shipped weights
reproduce training-time scores) and cached under a key that names the encoder and its settings."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ImageOps
from tqdm import tqdm

from iqa_core.inputs.load import load_image
from iqa_core.model import features
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.training import datasets
from iqa_core.training.fit import block_scale, correlations

IMAGE_INPUTS = ["image", "concept"]
# "projection" is not cached with the rest: training.alignment adds it from out-of-fold text projections.
ALIGN_INPUTS = ["image", "concept", "text", "match", "text_stats", "projection"]
# block_scale's power per head family: technical and aesthetic heads weigh every stage map alike (in CV:
# LIVE-C +0.03 SRCC, AGIQA-3K +0.01); the semantic emotion heads lose by it (valence -0.03) and keep plain z-scores.
POWER_TECHNICAL, POWER_SEMANTIC = 1.0, 0.0
# Label-preserving views of a training image (augmentation copies; benchmarks/flip_augment.py measures them).
VIEWS = {"flip": ImageOps.mirror}


@dataclass
class Featurized:
    samples: list[datasets.Sample]
    blocks: dict[str, np.ndarray]  # name -> (n, d)
    concepts: np.ndarray
    image_dims: list[int]  # widths of the blocks inside "image" (see LiteImageEncoder.block_dims)

    def x(self, names: list[str]) -> np.ndarray:
        return np.concatenate([self.blocks[n] for n in names], axis=1)

    def prior(self, names: list[str], power: float) -> np.ndarray:
        dims = [d for n in names for d in (self.image_dims if n == "image" else [self.blocks[n].shape[1]])]
        return block_scale(dims, power)

    def y(self, key: str) -> np.ndarray:
        return np.array([s.targets[key] for s in self.samples], np.float32)

    @property
    def groups(self) -> np.ndarray:
        return np.array([s.group for s in self.samples])

    def subset(self, rows: np.ndarray) -> Featurized:
        return Featurized([self.samples[i] for i in rows], {k: v[rows] for k, v in self.blocks.items()},
                          self.concepts[rows], self.image_dims)


def encoder_key(encoder: LiteEncoder) -> str:
    """Short digest of the image encoder's configuration (id, input sizes, normalisation, pooling)."""
    blob = json.dumps(encoder.image.config, sort_keys=True).encode()
    return f"{encoder.image.variant}-{hashlib.sha256(blob).hexdigest()[:8]}"


def featurize(name: str, encoder: LiteEncoder, root: Path, limit: int | None = None,
              batch: int = 8, view: str | None = None) -> Featurized:
    """view: one of VIEWS, applied to every image before encoding (cached under its own key)."""
    samples = datasets.load(name, root)[:limit]
    transform = VIEWS[view] if view else (lambda im: im)
    cache = datasets.cache_dir() / f"{name}-{encoder_key(encoder)}-{len(samples)}{'-' + view if view else ''}.npz"
    if cache.exists():
        data = np.load(cache)
        blocks, concepts = {"image": data["image"]}, data["concepts"]
    else:
        images, concepts = [], []
        for i in tqdm(range(0, len(samples), batch), desc=f"features {name}", unit="batch"):
            fms = encoder.encode_images([transform(load_image(s.path).image) for s in samples[i:i + batch]])
            images += [features.pool_maps(f.maps) for f in fms]
            concepts += [f.concepts for f in fms]
        blocks, concepts = {"image": np.stack(images)}, np.stack(concepts)
        np.savez(cache, image=blocks["image"], concepts=concepts)
    names = encoder.name_embeddings
    blocks["concept"] = np.stack([features.concept_vector(c, names) for c in concepts])
    if samples[0].prompt is not None:
        emb = encoder.text.embed([s.prompt for s in samples])
        per = [features.text_blocks(e, c, names) for e, c in zip(emb, concepts)]
        for key in per[0]:
            blocks[key] = np.stack([p[key] for p in per])
    return Featurized(samples, blocks, concepts, encoder.image.block_dims)


def report(name: str, data: str, cv, y: np.ndarray, fn=correlations) -> dict:
    """One row of the training report: the head's in-sample and out-of-fold figures side by side."""
    return {"head": name, "data": data, "n": int(len(y)), "train": fn(cv.train_pred, y), "cv": fn(cv.pred, y)}


def zscore(y: np.ndarray) -> np.ndarray:
    return (y - y.mean()) / y.std()
