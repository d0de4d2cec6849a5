"""Measured local statistics of an image (sharpness, noise floor, JPEG grid steps, clipping, luminance,
saturation), per region relative to the image's median region: the evidence behind a region's score."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from iqa_core.analysis import filters, measure

WEIGHTS = {"blur": 1.6, "noise": 1.0, "block": 2.0, "over": 1.0, "veil": 1.3}
RATE, DEAD_ZONE = 2.0, 0.3  # evidence_factor: S below DEAD_ZONE (ordinary variation) costs nothing
QUANTILE_BINS = 64


def _box(a: np.ndarray, w: int, h: int) -> np.ndarray:
    return np.asarray(Image.fromarray(a.astype(np.float32)).resize((w, h), Image.BOX))


def _thin(a: np.ndarray) -> np.ndarray:
    """Every other row and column, flat: severity's sample."""
    return a[::2, ::2].ravel()


def _hist(values: np.ndarray, cells: np.ndarray, n: int, lo: float, hi: float, bins: int = QUANTILE_BINS
          ) -> np.ndarray:
    """(n, bins) histogram of values per cell: what _quantile reads, summed over a label's cells."""
    b = np.clip(((values - lo) * (bins / (hi - lo))).astype(np.int64), 0, bins - 1)
    return np.bincount(cells * bins + b, minlength=n * bins).reshape(n, bins)


def _quantile(hist: np.ndarray, q: float, lo: float, hi: float) -> np.ndarray:
    """Per-row q-quantile of a histogram (bin centres): no sort, a few milliseconds."""
    cum = np.cumsum(hist, 1)
    k = (cum >= q * np.maximum(cum[:, -1:], 1)).argmax(1)
    return lo + (k + 0.5) * (hi - lo) / hist.shape[1]


