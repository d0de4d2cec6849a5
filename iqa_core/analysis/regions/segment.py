"""Segmentations of an image into regions (see the package docstring): a 3x3 grid, merged SLIC superpixels,
or k-means on the backbone's early feature grid plus the evidence channels (the default)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from iqa_core.analysis import filters
from iqa_core.analysis.regions.evidence import Evidence
from iqa_core.model.encoders.lite import FeatureMaps

METHODS = ("grid", "superpixel", "features")
DEFAULT_METHOD = "features"
N_REGIONS = 9
GRID = 28  # the feature grid that "features" clusters (the 448-input stage-2/3 resolution)
SMALL_SIDE = 64  # long side of the copy that SLIC runs on
EVIDENCE_WEIGHT = 1.0  # weight of the evidence channels against the backbone features in k-means
XY_WEIGHT = 1.0


@dataclass
class Segment:
    mask: np.ndarray  # (h, w) bool, in the image's frame (rows and columns as fractions of its height, width)


def _small_rgb(image: Image.Image, side: int = SMALL_SIDE) -> np.ndarray:
    img = image.convert("RGB")
    w, h = img.size
    s = side / max(w, h)
    return np.asarray(img.resize((max(8, round(w * s)), max(8, round(h * s))), Image.BILINEAR), np.float32) / 255.0


def grid_segments(n: int = 3, size: int = 48) -> list[Segment]:
    out = []
    for r in range(n):
        for c in range(n):
            mask = np.zeros((size, size), bool)
            mask[r * size // n:(r + 1) * size // n, c * size // n:(c + 1) * size // n] = True
            out.append(Segment(mask))
    return out


def _adjacency(labels: np.ndarray, n: int) -> np.ndarray:
    adj = np.zeros((n, n), bool)
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        adj[a.ravel(), b.ravel()] = True
    adj |= adj.T
    np.fill_diagonal(adj, False)
    return adj


def merge_labels(labels: np.ndarray, feats: np.ndarray, k: int) -> np.ndarray:
    """Greedy Ward merging of adjacent labels: join the adjacent pair whose merge adds the least
    within-region variance of `feats` (n_labels, d), until k remain. Returns labels 0..k-1."""
    n = labels.max() + 1
    size = np.bincount(labels.ravel(), minlength=n).astype(np.float64)
    mean = feats.astype(np.float64).copy()
    adj = _adjacency(labels, n)
    alive = size > 0
    parent = np.arange(n)
    while alive.sum() > k:
        idx = np.flatnonzero(alive)
        sub = adj[np.ix_(idx, idx)]
        if not sub.any():
            break
        d = ((mean[idx, None, :] - mean[None, idx, :]) ** 2).sum(-1)
        cost = d * (size[idx, None] * size[None, idx]) / (size[idx, None] + size[None, idx])
        cost[~sub] = np.inf
        i, j = np.unravel_index(np.argmin(cost), cost.shape)
        a, b = idx[i], idx[j]
        mean[a] = (mean[a] * size[a] + mean[b] * size[b]) / (size[a] + size[b])
        size[a] += size[b]
        alive[b] = False
        adj[a] |= adj[b]
        adj[:, a] |= adj[:, b]
        adj[a, a] = False
        adj[b] = adj[:, b] = False
        parent[parent == b] = a
    _, out = np.unique(parent[labels], return_inverse=True)
    return out.reshape(labels.shape)


def superpixel_segments(image: Image.Image, ev: Evidence, k: int = N_REGIONS) -> list[Segment]:
    from skimage.segmentation import slic  # imported here: the default method never needs it

    rgb = _small_rgb(image)
    sp = slic(rgb, n_segments=48, compactness=10, start_label=0, channel_axis=-1)
    h, w = sp.shape
    n = sp.max() + 1
    ys, xs = np.mgrid[0:h, 0:w]
    per = lambda a: np.stack([ndimage.mean(a[..., c], sp, np.arange(n)) for c in range(a.shape[-1])], 1)  # noqa: E731
    feats = np.concatenate([per(rgb), 0.5 * per(np.stack([ys / h, xs / w], -1)),
                            0.2 * EVIDENCE_WEIGHT * per(ev.channels(w, h))], 1)
    merged = merge_labels(sp, feats, k)
    return [Segment(merged == j) for j in range(merged.max() + 1)]


def _stage_grid(fm: FeatureMaps, size: int = GRID) -> np.ndarray:
    """(size, size, C) early and middle stage maps of both input sizes (the ones that see blur, noise and
    blocks) average-pooled onto one grid, each channel standardised over the image."""
    parts = []
    for s in sorted(fm.maps):
        for m in fm.maps[s][:4]:
            c, h, w = m.shape
            if h < size:
                continue
            if h > size:  # block means, rows then columns: contiguous sums, 3x faster than one mean((2, 4))
                f = h // size
                m = m.reshape(c, size, f, w).sum(2).reshape(c, size, size, f).sum(3) / (f * f)
            parts.append(m)
    x = np.concatenate(parts).astype(np.float32).transpose(1, 2, 0)
    return (x - x.mean((0, 1))) / (x.std((0, 1)) + 1e-3)


def kmeans(x: np.ndarray, k: int, iters: int = 20, seed: int = 0) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding from a fixed seed (deterministic); labels (n,)."""
    rng = np.random.default_rng(seed)
    sq = (x * x).sum(1)
    x2 = 2 * x  # once: `2 * x @ c` would double all of x at every product (doubling is exact, same result)
    idx = [int(rng.integers(len(x)))]
    d2 = np.maximum(sq + sq[idx[0]] - x2 @ x[idx[0]], 0)
    for _ in range(1, k):
        idx.append(int(rng.choice(len(x), p=d2 / d2.sum())) if d2.sum() > 0 else int(rng.integers(len(x))))
        d2 = np.minimum(d2, np.maximum(sq + sq[idx[-1]] - x2 @ x[idx[-1]], 0))
    c = x[idx]
    lab = None
    for _ in range(iters):
        new = ((c * c).sum(1)[None] - x2 @ c.T).argmin(1)
        if lab is not None and (new == lab).all():
            break
        lab = new
        onehot = (lab[None, :] == np.arange(k)[:, None]).astype(x.dtype)
        counts = onehot.sum(1)
        c = np.where(counts[:, None] > 0, (onehot @ x) / np.maximum(counts, 1)[:, None], c)
    return lab


