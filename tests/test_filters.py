"""The OpenCV filters give scipy.ndimage's numbers (to single precision) on real working copies, and keep their
shape and dtype, so every measure and every region statistic reads what it read on scipy."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from iqa_core.analysis import filters, measure
from iqa_core.training import datasets


@pytest.fixture(scope="module")
def lums(data_root):
    """8-bit luminance of four dev working copies (both sets, 512-px and smaller sides)."""
    samples = datasets.load("livec", data_root)[:2] + datasets.load("agiqa3k", data_root)[:2]
    return [measure.WorkingCopy.of(Image.open(s.path)).lum8 for s in samples]


def close(got: np.ndarray, want: np.ndarray, x: np.ndarray) -> None:
    """Equal to single-precision rounding of sums of x's values (differences cancel, so relative to x, not want)."""
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * float(np.abs(x).max()))


def test_filters_equal_scipy_on_dev_images(lums):
    second = [1.0, -2.0, 1.0]
    for x in lums:
        close(filters.laplace(x), ndimage.laplace(x), x)
        close(filters.gaussian(x, 2.0), ndimage.gaussian_filter(x, 2.0), x)
        close(filters.gaussian(x[::4, ::4], 3.2), ndimage.gaussian_filter(x[::4, ::4], 3.2), x)
        for axis in (0, 1):
            close(filters.sobel(x, axis), ndimage.sobel(x, axis), x)
        close(filters.second_difference(x), ndimage.correlate1d(ndimage.correlate1d(x, second, 0), second, 1), x)


def test_gaussian_stack_smooths_each_channel_over_both_axes(lums):
    # A stack like the region grid's: (28, 28, C) maps of real content, with the reflection at every edge.
    stack = np.stack([np.asarray(Image.fromarray(x).resize((28, 28), Image.BOX)) for x in lums], -1)
    stack = np.concatenate([stack, -stack[..., :1]], -1).astype(np.float32)
    close(filters.gaussian_stack(stack, 1.0), ndimage.gaussian_filter(stack, (1.0, 1.0, 0)), stack)
    flat = np.ones((9, 12, 2), np.float32)
    close(filters.gaussian_stack(flat, 1.0), flat, flat)  # weights sum to 1 at the borders too


def test_masks_resized_four_at_a_time_equal_each_resized_alone():
    """pool_regions resizes a region map's masks as the bands of CMYK images: each band must be exactly its own
    resize, tiny masks keep their nearest cell, and masks of different sizes still pool."""
    from iqa_core.model.features import resize_mask, resize_masks

    rng = np.random.default_rng(0)
    masks = [(rng.random((28, 28)) > 0.6).astype(np.float32) for _ in range(6)] + [rng.random((28, 28))]
    tiny = np.zeros((28, 28), np.float32)
    tiny[27, 0] = 1.0
    faint = np.zeros((28, 28), np.float32)
    faint[3, 3] = 0.004  # resizes to nothing: resize_mask's nearest-cell fallback
    masks += [faint, tiny]
    for h, w in [(112, 112), (56, 56), (28, 28), (14, 14), (7, 7), (9, 13)]:
        got = resize_masks(masks, h, w)
        assert got.shape == (len(masks), h, w) and got.dtype == np.float32
        for g, m in zip(got, masks):
            assert np.array_equal(g, resize_mask(m, h, w))
        assert got[-1].sum() > 0  # the tiny mask still weighs some cell
    mixed = [masks[0], np.ones((48, 48), np.float32)]
    assert all(np.array_equal(g, resize_mask(m, 14, 14)) for g, m in zip(resize_masks(mixed, 14, 14), mixed))
