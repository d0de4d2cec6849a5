"""Named feature blocks that the heads read: the image's pooled maps (whole image or inside region masks),
and the vision-to-language bridge.

Without CLIP, the bridge is the ImageNet classifier itself: its class distribution, with every class name
embedded by the sentence encoder, places the image in the text space ("concept"); a prompt embedded by the
same encoder can then be compared with it, word space to word space.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from iqa_core.model.encoders.lite import FeatureMaps


def pool_maps(maps: dict[int, list[np.ndarray]]) -> np.ndarray:
    """Mean and standard deviation of every channel of every map: the whole image's vector, in the order
    LiteImageEncoder.block_dims describes."""
    parts = []
    for size in sorted(maps):
        for fmap in maps[size]:
            flat = fmap.reshape(fmap.shape[0], -1)
            parts += [flat.mean(1), flat.std(1)]
    return np.concatenate(parts).astype(np.float32)


def pool_regions(maps: dict[int, list[np.ndarray]], masks: list[np.ndarray]) -> np.ndarray:
    """pool_maps inside each of many masks (values in [0, 1], any size: each is resized to every map), as
    RSFIQA pools a region rather than cropping it: the mask-weighted mean and standard deviation of every
    channel, (n_masks, D), one product per map for all masks."""
    parts, resized = [], {}
    for size in sorted(maps):
        for fmap in maps[size]:
            c, h, w = fmap.shape
            flat = np.asarray(fmap, np.float32).reshape(c, h * w)  # no copy of a float32 map
            if (h, w) not in resized:  # maps of one resolution share their resized masks
                wts = resize_masks(masks, h, w).reshape(len(masks), -1)
                resized[h, w] = wts / np.maximum(wts.sum(1, keepdims=True), 1e-6)
            wts = resized[h, w]
            mean = wts @ flat.T  # (n, c)
            var = wts @ (flat * flat).T - mean * mean
            parts += [mean, np.sqrt(np.maximum(var, 0.0))]
    return np.concatenate(parts, axis=1).astype(np.float32)


def _mask_bytes(mask: np.ndarray) -> np.ndarray:
    return (np.clip(mask, 0, 1) * 255).astype(np.uint8)


def resize_mask(mask: np.ndarray, h: int, w: int) -> np.ndarray:
    img = Image.fromarray(_mask_bytes(mask))
    out = np.asarray(img.resize((w, h), Image.BILINEAR), dtype=np.float32) / 255.0
    if out.sum() < 1e-3:  # a region smaller than one cell still gets its nearest cell
        out = np.asarray(img.resize((w, h), Image.NEAREST), dtype=np.float32) / 255.0 + 1e-6
    return out


def resize_masks(masks: list[np.ndarray], h: int, w: int) -> np.ndarray:
    """resize_mask of masks of one size, (n, h, w): four at a time as the bands of one CMYK image, which Pillow
    resizes band by band with the same filter (so each band is exactly its own resize), in a quarter of the calls."""
    if len({m.shape for m in masks}) > 1:
        return np.stack([resize_mask(m, h, w) for m in masks])
    out = np.empty((len(masks), h, w), np.float32)
    for i in range(0, len(masks), 4):
        group = [_mask_bytes(m) for m in masks[i:i + 4]]
        bands = np.stack(group + group[:1] * (4 - len(group)), -1)
        resized = np.asarray(Image.frombytes("CMYK", bands.shape[1::-1], bands.tobytes()).resize((w, h), Image.BILINEAR))
        out[i:i + len(group)] = np.moveaxis(resized[..., :len(group)], -1, 0)
    out /= 255.0
    for j in np.flatnonzero(out.reshape(len(masks), -1).sum(1) < 1e-3):
        out[j] = resize_mask(masks[j], h, w)  # the nearest cell, as resize_mask gives it
    return out


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


def projection_block(projected: np.ndarray, text_emb: np.ndarray) -> dict[str, np.ndarray]:
    """How near the image, mapped into the sentence space (training.projection), lies to the text."""
    return {"projection": np.array([float(projected @ text_emb)], np.float32)}


def feature_distance(image_block: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> float | np.ndarray:
    """RMS of the image's standardised features (the quality head's mean and scale): how far it lies from the
    training images; rows of a 2-D block give one distance each."""
    z = (image_block - mean) / scale
    return np.sqrt(np.mean(z * z, axis=-1)) if z.ndim > 1 else float(np.sqrt(np.mean(z * z)))


def stack(blocks: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    missing = [n for n in names if n not in blocks]
    if missing:
        raise KeyError(f"feature blocks {missing} were not computed")
    return np.concatenate([blocks[n] for n in names])