@dataclass
class _Cells:
    """Per cell of a label map of one shape (a cell: the pixels PIL's nearest resize to the working copy gives
    it), every sum and count that severity reads; a label's are the sums over its cells, so severity never
    touches the full-resolution maps (and the measuring beside the encoder makes these ahead of it)."""
    count: np.ndarray  # samples (every other row and column)
    sums: dict[str, np.ndarray]  # of the thinned statistics over the samples
    edges: np.ndarray  # edge samples
    edge_sums: dict[str, np.ndarray]
    hists: dict[str, np.ndarray]  # (cells, QUANTILE_BINS)
    on_steps: np.ndarray  # step sums and counts across the 8-px grid, and over all neighbours
    on_count: np.ndarray
    all_steps: np.ndarray
    all_count: np.ndarray


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
        self._grids: dict[tuple[int, int], np.ndarray] = {}
        self._cells: dict[tuple[int, int], _Cells] = {}

    def channels(self, w: int, h: int) -> np.ndarray:
        """(h, w, 5) channels for clustering, each standardised over the image; kept per grid size (the
        measuring beside the encoder makes the feature segmentation's ahead of it)."""
        if (w, h) not in self._grids:
            lap, coarse = _box(self.lap, w, h), _box(self.coarse, w, h)
            x = np.stack([np.log1p(lap), np.log1p(_box(self.noise, w, h)), np.log((lap + 0.5) / (coarse + 0.5)),
                          3.0 * _box(self.clip, w, h), 2.0 * _box(self.lum, w, h)], -1)
            self._grids[w, h] = (x - x.mean((0, 1))) / (x.std((0, 1)) + 0.05)
        return self._grids[w, h]

    def cells(self, shape: tuple[int, int]) -> _Cells:
        """_Cells of label maps of this shape, made once per shape."""
        if shape not in self._cells:
            n = shape[0] * shape[1]
            index = Image.fromarray(np.arange(n, dtype=np.int32).reshape(shape), "I")
            cell = np.asarray(index.resize(self.lum.shape[::-1], Image.NEAREST)).astype(np.int64)
            thin, edge = _thin(cell), self.edge.ravel()
            sums = {"lap": _thin(self.lap), "coarse": _thin(self.coarse), "clip": _thin(self.clip),
                    "sat": self.sat.ravel()}
            on_x, on_y = cell[:, :-1][:, 7::8].ravel(), cell[:-1][7::8].ravel()
            all_x, all_y = cell[:, :-1].ravel(), cell[:-1].ravel()
            self._cells[shape] = _Cells(
                count=np.bincount(thin, minlength=n), sums={k: np.bincount(thin, v, n) for k, v in sums.items()},
                edges=np.bincount(thin[edge], minlength=n),
                edge_sums={k: np.bincount(thin[edge], sums[k][edge], n) for k in ("lap", "coarse")},
                hists={"log_noise": _hist(np.log1p(_thin(self.noise)), thin, n, 0.0, 7.0),
                       "lum": _hist(_thin(self.lum), thin, n, 0.0, 1.0)},
                on_steps=np.bincount(on_x, self.dx[:, 7::8].ravel(), n) + np.bincount(on_y, self.dy[7::8].ravel(), n),
                on_count=np.bincount(on_x, minlength=n) + np.bincount(on_y, minlength=n),
                all_steps=np.bincount(all_x, self.dx.ravel(), n) + np.bincount(all_y, self.dy.ravel(), n),
                all_count=np.bincount(all_x, minlength=n) + np.bincount(all_y, minlength=n))
        return self._cells[shape]

    def severity(self, labels: np.ndarray) -> dict[str, np.ndarray]:
        """Per label (labels: a small label map of the image's frame), the five relative statistics of the
        module docstring; 0 = like the image's median region, > 0 = worse. Means and quantiles are read on
        every other row and column (the maps are computed at full resolution; this only thins the sample)."""
        n = int(labels.max()) + 1
        cells, lab = self.cells(labels.shape), labels.ravel().astype(np.int64)
        total = lambda a: np.bincount(lab, a, n)  # noqa: E731  (a label's sum over its cells)
        cnt = np.maximum(total(cells.count), 1)
        mean = {k: total(v) / cnt for k, v in cells.sums.items()}
        ecnt = total(cells.edges)
        sharp = ((total(cells.edge_sums["lap"]) + 0.5 * ecnt) / (total(cells.edge_sums["coarse"]) + 0.5 * ecnt + 1e-9))
        sharp = np.where(ecnt >= 10, sharp, np.nan)  # too few edges to judge: as the median region
        sharp = np.where(np.isnan(sharp), np.nanmedian(sharp) if np.isfinite(sharp).any() else 1.0, sharp)
        ratio = (mean["lap"] + 0.5) / (mean["coarse"] + 0.5)
        onehot = (lab[None] == np.arange(n)[:, None]).astype(np.float64)  # counts: exact in float64
        noise_hist, lum_hist = onehot @ cells.hists["log_noise"], onehot @ cells.hists["lum"]
        floor = np.expm1(_quantile(noise_hist, 0.2, 0.0, 7.0))
        p5, p50 = _quantile(lum_hist, 0.05, 0.0, 1.0), _quantile(lum_hist, 0.5, 0.0, 1.0)
        on_s, on_c = total(cells.on_steps), total(cells.on_count)
        all_s, all_c = total(cells.all_steps), total(cells.all_count)
        on, off = on_s / np.maximum(on_c, 1), (all_s - on_s) / np.maximum(all_c - on_c, 1)
        rel = lambda a: np.log(a / np.median(a))  # noqa: E731
        dev = lambda a: a - np.median(a)  # noqa: E731
        c = {"sharp": rel(sharp), "floor": rel(floor + 0.5), "ratio": rel(ratio), "on_grid": rel(on + 0.5),
             "off_grid": rel(off + 0.5), "clip": dev(mean["clip"]), "p5": dev(p5), "p50": dev(p50),
             "sat": dev(mean["sat"])}
        return {"blur": -c["sharp"], "noise": np.minimum(c["floor"], 2.0 * c["ratio"]),
                "block": c["on_grid"] - c["off_grid"], "over": c["clip"] + c["p5"], "veil": c["p50"] - c["sat"],
                **c}


def evidence_factor(severity: dict[str, np.ndarray]) -> np.ndarray:
    """What each region keeps of its head score: exp(-RATE * max(S - DEAD_ZONE, 0)), S = the weighted worst
    statistic. Multiplicative, so a region's score stays in 0-100 and regions with strong evidence keep
    their order (a subtracted, clipped penalty would tie them at 0)."""
    s = np.max([WEIGHTS[k] * severity[k] for k in WEIGHTS], axis=0)
    return np.exp(-RATE * np.maximum(s - DEAD_ZONE, 0.0))
