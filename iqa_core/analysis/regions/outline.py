"""Regions as data: each segment's outline (polygons), centre, bounding box and place in words."""
from __future__ import annotations

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


def _splits(xy: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Douglas-Peucker's recursion over the chain xy, as skimage's approximate_polygon runs it (the same
    distances, so the same points), down to `tolerance`, recorded once for every larger tolerance: for each
    split, the point it keeps and its reach, the smallest chord distance along its line of parent splits
    (itself included). A split survives a tolerance exactly when its reach exceeds it, because
    approximate_polygon only splits a piece whose parent split was made."""
    point, reach = [], []
    stack = [(0, len(xy) - 1, np.inf)]
    while stack:
        start, end, above = stack.pop()
        if end - start < 2:
            continue
        (r0, c0), (r1, c1) = xy[start], xy[end]
        dr, dc = r1 - r0, c1 - c0
        angle = -np.arctan2(dr, dc)
        cos, sin = np.cos(angle), np.sin(angle)
        seg = xy[start + 1:end]
        dr0, dc0 = seg[:, 0] - r0, seg[:, 1] - c0
        dr1, dc1 = seg[:, 0] - r1, seg[:, 1] - c1
        perp = ((dr0 * dr + dc0 * dc) > 0) & ((-dr1 * dr - dc1 * dc) > 0)
        d = np.where(perp, np.abs(seg[:, 0] * cos + seg[:, 1] * sin - (c0 * sin + r0 * cos)),
                     np.minimum(np.sqrt(dc0 ** 2 + dr0 ** 2), np.sqrt(dc1 ** 2 + dr1 ** 2)))
        i = int(np.argmax(d))
        if d[i] > tolerance:
            at, r = start + 1 + i, min(float(d[i]), above)
            point.append(at), reach.append(r)
            stack += [(at, end, r), (start, at, r)]
    return np.array(point, np.int64), np.array(reach)


def _simplified(xy: np.ndarray, splits: tuple[np.ndarray, np.ndarray], tolerance: float) -> np.ndarray:
    """approximate_polygon(xy, tolerance) read off _splits (made for a tolerance at most this one)."""
    point, reach = splits
    chain = np.zeros(len(xy), bool)
    chain[[0, -1]] = True
    chain[point[reach > tolerance]] = True
    return xy[chain]


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
        xy, tol = np.stack([x, y], 1)[::3], 0.6  # every 3rd point: the contour is smooth at that spacing
        splits = _splits(xy, tol)
        while 2 + int((splits[1] > tol).sum()) > max_points + 1:  # the point count at tol, without building it
            tol *= 1.6
        poly = _simplified(xy, splits, tol)
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
