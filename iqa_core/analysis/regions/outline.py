"""Regions as data: each segment's outline (polygons), centre, bounding box and place in words."""
from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage
from skimage.measure import find_contours

from iqa_core.analysis.regions.segment import Segment
from iqa_core.assessment import Region

MAX_POINTS = 40  # per polygon
ROWS = ("top", "middle", "bottom")
COLS = ("left", "centre", "right")


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


def simplified(ring: np.ndarray, max_points: int, tolerance: float = 0.6) -> np.ndarray:
    """Douglas-Peucker (OpenCV's) of a closed ring of points (its first point not repeated at the end), at the
    smallest tolerance, from `tolerance` up 1.6x at a time, that leaves at most max_points points."""
    ring = ring.astype(np.float32).reshape(-1, 1, 2)
    while len(poly := cv2.approxPolyDP(ring, tolerance, True)[:, 0]) > max_points:
        tolerance *= 1.6
    return poly


def polygons(mask: np.ndarray, max_points: int = MAX_POINTS, min_share: float = 0.004) -> list[list[list[float]]]:
    """Outer outlines of the mask's parts as (x, y) fractions, largest first: find_contours on the mask
    (smoothed a little when coarse, so outlines follow it without a staircase), simplified by
    Douglas-Peucker to at most max_points points (the tolerance raised 1.6x at a time). Holes are not
    outlined (the overlay draws regions enclosed by another on top)."""
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
        # The contour is closed (its last point repeats the first); every 3rd point: smooth at that spacing.
        poly = simplified(np.stack([x, y], 1)[:-1][::3], max_points)
        frac = np.clip(poly / np.array([w, h]), 0.0, 1.0)
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
