"""The eight attributes on real dev photos: every one backed by evidence, and the edits that should move one
attribute move it the right way (darken -> lighting, desaturate -> colour, blur -> focus/detail)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from iqa_core.analysis import attributes
from iqa_core.training import datasets

ATTRS = ("composition", "colour", "lighting", "focus_detail", "subject", "technical", "originality",
         "emotional_impact")
EDITS = {
    "darken": lambda im: Image.fromarray((np.asarray(im, np.float32) * 0.4).astype(np.uint8)),
    "desaturate": lambda im: ImageEnhance.Color(im).enhance(0.15),
    "blur": lambda im: im.filter(ImageFilter.GaussianBlur(max(2.0, 0.008 * max(im.size)))),
}
EXPECTED = {"darken": "lighting", "desaturate": "colour", "blur": "focus_detail"}


@pytest.fixture(scope="module")
def scored(assessor, data_root):
    """Two PARA photos and one livec photo, original and edited, scored in one batch each."""
    samples = datasets.load("para", data_root)[:2] + datasets.load("livec", data_root)[:1]
    out = []
    for s in samples:
        img = Image.open(s.path).convert("RGB")
        variants = [img] + [f(img) for f in EDITS.values()]
        results = assessor.assess_batch([(v, {}) for v in variants])
        out.append(dict(zip(("original", *EDITS), results)))
    return out


def test_every_attribute_is_0_100_with_evidence(scored):
    for row in scored:
        attrs = row["original"].attributes
        assert list(attrs) == list(ATTRS)
        for name, a in attrs.items():
            assert 0 <= a.score <= 100 and a.evidence, name
            assert all(np.isfinite(v) for v in a.evidence.values()), name


@pytest.mark.parametrize("edit", list(EDITS))
def test_edit_lowers_its_attribute(scored, edit):
    target = EXPECTED[edit]
    drops = [row[edit].attributes[target].score - row["original"].attributes[target].score for row in scored]
    assert sum(d < -0.5 for d in drops) >= len(scored) - 1, (target, drops)
    assert np.mean(drops) < -2.0, (target, drops)


def test_blend_formulas_follow_their_evidence():
    base = {"mean_luminance": 0.45, "clipped_highlights": 0.0, "crushed_shadows": 0.0, "colourfulness": 0.15,
            "subject_sharpness": 10.0, "edge_distance": 0.4, "noise_sigma": 1.0, "blockiness": 1.1}
    for name, worse in (("lighting", {"mean_luminance": 0.1}), ("lighting", {"clipped_highlights": 0.4}),
                        ("colour", {"colourfulness": 0.01}), ("focus_detail", {"subject_sharpness": 0.3}),
                        ("composition", {"edge_distance": 0.05}), ("focus_detail", {"focus_ratio": 0.4})):
        assert attributes.blend(name, 60.0, 50.0, dict(base, **worse)) < attributes.blend(name, 60.0, 50.0, base) - 3
    assert attributes.technical(50.0, dict(base, noise_sigma=15.0)) < 40
    assert attributes.technical(50.0, dict(base, blockiness=2.0)) < 40
    assert attributes.technical(50.0, base) == 50.0
    # a subject sharper than its backdrop lifts focus/detail (depth of field), one softer lowers it
    assert attributes.blend("focus_detail", 60.0, 50.0, dict(base, focus_ratio=3.0)) > attributes.blend(
        "focus_detail", 60.0, 50.0, dict(base, focus_ratio=1.0)) + 4


def test_every_attribute_says_whether_people_checked_it(scored):
    attrs = scored[0]["original"].attributes
    assert {k for k, a in attrs.items() if a.kind == "learned (PARA)"} == set(attributes.LEARNED)
    assert all(a.kind.startswith("heuristic: ") for k, a in attrs.items() if k not in attributes.LEARNED)
