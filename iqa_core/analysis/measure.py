"""Measured image statistics: the evidence behind attributes, regions and explanations.

Each is a documented, classic proxy computed on a working copy whose long side is at most 512 px, so the
numbers are comparable across image sizes and cost a few milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from iqa_core.analysis import filters

WORK_SIDE = 512


class _Once:
    """A WorkingCopy attribute computed on first read and kept: each filter response is made once per image
    however many measures read it. No lock (functools.cached_property's, in Python 3.11, is one per class
    and would serialise the batch's threads); two threads racing only compute the same array twice."""

    def __init__(self, make):
        self.make, self.name = make, make.__name__

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        if self.name not in obj.__dict__:
            obj.__dict__[self.name] = self.make(obj)  # past the frozen dataclass's __setattr__, as cached_property
        return obj.__dict__[self.name]


@dataclass(frozen=True)
class WorkingCopy:
    """The image as measured: RGB floats in [0, 1] and luminance, at most WORK_SIDE on the long side.
    Made once per image and read by the attributes and the region evidence, with the filter responses that
    several of them read (computed when first read)."""
    rgb: np.ndarray
    lum: np.ndarray

    @classmethod
    def of(cls, image: Image.Image | WorkingCopy | np.ndarray) -> WorkingCopy:
        """From an image, or a bare (h, w) luminance array (read as a grey image)."""
        if isinstance(image, WorkingCopy):
            return image
        if isinstance(image, np.ndarray):
            return cls(np.repeat(image[..., None], 3, -1), image)
        img = image.convert("RGB")
        if max(img.size) > WORK_SIDE:
            img = img.copy()
            img.thumbnail((WORK_SIDE, WORK_SIDE), Image.BILINEAR)
        rgb = np.asarray(img, dtype=np.float32) / 255.0
        return cls(rgb, rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32))

    @_Once
    def lum8(self) -> np.ndarray:
        """Luminance in 8-bit grey levels."""
        return self.lum * 255.0

    @_Once
    def laplacian(self) -> np.ndarray:
        """Laplacian of the luminance in [0, 1] (sharpness, focus)."""
        return filters.laplace(self.lum)

    @_Once
    def steps(self) -> tuple[np.ndarray, np.ndarray]:
        """|horizontal|, |vertical| luminance steps between neighbours, in grey levels (JPEG block grid)."""
        return np.abs(np.diff(self.lum8, axis=1)), np.abs(np.diff(self.lum8, axis=0))

    @_Once
    def highpass(self) -> np.ndarray:
        """|Immerkaer's high-pass| ([1, -2, 1] (x) [1, -2, 1], applied separably) of lum8: the noise floor."""
        return np.abs(filters.second_difference(self.lum8))

    @_Once
    def detail(self) -> np.ndarray:
        """detail_map of the luminance (the composition statistics and the subject's saliency cue)."""
        return detail_map(self.lum)

    @_Once
    def extremes(self) -> tuple[np.ndarray, np.ndarray]:
        """Per pixel the largest and smallest of R, G, B (saturation, clipping). Element-wise over the
        channels, not reductions over the last axis of 3: same values, 4x faster."""
        r, g, b = self.rgb[..., 0], self.rgb[..., 1], self.rgb[..., 2]
        return np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)


def working_arrays(image: Image.Image | WorkingCopy) -> tuple[np.ndarray, np.ndarray]:
    """(rgb, lum) of the image's working copy."""
    w = WorkingCopy.of(image)
    return w.rgb, w.lum


def sharpness(image: WorkingCopy | np.ndarray) -> float:
    """Variance of the Laplacian (x1000): falls with blur. image: a working copy or a luminance array."""
    return float(WorkingCopy.of(image).laplacian.var() * 1000.0)


def noise_sigma(image: WorkingCopy | np.ndarray) -> float:
    """Immerkaer's fast noise estimate, in 8-bit grey levels: rises with sensor noise and grain."""
    w = WorkingCopy.of(image)
    h, wd = w.lum.shape
    if h < 3 or wd < 3:
        return 0.0
    conv = w.highpass[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2.0) * conv.sum() / (6.0 * (wd - 2) * (h - 2)))


def blockiness(image: WorkingCopy | np.ndarray, inside: np.ndarray | None = None) -> float:
    """Ratio of luminance steps on the 8-px JPEG grid to steps elsewhere: about 1 clean, >1.3 blocky.
    inside: a boolean mask of the working copy's size to read it on (the subject) instead of the frame."""
    dx, dy = WorkingCopy.of(image).steps
    if dx.shape[1] < 16 or dy.shape[0] < 16:
        return 1.0
    mx, my = (None, None) if inside is None else (inside[:, :dx.shape[1]], inside[:dy.shape[0], :])

    def part(a: np.ndarray, m: np.ndarray | None, sl, axis: int) -> tuple[np.ndarray, np.ndarray]:
        on, off = a[:, sl] if axis else a[sl, :], np.delete(a, sl, axis=axis)
        if m is None:
            return on.ravel(), off.ravel()
        return on[m[:, sl] if axis else m[sl, :]], off[np.delete(m, sl, axis=axis)]

    (on_x, off_x), (on_y, off_y) = part(dx, mx, np.s_[7::8], 1), part(dy, my, np.s_[7::8], 0)
    on, off = np.concatenate([on_x, on_y]), np.concatenate([off_x, off_y])
    if on.size < 64:  # too few grid steps inside the mask to tell
        return 1.0
    return float(on.mean() / max(off.mean(), 1e-3))


