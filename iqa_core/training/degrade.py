"""Local degradations for the region map: one area of an image is blurred, noised, JPEG-blocked or
over-exposed. The region detector learns from them (iqa_core.training.train_regions, random strengths, one half of
the dev images) and benchmarks/regions.py measures with them (fixed strengths, the other half).
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter
from skimage.segmentation import slic

from iqa_core.scores import ISSUES
from iqa_core.training import datasets

DEGRADATIONS = ISSUES  # the damage the region detector learns to name
AREAS = ("rectangle", "superpixel")
SETS = ("agiqa3k", "livec", "para")
MIN_CHANGE = 3.0  # grey levels: below this mean absolute change the degradation is invisible
# The benchmark's fixed strength of each degradation, and the range the detector trains on around it.
FIXED = {"blur": 0.009, "noise": 30.0, "jpeg": 6, "overexposure": 1.9}
RANGES = {"blur": (0.005, 0.015), "noise": (15.0, 45.0), "jpeg": (4, 15), "overexposure": (1.5, 2.3)}


@dataclass
class Trial:
    image: Image.Image  # the image with one area degraded
    area: np.ndarray  # (h, w) bool: the degraded area
    kind: str
    shape: str  # "rectangle" or "superpixel"
    redraws: int  # areas redrawn because the degradation changed nothing visible there
    change: float  # mean absolute change inside the area, grey levels


def split(name: str, part: str) -> list[datasets.Sample]:
    """Even-indexed dev images train the detector ("train"), odd-indexed ones are benchmarked ("test")."""
    return datasets.load(name)[0 if part == "train" else 1::2]


def images(n: int, seed: int, part: str = "test") -> list[datasets.Sample]:
    """n images, the three sets in turn, each set in a seeded random order."""
    rng = np.random.default_rng(seed)
    pools = {s: split(s, part) for s in SETS}
    picks = {s: rng.permutation(len(p)) for s, p in pools.items()}
    return [pools[SETS[i % 3]][picks[SETS[i % 3]][(i // 3) % len(pools[SETS[i % 3]])]] for i in range(n)]


# --------------------------------------------------------------------------------------- degraded areas
def rectangle_area(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    share = rng.uniform(0.10, 0.25)
    aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))
    rh = int(round(min(h, np.sqrt(share * h * w / aspect))))
    rw = int(round(min(w, share * h * w / max(rh, 1))))
    y0, x0 = rng.integers(0, h - rh + 1), rng.integers(0, w - rw + 1)
    mask = np.zeros((h, w), bool)
    mask[y0:y0 + rh, x0:x0 + rw] = True
    return mask


def superpixel_area(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Adjacent SLIC superpixels (native size, ~40 segments: not the region map's own segmentation)
    grown from a random seed until they cover 10-25% of the image."""
    seg = slic(rgb, n_segments=40, compactness=20, start_label=0)
    n = seg.max() + 1
    sizes = np.bincount(seg.ravel(), minlength=n) / seg.size
    adj = np.zeros((n, n), bool)
    for a, b in ((seg[:, :-1], seg[:, 1:]), (seg[:-1, :], seg[1:, :])):
        adj[a.ravel(), b.ravel()] = True
    adj |= adj.T
    target = rng.uniform(0.10, 0.25)
    chosen = {int(rng.integers(n))}
    while sizes[list(chosen)].sum() < target:
        frontier = [j for j in np.flatnonzero(adj[list(chosen)].any(0)) if j not in chosen]
        if not frontier:
            break
        nxt = int(rng.choice(frontier))
        if sizes[list(chosen)].sum() + sizes[nxt] > 0.25 and sizes[list(chosen)].sum() >= 0.10:
            break
        chosen.add(nxt)
    return np.isin(seg, list(chosen))


# ---------------------------------------------------------------------------------------- degradations
def degrade(img: Image.Image, kind: str, rng: np.random.Generator, strength: float | None = None) -> np.ndarray:
    """The whole image degraded one way (the caller pastes the degraded area only). strength: blur radius
    as a share of the long side, noise sigma in grey levels, JPEG quality, or over-exposure gain
    (default: FIXED)."""
    s = FIXED[kind] if strength is None else strength
    arr = np.asarray(img, np.float32)
    if kind == "blur":
        return np.asarray(img.filter(ImageFilter.GaussianBlur(max(2.5, s * max(img.size)))), np.float32)
    if kind == "noise":
        return arr + rng.normal(0.0, s, arr.shape)
    if kind == "jpeg":
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(s))
        return np.asarray(Image.open(buf).convert("RGB"), np.float32)
    if kind == "overexposure":
        return arr * s + 60.0
    raise ValueError(f"Unknown degradation {kind!r}; known: {DEGRADATIONS}")


def random_strength(kind: str, rng: np.random.Generator) -> float:
    lo, hi = RANGES[kind]
    return float(rng.integers(lo, hi + 1)) if kind == "jpeg" else float(rng.uniform(lo, hi))


def make_trial(img: Image.Image, kind: str, shape: str, rng: np.random.Generator,
               strength: float | None = None) -> Trial:
    rgb = np.asarray(img, np.float32)
    bad = degrade(img, kind, rng, strength)
    for redraw in range(20):
        mask = (rectangle_area(*rgb.shape[:2], rng) if shape == "rectangle"
                else superpixel_area(rgb.astype(np.uint8), rng))
        out = np.clip(np.where(mask[..., None], bad, rgb), 0, 255).astype(np.uint8)
        change = float(np.abs(out.astype(np.float32) - rgb)[mask].mean())
        if change >= MIN_CHANGE:
            break
    return Trial(Image.fromarray(out), mask, kind, shape, redraw, change)
