"""The region stage's one-pass shortcuts give the numbers of the direct computations they replace: the
outline simplification (skimage's approximate_polygon, at every tolerance polygons tries) and the filter
responses the working copy shares between measure and the region evidence."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage.measure import approximate_polygon, find_contours

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


def test_one_pass_douglas_peucker_keeps_skimages_points_at_every_tolerance(dev_regions):
    chains = 0
    for _, masks in dev_regions:
        for mask in masks:
            smooth = ndimage.gaussian_filter(mask.astype(np.float32), 0.6, mode="nearest")
            for c in find_contours(np.pad(smooth, 1), 0.5):
                xy = c[:, ::-1][::3]
                splits = outline._splits(xy, 0.6)
                for tol in 0.6 * 1.6 ** np.arange(8):
                    want = approximate_polygon(xy, tol)
                    got = outline._simplified(xy, splits, tol)
                    assert got.shape == want.shape and (got == want).all(), (len(xy), tol)
                chains += 1
    assert chains >= 40


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