def feature_segments(fm: FeatureMaps, ev: Evidence | None, k: int = N_REGIONS) -> list[Segment]:
    """k-means on the stage features (smoothed over one cell; all channels together weigh as much as one
    unit-variance feature), the evidence channels (likewise, times EVIDENCE_WEIGHT) and (y, x)."""
    grid = filters.gaussian_stack(_stage_grid(fm), 1.0)
    h, w, c = grid.shape
    parts = [grid.reshape(h * w, c) / np.sqrt(c)]
    if ev is not None:
        chans = ev.channels(w, h).reshape(h * w, -1)
        parts.append(chans * (EVIDENCE_WEIGHT / np.sqrt(chans.shape[1])))
    ys, xs = np.mgrid[0:h, 0:w]
    parts.append(np.stack([ys.ravel() / h, xs.ravel() / w], 1) * (XY_WEIGHT * np.sqrt(6.0)))
    lab = kmeans(np.concatenate(parts, 1).astype(np.float32), k).reshape(h, w)
    return _split_and_tidy(lab)


def _split_and_tidy(lab: np.ndarray, min_share: float = 0.01) -> list[Segment]:
    """Each cluster -> its mask; parts under min_share of the image join the neighbouring cluster."""
    lab = lab.copy()
    for j in range(lab.max() + 1):
        comp, n = ndimage.label(lab == j)
        for c in range(1, n + 1):
            part = comp == c
            if part.mean() < min_share:
                ring = ndimage.binary_dilation(part) & ~part
                if ring.any():
                    lab[part] = np.bincount(lab[ring]).argmax()
    return [Segment(lab == j) for j in np.unique(lab)]


def segment_image(method: str, fm: FeatureMaps, image: Image.Image | None, ev: Evidence | None = None) -> list[Segment]:
    if method == "grid":
        return grid_segments()
    if image is not None and ev is None:
        ev = Evidence(image)
    if method == "superpixel":
        return superpixel_segments(image, ev)
    if method == "features":
        return feature_segments(fm, ev)
    raise ValueError(f"Unknown region method {method!r}; known: {METHODS}")


def label_map(segs: list[Segment]) -> np.ndarray:
    return np.argmax(np.stack([s.mask for s in segs]), 0).astype(np.uint8)
