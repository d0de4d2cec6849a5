"""Region map (after RSFIQA): split the image into regions that follow its content, score each with the
quality head applied to features pooled only inside the region's mask (pool_maps with the mask, not a
crop), and draw an overlay of where the image is weak.

Segmentations (METHODS; benchmarks/regions.py measures which one localises a degraded area best):
- "grid": 3x3 cells;
- "superpixel": SLIC superpixels of a 64-px copy, merged greedily (Ward, adjacent pairs only) into
  N_REGIONS by mean colour, position and the local evidence channels below;
- "features" (the default, it localises best): k-means (k = N_REGIONS) on the backbone's 28x28 grid of
  early/middle stage features, concatenated with five measured evidence channels on the same grid (local
  detail, high-frequency energy, fine-to-coarse detail ratio, clipped share, luminance) and the cell's
  coordinates; clusters are then cleaned of specks. A cluster may have several parts (Region.polygons).

Scorings (SCORINGS):
- "head": the quality head on the region-pooled features, as RSFIQA scores a region;
- "head+evidence" (the default): the head's score scaled down by measured local evidence, each statistic
  taken relative to the image's own median region (so content that is soft, noisy or bright all over is
  not blamed on one region; the head alone barely localises, see the benchmark):
      blur  = -log(edge sharpness / median)       edge sharpness = |Laplacian| / gradient at scale 2,
                                                  on the image's strongest 30% of edges in the region
      noise = min(log((p20 of high-pass + .5) / median), 2 log(fine-to-coarse ratio / median))
              (noise must raise both the floor of fine energy and the fine-to-coarse ratio, which
              texture alone does not)
      block = log(step on the 8-px JPEG grid / median) - log(step off the grid / median)
      over  = (share above 95% luminance - median) + (5th-percentile luminance - median)
      veil  = (median luminance - median) - (mean saturation - median)   (washed out: brighter, greyer)
      severity S = max(1.6 blur, noise, 2 block, over, 1.3 veil)
      quality    = head score * exp(-2 max(S - 0.3, 0))
  The statistics and weights were chosen by hand on dev trials.
- "head+detector" (the default): a multinomial logistic regression over the region's statistics (STATS)
  and its early backbone features relative to the image's median region (detector_inputs) gives P(clean),
  P(blur), P(noise), P(JPEG blocks), P(over-exposed); quality = head score * P(clean).
  One hand formula cannot weigh natural variation (a soft background, bright sky, foliage) against damage;
  the detector learns that from local degradations of one half of the dev images (iqa_core.training.train_regions,
  random strengths); benchmarks/regions.py measures on the other half.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from safetensors.numpy import load_file, save_file
from scipy import ndimage
from skimage.measure import approximate_polygon, find_contours
from skimage.segmentation import slic

from iqa_core import WEIGHTS_DIR
from iqa_core.analysis import measure
from iqa_core.assessment import Region
from iqa_core.training.degrade import DEGRADATIONS
from iqa_core.model.encoders.lite import FeatureMaps, _resize_mask

METHODS = ("grid", "superpixel", "features")
SCORINGS = ("head", "head+evidence", "head+detector")
DEFAULT_METHOD = "features"
DEFAULT_SCORING = "head+detector"
DETECTOR_FILE = WEIGHTS_DIR / "regions.safetensors"
# What the detector reads per region: the relative statistics of Evidence.severity, the region's head score
# against the image's median region (log ratio) and its share of the image; then the backbone's first
# EARLY_MAPS stage maps of each input size pooled inside the region, minus the image's median region.
STATS = ("blur", "noise", "block", "over", "veil", "sharp", "floor", "ratio", "on_grid", "off_grid", "clip",
         "p5", "p50", "sat", "head", "share")
EARLY_MAPS = 4
ISSUES = DEGRADATIONS  # the detector's classes besides "clean"
N_REGIONS = 9
GRID = 28  # the feature grid that "features" clusters (the 448-input stage-2/3 resolution)
SMALL_SIDE = 64  # long side of the copy that SLIC runs on
MAX_POINTS = 40  # per polygon
WEIGHTS = {"blur": 1.6, "noise": 1.0, "block": 2.0, "over": 1.0, "veil": 1.3}
RATE, DEAD_ZONE = 2.0, 0.3  # evidence_factor: S below DEAD_ZONE (ordinary variation) costs nothing
EVIDENCE_WEIGHT = 1.0  # weight of the evidence channels against the backbone features in k-means
XY_WEIGHT = 1.0

ROWS = ("top", "middle", "bottom")
COLS = ("left", "centre", "right")
try:  # small products run faster on one BLAS thread on a shared machine (threadpoolctl comes with sklearn)
    from threadpoolctl import ThreadpoolController

    _BLAS = ThreadpoolController()
except ImportError:  # pragma: no cover
    _BLAS = None


@dataclass
class Segment:
    mask: np.ndarray  # (h, w) bool, in the image's frame (rows and columns as fractions of its height, width)


# --------------------------------------------------------------------------------------------- evidence
def _box(a: np.ndarray, w: int, h: int) -> np.ndarray:
    return np.asarray(Image.fromarray(a.astype(np.float32)).resize((w, h), Image.BOX))


def _label_quantile(values: np.ndarray, labels: np.ndarray, n: int, q: float, lo: float, hi: float,
                    bins: int = 64) -> np.ndarray:
    """Per-label q-quantile from one 2-D histogram (bin centres): no sort, a few milliseconds."""
    b = np.clip(((values - lo) * (bins / (hi - lo))).astype(np.int64), 0, bins - 1)
    hist = np.bincount((labels.astype(np.int64) * bins + b).ravel(), minlength=n * bins).reshape(n, bins)
    cum = np.cumsum(hist, 1)
    k = (cum >= q * np.maximum(cum[:, -1:], 1)).argmax(1)
    return lo + (k + 0.5) * (hi - lo) / bins


class Evidence:
    """Measured local statistics of one image, on measure's working copy (long side <= 512 px: the native
    pixels of most images, so noise is not averaged away and the 8-px JPEG grid is intact)."""

    def __init__(self, image: Image.Image):
        rgb, lum = measure.working_arrays(image)
        lum8 = lum * 255.0
        self.dx, self.dy = np.abs(np.diff(lum8, axis=1)), np.abs(np.diff(lum8, axis=0))
        self.lum = lum
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        self.sat = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
        self.lap = np.abs(ndimage.laplace(lum8))  # fine detail
        g = ndimage.gaussian_filter(lum8, 2.0)
        self.coarse = np.hypot(ndimage.sobel(g, 0), ndimage.sobel(g, 1)) / 8.0  # gradient at a coarser scale
        hp = ndimage.correlate1d(ndimage.correlate1d(lum8, [1.0, -2.0, 1.0], 0), [1.0, -2.0, 1.0], 1)
        self.noise = np.abs(hp)  # Immerkaer's high-pass (as measure.noise_sigma)
        self.edge = self.coarse > np.percentile(self.coarse[::2, ::2], 70)
        self.clip = self.lum > 0.95

    def channels(self, w: int, h: int) -> np.ndarray:
        """(h, w, 5) channels for clustering, each standardised over the image."""
        lap, coarse = _box(self.lap, w, h), _box(self.coarse, w, h)
        x = np.stack([np.log1p(lap), np.log1p(_box(self.noise, w, h)), np.log((lap + 0.5) / (coarse + 0.5)),
                      3.0 * _box(self.clip, w, h), 2.0 * _box(self.lum, w, h)], -1)
        return (x - x.mean((0, 1))) / (x.std((0, 1)) + 0.05)

    @staticmethod
    def _labels(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        img = Image.fromarray(labels.astype(np.uint8)).resize(shape[::-1], Image.NEAREST)
        return np.asarray(img).astype(np.int64)

    def severity(self, labels: np.ndarray) -> dict[str, np.ndarray]:
        """Per label (labels: a small label map of the image's frame), the five relative statistics of the
        module docstring; 0 = like the image's median region, > 0 = worse. Means and quantiles are read on
        every other row and column (the maps are computed at full resolution; this only thins the sample)."""
        n = int(labels.max()) + 1
        full = self._labels(labels, self.lum.shape)
        lab = full[::2, ::2]
        pick = lambda a: a[::2, ::2].ravel()  # noqa: E731
        flat = lab.ravel()
        cnt = np.maximum(np.bincount(flat, minlength=n), 1)
        mean = lambda a: np.bincount(flat, pick(a), n) / cnt  # noqa: E731
        edge = pick(self.edge)
        e = flat[edge]
        ecnt = np.bincount(e, minlength=n)
        sharp = ((np.bincount(e, pick(self.lap)[edge], n) + 0.5 * ecnt) /
                 (np.bincount(e, pick(self.coarse)[edge], n) + 0.5 * ecnt + 1e-9))
        sharp = np.where(ecnt >= 10, sharp, np.nan)  # too few edges to judge: as the median region
        sharp = np.where(np.isnan(sharp), np.nanmedian(sharp) if np.isfinite(sharp).any() else 1.0, sharp)
        ratio = (mean(self.lap) + 0.5) / (mean(self.coarse) + 0.5)
        floor = np.expm1(_label_quantile(np.log1p(pick(self.noise)), flat, n, 0.2, 0.0, 7.0))
        p5 = _label_quantile(pick(self.lum), flat, n, 0.05, 0.0, 1.0)
        p50 = _label_quantile(pick(self.lum), flat, n, 0.5, 0.0, 1.0)
        lx, ly = full[:, :-1], full[:-1, :]
        on_s = (np.bincount(lx[:, 7::8].ravel(), self.dx[:, 7::8].ravel(), n) +
                np.bincount(ly[7::8].ravel(), self.dy[7::8].ravel(), n))  # steps across the 8-px grid
        on_c = np.bincount(lx[:, 7::8].ravel(), minlength=n) + np.bincount(ly[7::8].ravel(), minlength=n)
        all_s = np.bincount(lx.ravel(), self.dx.ravel(), n) + np.bincount(ly.ravel(), self.dy.ravel(), n)
        all_c = np.bincount(lx.ravel(), minlength=n) + np.bincount(ly.ravel(), minlength=n)
        on, off = on_s / np.maximum(on_c, 1), (all_s - on_s) / np.maximum(all_c - on_c, 1)
        rel = lambda a: np.log(a / np.median(a))  # noqa: E731
        dev = lambda a: a - np.median(a)  # noqa: E731
        c = {"sharp": rel(sharp), "floor": rel(floor + 0.5), "ratio": rel(ratio), "on_grid": rel(on + 0.5),
             "off_grid": rel(off + 0.5), "clip": dev(mean(self.clip)), "p5": dev(p5), "p50": dev(p50),
             "sat": dev(mean(self.sat))}
        return {"blur": -c["sharp"], "noise": np.minimum(c["floor"], 2.0 * c["ratio"]),
                "block": c["on_grid"] - c["off_grid"], "over": c["clip"] + c["p5"], "veil": c["p50"] - c["sat"],
                **c}


def evidence_factor(severity: dict[str, np.ndarray]) -> np.ndarray:
    """What each region keeps of its head score: exp(-RATE * max(S - DEAD_ZONE, 0)), S = the weighted worst
    statistic. Multiplicative, so a region's score stays in 0-100 and regions with strong evidence keep
    their order (a subtracted, clipped penalty would tie them at 0)."""
    s = np.max([WEIGHTS[k] * severity[k] for k in WEIGHTS], axis=0)
    return np.exp(-RATE * np.maximum(s - DEAD_ZONE, 0.0))


def region_stats(severity: dict[str, np.ndarray], head: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """(n_regions, len(STATS)) detector inputs."""
    head = np.maximum(np.asarray(head, np.float64), 1.0)
    cols = {**severity, "head": np.log(head / np.median(head)), "share": np.asarray(shares, np.float64)}
    return np.stack([cols[k] for k in STATS], 1)


def expand(stats: np.ndarray) -> np.ndarray:
    """Positive and negative parts of each statistic: a region may be damaged by being sharper or softer,
    brighter or darker than the rest, and the two directions mean different things."""
    return np.concatenate([np.maximum(stats, 0.0), np.minimum(stats, 0.0)], 1)


def detector_inputs(severity: dict[str, np.ndarray], head: np.ndarray, segs: list[Segment],
                    fm: FeatureMaps) -> np.ndarray:
    """(n_regions, d): expand(region_stats(...)) and the early backbone features pooled inside each region's
    mask, relative to the image's median region (damage shows as a region unlike the rest of its image)."""
    masks = [s.mask.astype(np.float32) for s in segs]
    stats = region_stats(severity, head, np.array([m.mean() for m in masks]))
    pooled = pool_many({size: maps[:EARLY_MAPS] for size, maps in fm.maps.items()}, masks)
    return np.concatenate([expand(stats), pooled - np.median(pooled, 0)], 1)


@dataclass
class Detector:
    """Softmax over ("clean", *ISSUES) from detector_inputs(...), standardisation folded in."""
    weight: np.ndarray  # (n_classes, d)
    bias: np.ndarray  # (n_classes,)

    def proba(self, inputs: np.ndarray) -> np.ndarray:
        if inputs.shape[1] != self.weight.shape[1]:
            raise ValueError(f"the region detector takes {self.weight.shape[1]} inputs, got {inputs.shape[1]}: "
                             "it was trained for another encoder; retrain with python -m iqa_core.training.train_regions")
        z = inputs @ self.weight.T + self.bias
        z = np.exp(z - z.max(1, keepdims=True))
        return z / z.sum(1, keepdims=True)

    def save(self, path: Path = DETECTOR_FILE) -> None:
        # C order: safetensors writes the raw buffer, and sklearn's coefficients may be Fortran-ordered
        save_file({k: np.ascontiguousarray(v, np.float32) for k, v in (("weight", self.weight), ("bias", self.bias))},
                  str(path),
                  metadata={"stats": ",".join(STATS), "classes": ",".join(("clean",) + ISSUES)})

    @staticmethod
    def load(path: Path = DETECTOR_FILE) -> Detector:
        t = load_file(str(path))
        if t["weight"].shape[0] != len(ISSUES) + 1:
            raise ValueError(f"{path}: {t['weight'].shape[0]} detector classes, expected {len(ISSUES) + 1}")
        return Detector(t["weight"].astype(np.float64), t["bias"].astype(np.float64))


@lru_cache(maxsize=1)
def shipped_detector() -> Detector:
    return Detector.load()


# ------------------------------------------------------------------------------------------ segmentations
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
            if h > size:
                f = h // size
                m = m.reshape(c, size, f, size, f).mean((2, 4))
            parts.append(m)
    x = np.concatenate(parts).astype(np.float32).transpose(1, 2, 0)
    return (x - x.mean((0, 1))) / (x.std((0, 1)) + 1e-3)


def kmeans(x: np.ndarray, k: int, iters: int = 20, seed: int = 0) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding from a fixed seed (deterministic); labels (n,)."""
    rng = np.random.default_rng(seed)
    sq = (x * x).sum(1)
    idx = [int(rng.integers(len(x)))]
    d2 = np.maximum(sq + sq[idx[0]] - 2 * x @ x[idx[0]], 0)
    for _ in range(1, k):
        idx.append(int(rng.choice(len(x), p=d2 / d2.sum())) if d2.sum() > 0 else int(rng.integers(len(x))))
        d2 = np.minimum(d2, np.maximum(sq + sq[idx[-1]] - 2 * x @ x[idx[-1]], 0))
    c = x[idx]
    lab = None
    for _ in range(iters):
        new = ((c * c).sum(1)[None] - 2 * x @ c.T).argmin(1)
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
    grid = ndimage.gaussian_filter(_stage_grid(fm), (1.0, 1.0, 0))
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


def segment(method: str, fm: FeatureMaps, image: Image.Image | None, ev: Evidence | None = None) -> list[Segment]:
    if method == "grid":
        return grid_segments()
    if image is not None and ev is None:
        ev = Evidence(image)
    if method == "superpixel":
        return superpixel_segments(image, ev)
    if method == "features":
        return feature_segments(fm, ev)
    raise ValueError(f"Unknown region method {method!r}; known: {METHODS}")


# ----------------------------------------------------------------------------------------------- scoring
def pool_many(maps: dict[int, list[np.ndarray]], masks: list[np.ndarray]) -> np.ndarray:
    """encoders.lite.pool_maps for many masks at once (one product per map instead of one per mask):
    the same mask-weighted mean and standard deviation of every channel, (n_masks, D)."""
    parts, resized = [], {}
    for size in sorted(maps):
        for fmap in maps[size]:
            c, h, w = fmap.shape
            flat = fmap.reshape(c, h * w).astype(np.float32)
            if (h, w) not in resized:  # maps of one resolution share their resized masks
                wts = np.stack([_resize_mask(m, h, w).reshape(-1) for m in masks])
                resized[h, w] = wts / np.maximum(wts.sum(1, keepdims=True), 1e-6)
            wts = resized[h, w]
            mean = wts @ flat.T  # (n, c)
            var = wts @ (flat * flat).T - mean * mean
            parts += [mean, np.sqrt(np.maximum(var, 0.0))]
    return np.concatenate(parts, axis=1).astype(np.float32)


def head_scores(segs: list[Segment], fm: FeatureMaps, quality_fn) -> np.ndarray:
    feats = pool_many(fm.maps, [s.mask.astype(np.float32) for s in segs])
    return np.asarray(quality_fn(feats), np.float64)


def label_map(segs: list[Segment]) -> np.ndarray:
    return np.argmax(np.stack([s.mask for s in segs]), 0).astype(np.uint8)


def region_scores(segs: list[Segment], fm: FeatureMaps, image: Image.Image | None, quality_fn,
                  scoring: str = DEFAULT_SCORING, ev: Evidence | None = None,
                  detector: Detector | None = None) -> tuple[np.ndarray, list[str | None]]:
    """0-100 per segment, and per segment the detector's likeliest damage where P(clean) < 0.5 (None under
    the other scorings). Without the image there is no evidence, and every scoring is the head's."""
    if scoring not in SCORINGS:
        raise ValueError(f"Unknown region scoring {scoring!r}; known: {SCORINGS}")
    scores = head_scores(segs, fm, quality_fn)
    issues: list[str | None] = [None] * len(segs)
    if scoring != "head" and image is not None:
        severity = (ev if ev is not None else Evidence(image)).severity(label_map(segs))
        if scoring == "head+evidence":
            scores = scores * evidence_factor(severity)
        else:
            p = (detector or shipped_detector()).proba(detector_inputs(severity, scores, segs, fm))
            scores = scores * p[:, 0]
            issues = [ISSUES[int(row[1:].argmax())] if row[0] < 0.5 else None for row in p]
    return np.clip(scores, 0.0, 100.0), issues


