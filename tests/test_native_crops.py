"""Large images are also scored on crops at their own pixels (model/native_crops.py)."""
import io

import numpy as np
from PIL import Image

from benchmarks.native_crops import mosaics
from iqa_core.model import native_crops
from iqa_core.render.html import notes_html
from iqa_core.training import datasets


def test_crops_sit_inside_the_image_one_per_half_of_each_long_side():
    assert native_crops.boxes(512, 512) == [] and native_crops.boxes(2048, 400) == []
    assert len(native_crops.boxes(1024, 768)) == 2 and len(native_crops.boxes(2048, 1536)) == 4
    for w, h in ((1024, 768), (2048, 1536), (896, 896), (2048, 450)):
        for x0, y0, x1, y1 in native_crops.boxes(w, h):
            assert (x1 - x0, y1 - y0) == (native_crops.CROP, native_crops.CROP)
            assert 0 <= x0 and 0 <= y0 and x1 <= w and y1 <= h


def test_blend_rules():
    assert native_crops.blend(60.0, []) == 60.0
    assert native_crops.blend(60.0, [40.0, 50.0], 0.5, "mean", "all") == 52.5
    assert native_crops.blend(60.0, [40.0, 50.0], 0.5, "mean", "upper") == 55.0
    assert native_crops.blend(60.0, [70.0, 80.0], 0.5, "penalty", "all") == 60.0  # crops never lift it
    assert native_crops.blend(60.0, [40.0, 60.0], 0.5, "penalty", "all") == 55.0


def _jpeg(img, q):
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def test_a_large_image_agrees_with_its_downscale_and_its_crops_see_native_damage(assessor, data_root):
    # 2x2 mosaics of dev images at their own pixels (1024 px): the crops read native detail, so the score
    # stays near the 512 px downscale's, while JPEG applied at 1024 px (which mostly vanishes in the whole
    # 448 px view) lowers the crops' scores, and the head's quality, by more than the whole view sees.
    def head_quality(r):
        return native_crops.blend(r.whole_quality, [c.quality for c in r.native_crops])

    def crops_mean(r):
        return np.mean([c.quality for c in r.native_crops])

    crop_drops, whole_drops = [], []
    for img, _ in mosaics("agiqa3k")[:3]:
        large, small = assessor.assess(img), assessor.assess(img.resize((512, 512), Image.LANCZOS))
        assert len(large.native_crops) == 4 and small.native_crops == []
        assert "read 4 crops at the image" in notes_html(large)
        assert abs(large.quality - small.quality) < 5.0 and abs(large.aesthetics - small.aesthetics) < 3.0
        mild, strong = assessor.assess(_jpeg(img, 30)), assessor.assess(_jpeg(img, 20))
        crop_drops.append(crops_mean(large) - crops_mean(mild))
        whole_drops.append(large.whole_quality - mild.whole_quality)
        # Per mosaic, JPEG at q=20 lowers the crops more than the whole view; q=30 only on average (below):
        # since the AI expert's kernel part, the whole view sees q=30 on some mosaics as much as the crops do.
        assert crops_mean(large) - crops_mean(strong) > large.whole_quality - strong.whole_quality > 0
        assert head_quality(large) - head_quality(strong) > large.whole_quality - strong.whole_quality
    assert np.mean(crop_drops) > np.mean(whole_drops) + 2.0


def test_an_upscaled_image_is_soft_at_its_own_pixels(assessor, data_root):
    # A 4x bicubic upscale looks like its source at 448 px but is soft at full size: its crops say so.
    s = sorted(datasets.load("agiqa3k", data_root), key=lambda s: s.path.name)[0]
    small = Image.open(s.path).convert("RGB").resize((512, 512), Image.LANCZOS)
    up = assessor.assess(small.resize((2048, 2048), Image.BICUBIC))
    assert max(c.quality for c in up.native_crops) < up.whole_quality
    assert up.quality < assessor.assess(small).quality
