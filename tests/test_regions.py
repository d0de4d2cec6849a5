"""The region map on real dev images: content-following regions that cover the image, outlines as
fractions, an overlay of the image's shape, and the worst region where the image was damaged."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from iqa_core.analysis import measure, regions
from iqa_core.analysis.regions import outline
from iqa_core.render.overlay import overlay
from iqa_core.training import datasets, degrade

PLACES = {"top left", "top", "top right", "left", "centre", "right", "bottom left", "bottom", "bottom right"}


@pytest.fixture(scope="module")
def sharp_photos(data_root):
    """Three agiqa3k/livec images with detail all over (the sharpest of the first 40 by their weakest
    third), so that blurring any half of them is visible."""
    pool = datasets.load("livec", data_root)[:20] + datasets.load("agiqa3k", data_root)[:20]
    scored = []
    for s in pool:
        img = Image.open(s.path).convert("RGB")
        _, lum = measure.working_arrays(img)
        w = lum.shape[1]
        scored.append((min(measure.sharpness(lum[:, : w // 3]), measure.sharpness(lum[:, -(w // 3):])), img))
    scored.sort(key=lambda t: -t[0])
    return [img for _, img in scored[:3]]


@pytest.fixture(scope="module")
def photo_result(assessor, sharp_photos):
    img = sharp_photos[0].crop((0, 0, sharp_photos[0].width, int(sharp_photos[0].height * 0.66)))  # 3:2-ish
    return img, assessor.assess(img)


def test_regions_cover_the_image_and_are_described_in_fractions(photo_result):
    _, a = photo_result
    assert 4 <= len(a.regions) <= 16
    assert abs(sum(r.share for r in a.regions) - 1.0) < 0.02
    for r in a.regions:
        assert r.label in PLACES and 0 <= r.quality <= 100 and 0 < r.share <= 1
        x0, y0, x1, y1 = r.bbox
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
        assert x0 <= r.centre[0] <= x1 and y0 <= r.centre[1] <= y1
        assert r.polygon and r.polygon == r.polygons[0] and 3 <= len(r.polygon) <= outline.MAX_POINTS
        for poly in r.polygons:
            pts = np.array(poly)
            assert ((pts >= 0) & (pts <= 1)).all()


def test_every_method_partitions_the_image(assessor, photo_result):
    img, _ = photo_result
    prep = assessor.preprocess(img)
    fm = assessor.forward([prep])[0].maps
    for method in regions.METHODS:
        segs = regions.segment_image(method, fm, img)
        cover = np.sum([s.mask.astype(int) for s in segs], axis=0)
        assert (cover == 1).all(), method


def test_overlay_keeps_the_aspect_ratio_and_tints_the_worst_region(photo_result):
    img, a = photo_result
    ov = overlay(img, a.regions)
    assert abs(ov.width / ov.height - img.width / img.height) < 0.02
    worst = min(a.regions, key=lambda r: r.quality)
    x, y = worst.centre
    src = np.asarray(img.resize(ov.size), np.float32)
    got = np.asarray(ov, np.float32)
    px = (min(int(y * ov.height), ov.height - 1), min(int(x * ov.width), ov.width - 1))
    assert got[px][0] - got[px][1] > src[px][0] - src[px][1] + 20  # redder than the image itself there


def _worst(assessment):
    return min(assessment.regions, key=lambda r: r.quality)


@pytest.mark.parametrize("side", ["left", "right"])
def test_blurring_one_half_makes_a_region_on_that_half_the_worst(assessor, sharp_photos, side):
    hits = 0
    for img in sharp_photos:
        w, h = img.size
        box = (0, 0, w // 2, h) if side == "left" else (w - w // 2, 0, w, h)
        damaged = img.copy()
        damaged.paste(img.crop(box).filter(ImageFilter.GaussianBlur(5)), box[:2])
        x = _worst(assessor.assess(damaged)).centre[0]
        hits += x < 0.5 if side == "left" else x > 0.5
    assert hits >= 2, f"worst region on the blurred {side} half in {hits} of 3 photos"


def test_noise_in_one_corner_is_found(assessor, sharp_photos):
    img = sharp_photos[1]
    arr = np.asarray(img, np.float32).copy()
    h, w = arr.shape[:2]
    arr[h // 2:, w // 2:] += np.random.default_rng(0).normal(0, 30, arr[h // 2:, w // 2:].shape)
    worst = _worst(assessor.assess(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))))
    assert worst.centre[0] > 0.5 and worst.centre[1] > 0.5, worst
    assert worst.issue == "noise", worst  # the detector also says what is wrong there


@pytest.mark.parametrize("kind", ["jpeg", "overexposure"])
def test_jpeg_blocks_and_overexposure_in_one_quarter_are_found(assessor, sharp_photos, kind):
    hits = 0
    for img in sharp_photos:
        arr = np.asarray(img, np.float32)
        h, w = arr.shape[:2]
        area = np.zeros((h, w), bool)
        area[h // 2:, : w // 2] = True  # bottom left quarter
        bad = degrade.degrade(img, kind, np.random.default_rng(0))
        damaged = Image.fromarray(np.clip(np.where(area[..., None], bad, arr), 0, 255).astype(np.uint8))
        x, y = _worst(assessor.assess(damaged)).centre
        hits += x < 0.5 and y > 0.5
    assert hits >= 2, f"worst region in the {kind} quarter in {hits} of 3 photos"


def test_detector_reads_what_the_shipped_encoder_gives(assessor, photo_result):
    img, _ = photo_result
    prep = assessor.preprocess(img)
    fm = assessor.forward([prep])[0].maps
    ev = regions.Evidence(img)
    segs = regions.feature_segments(fm, ev)
    head = regions.head_scores(segs, fm, assessor.heads["quality"].predict)
    p = regions.shipped_detector().proba(regions.detector_inputs(ev.severity(regions.label_map(segs)), head, segs, fm))
    assert p.shape == (len(segs), len(regions.ISSUES) + 1)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-6)
    assert np.median(p[:, 0]) > 0.5  # an undamaged photo's regions are mostly clean


def test_detector_round_trips_fortran_ordered_weights(tmp_path):
    weight = np.asfortranarray(np.arange(15, dtype=np.float64).reshape(5, 3))  # as sklearn's coef_ may be
    det = regions.Detector(weight, np.arange(5, dtype=np.float64))
    det.save(tmp_path / "d.safetensors")
    back = regions.Detector.load(tmp_path / "d.safetensors")
    np.testing.assert_array_equal(back.weight, weight)
    np.testing.assert_array_equal(back.bias, det.bias)


def test_region_detector_trains_end_to_end_on_a_few_trials(data_root, tmp_path, monkeypatch):
    from iqa_core.training import train_regions

    monkeypatch.setenv("IQA_FEATURE_CACHE", str(tmp_path))
    data = train_regions.collect(16, seed=3)
    assert len(list(tmp_path.glob("regions-train-16-3-*.npz"))) == 1  # cached, keyed by the heads
    assert set(np.unique(data["trial"])) == set(range(16))
    assert set(np.unique(data["label"])) == set(range(len(regions.ISSUES) + 1))
    det = train_regions.fit(data["inputs"], data["label"], 0.1)
    rows = np.arange(len(data["label"]))
    res = train_regions.pointing(det, data, rows)
    assert set(res) == {"all", *regions.ISSUES} and 0.0 <= res["all"] <= 1.0
    assert res["all"] > 0.5  # on its own training trials it must point far above chance (about 0.2)