# ------------------------------------------------------------------------------------------ description
def centre_point(mask: np.ndarray) -> tuple[float, float]:
    """(x, y) fractions: the centroid, or the mask pixel nearest to it if it falls outside the region."""
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean(), xs.mean()
    if not mask[int(cy), int(cx)]:
        i = int(np.argmin((ys - cy) ** 2 + (xs - cx) ** 2))
        cy, cx = float(ys[i]), float(xs[i])
    h, w = mask.shape
    return float((cx + 0.5) / w), float((cy + 0.5) / h)


def place(x: float, y: float) -> str:
    row, col = ROWS[min(int(y * 3), 2)], COLS[min(int(x * 3), 2)]
    if row == "middle":
        return "centre" if col == "centre" else col
    return row if col == "centre" else f"{row} {col}"


def polygons(mask: np.ndarray, max_points: int = MAX_POINTS, min_share: float = 0.004) -> list[list[list[float]]]:
    """Outer outlines of the mask's parts as (x, y) fractions, largest first: find_contours on the mask
    (smoothed a little when coarse, so outlines follow it without a staircase), simplified with
    approximate_polygon to at most max_points points. Holes are not outlined (the overlay draws regions
    enclosed by another on top)."""
    m = mask.astype(np.float32)
    h, w = m.shape
    if max(h, w) <= 64:
        m = ndimage.gaussian_filter(m, 0.6, mode="nearest")
    out = []
    for c in find_contours(np.pad(m, 1), 0.5):
        y, x = c[:, 0] - 0.5, c[:, 1] - 0.5  # pixel-edge coordinates of the unpadded mask
        area = 0.5 * (np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
        if area > 0 or -area < min_share * h * w:  # positive: a hole (find_contours runs holes clockwise)
            continue
        xy, tol = np.stack([x, y], 1)[::3], 0.6  # every 3rd point: approximate_polygon is pure Python
        poly = approximate_polygon(xy, tol)
        while len(poly) > max_points + 1:
            tol *= 1.6
            poly = approximate_polygon(xy, tol)
        frac = np.clip(poly[:-1] / np.array([w, h]), 0.0, 1.0)
        out.append((-area, [[round(float(a), 4), round(float(b), 4)] for a, b in frac]))
    out.sort(key=lambda t: -t[0])
    return [p for _, p in out]


def describe(segs: list[Segment], scores: np.ndarray, issues: list[str | None]) -> list[Region]:
    regions = []
    for i, (s, score, issue) in enumerate(zip(segs, scores, issues)):
        m = s.mask
        ys, xs = np.nonzero(m)
        h, w = m.shape
        cx, cy = centre_point(m)
        polys = polygons(m)
        bbox = [xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h]
        regions.append(Region(id=i, label=place(cx, cy), bbox=[round(float(v), 4) for v in bbox],
                              share=round(float(m.mean()), 4), quality=round(float(score), 1),
                              polygon=polys[0] if polys else [], polygons=polys,
                              centre=[round(cx, 4), round(cy, 4)], issue=issue))
    return regions


def compute(fm: FeatureMaps, quality_fn, image: Image.Image | None = None, method: str = DEFAULT_METHOD,
            scoring: str = DEFAULT_SCORING) -> tuple[list[Segment], np.ndarray, list[str | None]]:
    """Segments, their 0-100 scores and likeliest damage (see region_scores). quality_fn maps pooled features (n, D) to quality scores. Without
    the image there is no evidence: the regions are then feature clusters (or the grid) scored by the head."""
    if image is None and method == "superpixel":
        method = "grid"
    with _BLAS.limit(limits=1, user_api="blas") if _BLAS is not None else nullcontext():
        ev = Evidence(image) if image is not None and (method != "grid" or scoring != "head") else None
        segs = segment(method, fm, image, ev)
        return (segs, *region_scores(segs, fm, image, quality_fn, scoring, ev))


def score_regions(fm: FeatureMaps, quality_fn, image: Image.Image | None = None, method: str = DEFAULT_METHOD,
                  scoring: str = DEFAULT_SCORING) -> list[Region]:
    """The region map as data (see `compute`)."""
    return describe(*compute(fm, quality_fn, image, method, scoring))


# ------------------------------------------------------------------------------------------------ overlay
def overlay(image: Image.Image, regions: list[Region], max_side: int = 768) -> Image.Image:
    """The image with its weaker regions tinted red (the weaker, the stronger the tint) and outlined.
    Larger regions are drawn first, so a region enclosed by another keeps its own tint."""
    base = image.convert("RGB")
    base.thumbnail((max_side, max_side), Image.BILINEAR)
    w, h = base.size
    tint = Image.new("RGBA", base.size, (0, 0, 0, 0))
    lines = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw, pen = ImageDraw.Draw(tint), ImageDraw.Draw(lines)
    if regions:
        scores = np.array([r.quality for r in regions])
        lo, hi = float(scores.min()), float(scores.max())
        for r in sorted(regions, key=lambda r: -r.share):
            weakness = 0.0 if hi - lo < 1e-6 else (hi - r.quality) / (hi - lo)
            for poly in (r.polygons or [r.polygon]):
                if len(poly) < 3:
                    continue
                pts = [(x * w, y * h) for x, y in poly]
                draw.polygon(pts, fill=(220, 30, 30, int(150 * weakness ** 1.5)))
                pen.line(pts + pts[:1], fill=(255, 255, 255, 180), width=max(1, round(max(w, h) / 400)))
    out = Image.alpha_composite(base.convert("RGBA"), tint)
    return Image.alpha_composite(out, lines).convert("RGB")
