"""Measured local statistics of an image (sharpness, noise floor, JPEG grid steps, clipping, luminance,
saturation), per region relative to the image's median region: the evidence behind a region's score."""
from __future__ import annotations

import numpy as np
from PIL import Image

from iqa_core.analysis import filters, measure

WEIGHTS = {"blur": 1.6, "noise": 1.0, "block": 2.0, "over": 1.0, "veil": 1.3}
RATE, DEAD_ZONE = 2.0, 0.3  # evidence_factor: S below DEAD_ZONE (ordinary variation) costs nothing


def _box(a: np.ndarray, w: int, h: int) -> np.ndarray:
    return np.asarray(Image.fromarray(a.astype(np.float32)).resize((w, h), Image.BOX))


def _thin(a: np.ndarray) -> np.ndarray:
    """Every other row and column, flat: severity's sample."""
    return a[::2, ::2].ravel()


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

    def __init__(self, image: Image.Image | measure.WorkingCopy):
        w = measure.WorkingCopy.of(image)  # its filter responses are shared with measure's statistics
        lum8 = w.lum8
        self.dx, self.dy = w.steps
        self.lum = w.lum
        self.lap = np.abs(filters.laplace(lum8))  # fine detail
        g = filters.gaussian(lum8, 2.0)
        self.coarse = np.hypot(filters.sobel(g, 0), filters.sobel(g, 1)) / 8.0  # gradient at a coarser scale
        self.noise = w.highpass  # Immerkaer's high-pass (as measure.noise_sigma)
        self.clip = self.lum > 0.95
        # Read only on severity's sample (every other row and column), so made only there.
        mx, mn = w.extremes
        self.sat = mx[::2, ::2] - mn[::2, ::2]
        self.edge = self.coarse[::2, ::2] > np.percentile(self.coarse[::2, ::2], 70)
        # What severity reads that no label map changes, made here (beside the encoder, for a single request):
        # the thinned samples, and the steps with a zero last column / row, so that their per-label sums run
        # over the contiguous full label map (adding zeros leaves every sum exactly as it was).
        self._edge = self.edge.ravel()
        self._lap, self._coarse = _thin(self.lap), _thin(self.coarse)
        self._lap_edge, self._coarse_edge = self._lap[self._edge], self._coarse[self._edge]
        self._log_noise, self._lum, self._clip = np.log1p(_thin(self.noise)), _thin(self.lum), _thin(self.clip)
        h, wd = self.lum.shape
        self._dx_full, self._dy_full = np.zeros((h, wd)), np.zeros((h, wd))
        self._dx_full[:, :-1], self._dy_full[:-1] = self.dx, self.dy
        self._grids: dict[tuple[int, int], np.ndarray] = {}

    def channels(self, w: int, h: int) -> np.ndarray:
        """(h, w, 5) channels for clustering, each standardised over the image; kept per grid size (the
        measuring beside the encoder makes the feature segmentation's ahead of it)."""
        if (w, h) not in self._grids:
            lap, coarse = _box(self.lap, w, h), _box(self.coarse, w, h)
            x = np.stack([np.log1p(lap), np.log1p(_box(self.noise, w, h)), np.log((lap + 0.5) / (coarse + 0.5)),
                          3.0 * _box(self.clip, w, h), 2.0 * _box(self.lum, w, h)], -1)
            self._grids[w, h] = (x - x.mean((0, 1))) / (x.std((0, 1)) + 0.05)
        return self._grids[w, h]

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
        flat = full[::2, ::2].ravel()
        cnt = np.maximum(np.bincount(flat, minlength=n), 1)
        mean = lambda a: np.bincount(flat, a, n) / cnt  # noqa: E731
        e = flat[self._edge]
        ecnt = np.bincount(e, minlength=n)
        sharp = ((np.bincount(e, self._lap_edge, n) + 0.5 * ecnt) /
                 (np.bincount(e, self._coarse_edge, n) + 0.5 * ecnt + 1e-9))
        sharp = np.where(ecnt >= 10, sharp, np.nan)  # too few edges to judge: as the median region
        sharp = np.where(np.isnan(sharp), np.nanmedian(sharp) if np.isfinite(sharp).any() else 1.0, sharp)
        ratio = (mean(self._lap) + 0.5) / (mean(self._coarse) + 0.5)
        floor = np.expm1(_label_quantile(self._log_noise, flat, n, 0.2, 0.0, 7.0))
        p5 = _label_quantile(self._lum, flat, n, 0.05, 0.0, 1.0)
        p50 = _label_quantile(self._lum, flat, n, 0.5, 0.0, 1.0)
        lx, ly = full[:, :-1], full[:-1, :]
        on_s = (np.bincount(lx[:, 7::8].ravel(), self.dx[:, 7::8].ravel(), n) +
                np.bincount(ly[7::8].ravel(), self.dy[7::8].ravel(), n))  # steps across the 8-px grid
        on_c = np.bincount(lx[:, 7::8].ravel(), minlength=n) + np.bincount(ly[7::8].ravel(), minlength=n)
        every = full.ravel()
        all_s = np.bincount(every, self._dx_full.ravel(), n) + np.bincount(every, self._dy_full.ravel(), n)
        # Pixels with a right and with a lower neighbour: all of them less the last column, and less the last row.
        all_c = 2 * np.bincount(every, minlength=n) - np.bincount(full[:, -1], minlength=n) \
            - np.bincount(full[-1], minlength=n)
        on, off = on_s / np.maximum(on_c, 1), (all_s - on_s) / np.maximum(all_c - on_c, 1)
        rel = lambda a: np.log(a / np.median(a))  # noqa: E731
        dev = lambda a: a - np.median(a)  # noqa: E731
        c = {"sharp": rel(sharp), "floor": rel(floor + 0.5), "ratio": rel(ratio), "on_grid": rel(on + 0.5),
             "off_grid": rel(off + 0.5), "clip": dev(mean(self._clip)), "p5": dev(p5), "p50": dev(p50),
             "sat": dev(mean(self.sat.ravel()))}
        return {"blur": -c["sharp"], "noise": np.minimum(c["floor"], 2.0 * c["ratio"]),
                "block": c["on_grid"] - c["off_grid"], "over": c["clip"] + c["p5"], "veil": c["p50"] - c["sat"],
                **c}


def evidence_factor(severity: dict[str, np.ndarray]) -> np.ndarray:
    """What each region keeps of its head score: exp(-RATE * max(S - DEAD_ZONE, 0)), S = the weighted worst
    statistic. Multiplicative, so a region's score stays in 0-100 and regions with strong evidence keep
    their order (a subtracted, clipped penalty would tie them at 0)."""
    s = np.max([WEIGHTS[k] * severity[k] for k in WEIGHTS], axis=0)
    return np.exp(-RATE * np.maximum(s - DEAD_ZONE, 0.0))
