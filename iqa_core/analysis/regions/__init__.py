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

import numpy as np
from PIL import Image

from iqa_core.analysis.measure import WorkingCopy
from iqa_core.analysis.regions.detector import Detector, detector_inputs, shipped_detector
from iqa_core.analysis.regions.evidence import Evidence, evidence_factor
from iqa_core.analysis.regions.outline import centre_point, describe, place
from iqa_core.analysis.regions.segment import (
    DEFAULT_METHOD,
    METHODS,
    Segment,
    feature_segments,
    label_map,
    segment_image,
)
from iqa_core.assessment import Region
from iqa_core.model.encoders.lite import FeatureMaps
from iqa_core.model.features import pool_regions
from iqa_core.runtime import one_blas_thread
from iqa_core.scores import ISSUES

SCORINGS = ("head", "head+evidence", "head+detector")
DEFAULT_SCORING = "head+detector"


def pooled_features(segs: list[Segment], fm: FeatureMaps) -> np.ndarray:
    """Every map pooled inside every region, once: the head and the detector both read it."""
    return pool_regions(fm.maps, [s.mask.astype(np.float32) for s in segs])


def head_scores(segs: list[Segment], fm: FeatureMaps, quality_fn, pooled: np.ndarray | None = None) -> np.ndarray:
    feats = pooled_features(segs, fm) if pooled is None else pooled
    return np.asarray(quality_fn(feats), np.float64)


def region_scores(segs: list[Segment], fm: FeatureMaps, image: Image.Image | None, quality_fn,
                  scoring: str = DEFAULT_SCORING, ev: Evidence | None = None,
                  detector: Detector | None = None) -> tuple[np.ndarray, list[str | None]]:
    """0-100 per segment, and per segment the detector's likeliest damage where P(clean) < 0.5 (None under
    the other scorings). Without the image there is no evidence, and every scoring is the head's."""
    if scoring not in SCORINGS:
        raise ValueError(f"Unknown region scoring {scoring!r}; known: {SCORINGS}")
    pooled = pooled_features(segs, fm)
    scores = head_scores(segs, fm, quality_fn, pooled)
    issues: list[str | None] = [None] * len(segs)
    if scoring != "head" and image is not None:
        severity = (ev if ev is not None else Evidence(image)).severity(label_map(segs))
        if scoring == "head+evidence":
            scores = scores * evidence_factor(severity)
        else:
            p = (detector or shipped_detector()).proba(detector_inputs(severity, scores, segs, fm, pooled))
            scores = scores * p[:, 0]
            issues = [ISSUES[int(row[1:].argmax())] if row[0] < 0.5 else None for row in p]
    return np.clip(scores, 0.0, 100.0), issues


def compute(fm: FeatureMaps, quality_fn, image: Image.Image | None = None, method: str = DEFAULT_METHOD,
            scoring: str = DEFAULT_SCORING, working: WorkingCopy | None = None, evidence: Evidence | None = None
            ) -> tuple[list[Segment], np.ndarray, list[str | None]]:
    """Segments, their 0-100 scores and likeliest damage (see region_scores). quality_fn maps pooled features
    (n, D) to quality scores. Without the image there is no evidence: the regions are then feature clusters (or
    the grid) scored by the head. working, evidence: the image's measured copy and evidence, if already made."""
    if image is None and method == "superpixel":
        method = "grid"
    with one_blas_thread():
        ev = (evidence or Evidence(working or image) if image is not None and (method != "grid" or scoring != "head")
              else None)
        segs = segment_image(method, fm, image, ev)
        return (segs, *region_scores(segs, fm, image, quality_fn, scoring, ev))


def score_regions(fm: FeatureMaps, quality_fn, image: Image.Image | None = None, method: str = DEFAULT_METHOD,
                  scoring: str = DEFAULT_SCORING, working: WorkingCopy | None = None) -> list[Region]:
    """The region map as data (see `compute`); working: the image's measured copy, if already made."""
    return describe(*compute(fm, quality_fn, image, method, scoring, working))


__all__ = ["DEFAULT_METHOD", "DEFAULT_SCORING", "Detector", "Evidence", "ISSUES", "METHODS", "SCORINGS", "Segment",
           "centre_point", "compute", "describe", "detector_inputs", "evidence_factor", "feature_segments",
           "head_scores", "label_map", "pooled_features", "place", "region_scores", "score_regions", "segment_image", "shipped_detector"]
