"""Named feature blocks that the heads read: the image's pooled maps, and the vision-to-language bridge.

Without CLIP, the bridge is the ImageNet classifier itself: its class distribution, with every class name
embedded by the sentence encoder, places the image in the text space ("concept"); a prompt embedded by the
same encoder can then be compared with it, word space to word space.
"""
from __future__ import annotations

import numpy as np

from iqa_core.model.encoders.lite import FeatureMaps, pool_maps

N_STATS = 4


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-8)


def concept_vector(concepts: np.ndarray, name_emb: np.ndarray) -> np.ndarray:
    """The image as a point in the sentence space: class-name embeddings weighted by class probability."""
    return _unit(concepts @ name_emb).astype(np.float32)


def auto_tags(concepts: np.ndarray, names: list[str], k: int = 5, min_prob: float = 0.03) -> list[str]:
    """The image's top ImageNet concepts as tags, for images that come without metadata (as SentiFormer does)."""
    order = np.argsort(-concepts)[:k]
    return [names[i] for i in order if concepts[i] >= min_prob]


def image_blocks(fm: FeatureMaps, name_emb: np.ndarray) -> dict[str, np.ndarray]:
    return {"image": pool_maps(fm.maps), "concept": concept_vector(fm.concepts, name_emb)}


def text_blocks(text_emb: np.ndarray, concepts: np.ndarray, name_emb: np.ndarray) -> dict[str, np.ndarray]:
    """How one text (unit embedding) relates to the image's concepts; zeros mean "no text"."""
    concept = concept_vector(concepts, name_emb)
    sims = name_emb @ text_emb  # (1000,) text vs every class name
    top = np.argsort(-concepts)[:5]
    stats = np.array([
        float(concept @ text_emb),  # whole-image concept vs text
        float(concepts @ sims),  # expected similarity under the class distribution
        float(sims[top].max()),  # best of the five likeliest classes
        float(sims.max()),  # how "ImageNet-like" the text is at all
    ], np.float32)
    return {"text": text_emb.astype(np.float32), "match": (text_emb * concept).astype(np.float32) * 20.0,
            "text_stats": stats}


def empty_text_blocks(dim: int) -> dict[str, np.ndarray]:
    return {"text": np.zeros(dim, np.float32), "match": np.zeros(dim, np.float32),
            "text_stats": np.zeros(N_STATS, np.float32)}


def stack(blocks: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    missing = [n for n in names if n not in blocks]
    if missing:
        raise KeyError(f"feature blocks {missing} were not computed")
    return np.concatenate([blocks[n] for n in names])
