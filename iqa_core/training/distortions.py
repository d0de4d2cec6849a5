"""Whole-image synthetic distortions at graded strengths (RankIQA / KADID-style): a clean image and its
damaged versions are ranking constraints that hold whatever dataset the image comes from, so the quality
head learns damage rather than dataset identity. (degrade.py damages one area, for the region detector.)
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter
from tqdm import tqdm

from iqa_core.inputs.load import load_image
from iqa_core.model import features
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.training import datasets
from iqa_core.training.featurize import Featurized, encoder_key

# kind -> strengths, mild then strong. blur: Gaussian radius as a share of the long side; noise: sigma in
# grey levels; jpeg: quality; bright: (gain, offset); dark: gain; cast: red/blue gain (blue 2 - red);
# downscale: share of the size kept before scaling back up.
LEVELS = {
    "blur": (0.004, 0.012),
    "noise": (10.0, 28.0),
    "jpeg": (22, 7),
    "bright": ((1.3, 30.0), (1.8, 70.0)),
    "dark": (0.55, 0.28),
    "cast": (1.15, 1.35),
    "downscale": (0.4, 0.2),
}
SEVERITIES = (1, 2)  # mild, strong
CLEAN_SHARE = 0.4  # the best-rated share of each set counts as clean
PER_SET = {"agiqa3k": ("quality", 150), "livec": ("quality", 100), "para": ("para_quality", 150)}
SEED = 0


def distort(img: Image.Image, kind: str, severity: int, rng: np.random.Generator) -> Image.Image:
    s = LEVELS[kind][severity - 1]
    arr = np.asarray(img, np.float32)
    if kind == "blur":
        return img.filter(ImageFilter.GaussianBlur(max(1.0, s * max(img.size))))
    if kind == "noise":
        out = arr + rng.normal(0.0, s, arr.shape)
    elif kind == "jpeg":
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(s))
        return Image.open(buf).convert("RGB")
    elif kind == "bright":
        out = arr * s[0] + s[1]
    elif kind == "dark":
        out = arr * s
    elif kind == "cast":
        out = arr * np.array([s, 1.0, 2.0 - s], np.float32)
    elif kind == "downscale":
        w, h = img.size
        small = img.resize((max(8, int(w * s)), max(8, int(h * s))), Image.BICUBIC)
        return small.resize((w, h), Image.BICUBIC)
    else:
        raise ValueError(f"Unknown distortion {kind!r}; known: {sorted(LEVELS)}")
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def clean_rows(d: Featurized, key: str, n: int, seed: int = SEED) -> np.ndarray:
    """n rows drawn at random from the best-rated CLEAN_SHARE of a set."""
    y = d.y(key)
    best = np.flatnonzero(y >= np.quantile(y, 1 - CLEAN_SHARE))
    return np.sort(np.random.default_rng(seed).choice(best, min(n, len(best)), replace=False))


@dataclass
class Distorted:
    """Image features of distorted copies: row k is source image `source[k]` of set `dataset[k]`."""
    image: np.ndarray  # (m, D) pooled maps, as Featurized.blocks["image"]
    dataset: np.ndarray  # (m,) set name
    source: np.ndarray  # (m,) row of the clean image in its set's Featurized
    kind: np.ndarray
    severity: np.ndarray


def recipe_key(per_set: dict) -> str:
    blob = json.dumps({"levels": LEVELS, "per_set": per_set, "clean": CLEAN_SHARE, "seed": SEED}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def distorted_features(data: dict[str, Featurized], encoder: LiteEncoder, per_set: int | None = None) -> Distorted:
    """Every kind at every severity of the clean images of each set in PER_SET (per_set: that many of each
    set instead, for smoke runs); cached under the encoder's and the recipe's keys."""
    sources = {n: (key, per_set or k) for n, (key, k) in PER_SET.items()}
    cache = datasets.cache_dir() / f"distorted-{encoder_key(encoder)}-{recipe_key(sources)}.npz"
    if cache.exists():
        z = np.load(cache)
        return Distorted(z["image"], z["dataset"], z["source"], z["kind"], z["severity"])
    rows = []
    for name, (key, n) in sources.items():
        for i in clean_rows(data[name], key, n):
            rows += [(name, int(i), kind, sev) for kind in LEVELS for sev in SEVERITIES]
    image, last = [], None
    for name, i, kind, sev in tqdm(rows, desc="distorted", unit="image"):
        if (name, i) != last:  # one decode per clean image; every distortion seeded by image and kind
            img, last = load_image(data[name].samples[i].path).image, (name, i)
        rng = np.random.default_rng([SEED, i, sorted(LEVELS).index(kind), sev])
        image.append(features.pool_maps(encoder.encode_images([distort(img, kind, sev, rng)])[0].maps))
    cols = list(zip(*rows))
    out = Distorted(np.stack(image), np.array(cols[0]), np.array(cols[1]), np.array(cols[2]), np.array(cols[3]))
    np.savez(cache, image=out.image, dataset=out.dataset, source=out.source, kind=out.kind, severity=out.severity)
    return out