def exposure(lum: np.ndarray) -> dict[str, float]:
    lo, hi = np.percentile(lum, [1, 99])  # one partition for both
    return {
        "mean_luminance": float(lum.mean()),
        "clipped_highlights": float((lum > 0.98).mean()),
        "crushed_shadows": float((lum < 0.02).mean()),
        "contrast": float(lum.std()),
        "dynamic_range": float(hi - lo),
    }


def colour(w: WorkingCopy) -> dict[str, float]:
    """Hasler and Suesstrunk's colourfulness (0 grey, ~0.5 very colourful) and clipped-channel share."""
    r, g, b = w.rgb[..., 0], w.rgb[..., 1], w.rgb[..., 2]
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    mx, mn = w.extremes
    saturation = np.where(mx > 1e-3, (mx - mn) / np.maximum(mx, 1e-3), 0.0)
    return {
        "colourfulness": float(colourfulness),
        "mean_saturation": float(saturation.mean()),
        "clipped_channels": float(((mx > 0.99) | (mn < 0.01)).mean()),
    }


def detail_map(lum: np.ndarray) -> np.ndarray:
    """Local gradient energy, smoothed, at a quarter of the working size: where the image has edges and
    texture (a cheap saliency; fine resolution adds nothing once it is smoothed)."""
    small = lum[::4, ::4] if min(lum.shape) >= 32 else lum
    gx, gy = filters.sobel(small, axis=1), filters.sobel(small, axis=0)
    return filters.gaussian(np.hypot(gx, gy), sigma=max(small.shape) / 40.0)


def composition(sal: np.ndarray) -> dict[str, float]:
    """Where the subject sits: the centre of mass of the most detailed 15% of the frame (the detail above
    its 85th percentile), its distance to the nearest rule-of-thirds point and to the nearest frame edge;
    left/right balance and spread of all the detail."""
    total = sal.sum()
    h, w = sal.shape
    if total <= 1e-9:
        return {"subject_x": 0.5, "subject_y": 0.5, "thirds_distance": 0.24, "edge_distance": 0.5, "balance": 1.0,
                "subject_spread": 1.0}
    ys, xs = np.mgrid[0:h, 0:w]
    top = np.maximum(sal - np.quantile(sal, 0.85), 0.0)
    peak = top if top.sum() > 1e-9 else sal
    cx = float(((peak * xs).sum() / peak.sum() + 0.5) / w)
    cy = float(((peak * ys).sum() / peak.sum() + 0.5) / h)
    thirds = [(a, b) for a in (1 / 3, 2 / 3) for b in (1 / 3, 2 / 3)]
    dist = min(np.hypot(cx - a, cy - b) for a, b in thirds)
    left, right = sal[:, : w // 2].sum(), sal[:, w - w // 2:].sum()
    mx, my = (sal * xs).sum() / total / w, (sal * ys).sum() / total / h
    spread = float(np.sqrt((sal * ((xs / w - mx) ** 2 + (ys / h - my) ** 2)).sum() / total) / 0.408)
    return {"subject_x": cx, "subject_y": cy, "thirds_distance": float(dist),
            "edge_distance": float(min(cx, 1 - cx, cy, 1 - cy)),
            "balance": float(min(left, right) / max(left, right, 1e-9)), "subject_spread": spread}


def focus(image: WorkingCopy | np.ndarray, sal: np.ndarray) -> dict[str, float]:
    """Sharpness where the detail is against the rest: a subject in focus on a soft background scores high."""
    w = WorkingCopy.of(image)
    lap = np.abs(w.laplacian)
    top = np.asarray(Image.fromarray(sal).resize(w.lum.shape[::-1], Image.NEAREST)) >= np.quantile(sal, 0.8)
    subject, background = float(lap[top].mean()), float(lap[~top].mean()) if (~top).any() else 0.0
    return {"subject_sharpness": subject * 100.0, "background_sharpness": background * 100.0,
            "focus_ratio": subject / max(background, 1e-4)}


def measure(image: Image.Image | WorkingCopy) -> dict[str, float]:
    """All measured statistics of one image, flat."""
    w = WorkingCopy.of(image)
    out = {"sharpness": sharpness(w), "noise_sigma": noise_sigma(w), "blockiness": blockiness(w)}
    sal = w.detail
    for part in (exposure(w.lum), colour(w), composition(sal), focus(w, sal)):
        out.update(part)
    return out
