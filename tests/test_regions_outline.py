"""The region stage's one-pass shortcuts give the numbers of the direct computations they replace: the
outline simplification and the filter responses the working copy shares between measure and the region evidence."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage.measure import find_contours

from iqa_core.analysis import measure, regions
from iqa_core.analysis.regions import outline
from iqa_core.training import datasets


@pytest.fixture(scope="module")
def dev_regions(assessor, data_root):
    """Region masks of six dev images (both sets) and their working copies."""
    out = []
    for s in datasets.load("livec", data_root)[:3] + datasets.load("agiqa3k", data_root)[:3]:
        img = Image.open(s.path).convert("RGB")
        working = measure.WorkingCopy.of(img)
        fm = assessor.encoder.encode_images([img])[0]
        segs, _, _ = regions.compute(fm, assessor.heads["quality"].predict, image=img, working=working)
        out.append((working, [sg.mask for sg in segs]))
    return out


def _distance_to_ring(p: np.ndarray, poly: np.ndarray) -> float:
    """Distance from p to the closed polyline poly (n, 2)."""
    a, b = poly, np.roll(poly, -1, axis=0)
    ab = b - a
    t = np.clip(((p - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0.0, 1.0)
    return float(np.linalg.norm(p - (a + t[:, None] * ab), axis=1).min())


def test_outline_simplification_keeps_ring_points_within_its_tolerance(dev_regions):
    """Douglas-Peucker on the dev regions' outline rings: the outline is made of the ring's own points, every
    dropped point lies within the tolerance of it, and a point budget raises the tolerance until it fits."""
    rings = 0
    for _, masks in dev_regions:
        for mask in masks:
            smooth = ndimage.gaussian_filter(mask.astype(np.float32), 0.6, mode="nearest")
            for c in find_contours(np.pad(smooth, 1), 0.5):
                assert (c[0] == c[-1]).all()  # the padded mask's contours are closed
                ring = c[:-1, ::-1][::3].astype(np.float32)
                poly = outline.simplified(ring, max_points=len(ring))  # the budget never binds: tolerance 0.6
                assert 2 <= len(poly) <= len(ring) and all((ring == p).all(1).any() for p in poly)
                assert max(_distance_to_ring(p, poly) for p in ring) <= 0.6 + 1e-4
                small = outline.simplified(ring, max_points=4)
                assert 2 <= len(small) <= 4
                rings += 1
    assert rings >= 40


def test_shared_filter_responses_equal_the_direct_filters(dev_regions):
    for working, _ in dev_regions:
        lum8 = working.lum * 255.0
        np.testing.assert_allclose(working.laplacian, ndimage.laplace(working.lum), rtol=0, atol=1e-5)
        assert (working.steps[0] == np.abs(np.diff(lum8, axis=1))).all()
        assert (working.steps[1] == np.abs(np.diff(lum8, axis=0))).all()
        kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
        direct = np.abs(ndimage.convolve(lum8, kernel))[1:-1, 1:-1]  # the 2-D form; the cache applies it separably
        np.testing.assert_allclose(working.highpass[1:-1, 1:-1], direct, rtol=0, atol=1e-3)
        assert working.laplacian is working.laplacian  # computed once, then kept
        rgb = working.rgb
        assert (working.extremes[0] == rgb.max(-1)).all() and (working.extremes[1] == rgb.min(-1)).all()
