"""The learned region detector: P(clean) and the likeliest damage per region, from the region's evidence
statistics and its early backbone features relative to the image's median region."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from iqa_core import WEIGHTS_DIR
from iqa_core.analysis.regions.segment import Segment
from iqa_core.model.encoders.lite import FeatureMaps
from iqa_core.model.features import pool_regions
from iqa_core.scores import ISSUES

DETECTOR_FILE = WEIGHTS_DIR / "regions.safetensors"
# What the detector reads per region: the relative statistics of Evidence.severity, the region's head score
# against the image's median region (log ratio) and its share of the image; then the backbone's first
# EARLY_MAPS stage maps of each input size pooled inside the region, minus the image's median region.
STATS = ("blur", "noise", "block", "over", "veil", "sharp", "floor", "ratio", "on_grid", "off_grid", "clip",
         "p5", "p50", "sat", "head", "share")
EARLY_MAPS = 4


def region_stats(severity: dict[str, np.ndarray], head: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """(n_regions, len(STATS)) detector inputs."""
    head = np.maximum(np.asarray(head, np.float64), 1.0)
    cols = {**severity, "head": np.log(head / np.median(head)), "share": np.asarray(shares, np.float64)}
    return np.stack([cols[k] for k in STATS], 1)


def expand(stats: np.ndarray) -> np.ndarray:
    """Positive and negative parts of each statistic: a region may be damaged by being sharper or softer,
    brighter or darker than the rest, and the two directions mean different things."""
    return np.concatenate([np.maximum(stats, 0.0), np.minimum(stats, 0.0)], 1)


def early_columns(fm: FeatureMaps) -> np.ndarray:
    """Where the first EARLY_MAPS maps of each input size sit in pool_regions' columns over all maps."""
    cols, at = [], 0
    for size in sorted(fm.maps):
        for i, fmap in enumerate(fm.maps[size]):
            if i < EARLY_MAPS:
                cols.append(np.arange(at, at + 2 * fmap.shape[0]))
            at += 2 * fmap.shape[0]
    return np.concatenate(cols)


def detector_inputs(severity: dict[str, np.ndarray], head: np.ndarray, segs: list[Segment],
                    fm: FeatureMaps, pooled: np.ndarray | None = None) -> np.ndarray:
    """(n_regions, d): expand(region_stats(...)) and the early backbone features pooled inside each region's
    mask, relative to the image's median region (damage shows as a region unlike the rest of its image).
    pooled: pool_regions over all maps, if the caller has it (its early columns are the same numbers)."""
    masks = [s.mask.astype(np.float32) for s in segs]
    stats = region_stats(severity, head, np.array([m.mean() for m in masks]))
    if pooled is None:
        pooled = pool_regions(fm.maps, masks)
    early = pooled[:, early_columns(fm)]
    return np.concatenate([expand(stats), early - np.median(early, 0)], 1)


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
