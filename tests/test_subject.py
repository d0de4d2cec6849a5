"""The subject (analysis/subject.py) and what it changes: depth of field is a style, damage on the subject
is named first, never "sharpen" a sharp subject; percentiles against the reference table; mood words and
comparison sentences that agree with themselves."""
import json

import numpy as np
import pytest
from PIL import Image, ImageFilter

from benchmarks.subject import versions
from iqa_core.analysis import reference, subject
from iqa_core.assessment import Attribute, Region, Subject
from iqa_core.explain import gather
from iqa_core.explain.template import template
from iqa_core.inputs.load import load_image
from iqa_core.training import datasets
from iqa_core.workflows.compare import compare_summary


@pytest.fixture(scope="module")
def pair(assessor, data_root):
    """A dev photo as shallow depth of field (blur outside a central ellipse) and as a blurred subject."""
    path = sorted(s.path for s in datasets.load("livec", data_root))[200]
    dof, blurred = versions(Image.open(path).convert("RGB"), 8.0)
    return assessor.assess(dof), assessor.assess(blurred)


def test_subject_is_data_in_the_json(pair):
    d = json.loads(pair[0].to_json())["subject"]
    grid = np.array(d["mask"])
    assert grid.shape == (14, 14) and set(np.unique(grid)) <= {0, 1}
    assert subject.MIN_SHARE - 0.01 <= d["share"] <= subject.MAX_SHARE + 0.01 and 0 <= d["confidence"] <= 1
    assert 0 <= d["quality"] <= 100 and d["label"]
    # the subject of the depth-of-field version is the sharp centre
    x0, y0, x1, y1 = d["bbox"]
    assert x0 < 0.5 < x1 and y0 < 0.5 < y1
    assert d["sharpness"] > 2 * d["background_sharpness"]


def test_depth_of_field_is_a_style_and_a_blurred_subject_is_damage(pair):
    dof, blurred = pair
    assert subject.backdrop_is_style(dof.subject) and not subject.backdrop_is_style(blurred.subject)
    assert "sharpen" not in dof.explanation.lower()
    assert not any(r.issue == "depth_of_field" for r in blurred.regions)
    assert dof.attributes["focus_detail"].score > blurred.attributes["focus_detail"].score
    assert all(r.on_subject is not None and 0 <= r.on_subject <= 1 for r in dof.regions)


def _found(sharp: float, back: float) -> subject.Found:
    grid = np.zeros((14, 14), np.float32)
    grid[4:10, 4:10] = 1
    s = Subject(grid.astype(int).tolist(), [0.29, 0.29, 0.71, 0.71], [0.5, 0.5], 0.18, 0.6, "tabby", sharp, back)
    return subject.Found(grid, s)


def test_judge_regions_excuses_only_backdrop_blur_behind_a_sharp_subject():
    corner, centre, right = (np.zeros((28, 28), bool) for _ in range(3))
    corner[:8, :8], centre[10:18, 10:18], right[10:18, 22:] = True, True, True
    masks = [corner, centre, right]

    def regs():
        return [Region(0, "top left", [0, 0, .3, .3], .08, 20.0, issue="blur"),
                Region(1, "centre", [.35, .35, .65, .65], .08, 30.0, issue="blur"),
                Region(2, "right", [.8, .35, 1, .65], .05, 60.0)]
    sharp = regs()
    subject.judge_regions(sharp, masks, _found(6.0, 1.0))
    assert [r.issue for r in sharp] == ["depth_of_field", "blur", None] and sharp[1].on_subject == 1.0
    soft = regs()
    subject.judge_regions(soft, masks, _found(1.0, 1.0))  # subject no sharper: blur is damage
    assert [r.issue for r in soft] == ["blur", "blur", None]
    # the damaged subject is named first even where a backdrop region scores lower
    attrs = {k: Attribute(v, "learned") for k, v in {"composition": 60, "focus_detail": 30, "colour": 55}.items()}
    f = gather(50, 50, None, attrs, sharp, {"joy": 0.5, "neutral": 0.5}, "positive", 6.0, 5.0, [], {},
               subject=_found(6.0, 1.0).subject)
    assert f.worst_region == ("centre", 30.0) and f.worst_on_subject and f.depth_of_field == ["top left"]
    text = template(f)
    assert "damage is on the subject, in the centre" in text and "depth of field" in text
    assert "sharpen the subject" not in text  # weakest is focus, but the subject is sharp


def _mood(sentiment, valence, emotions):
    attrs = {k: Attribute(50.0 + i, "learned") for i, k in enumerate(("composition", "colour"))}
    return template(gather(50, 50, None, attrs, [], emotions, sentiment, valence, 5.0, [], {}))


def test_mood_words_follow_valence_and_the_top_emotion():
    text = _mood("negative", 4.7, {"joy": 0.22, "sadness": 0.2, "neutral": 0.2})
    assert "mood is mixed" in text and "negative" not in text
    assert "mood is positive" in _mood("positive", 6.5, {"joy": 0.6, "neutral": 0.4})
    assert "mood is neutral" in _mood("positive", 5.2, {"joy": 0.3, "neutral": 0.7})
    assert "mood is mixed" in _mood("positive", 4.0, {"joy": 0.6, "neutral": 0.4})


def test_compare_never_says_within_zero_percent():
    a = {"quality": 60.0, "aesthetics": 50.0, "attributes": {"composition": {"score": 55.0}}}
    b = {"quality": 30.0, "aesthetics": 50.1, "attributes": {"composition": {"score": 55.1}}}
    text = compare_summary([a, b], ["a", "b"])
    assert "0%" not in text and "practically the same" in text


def test_percentiles_read_the_reference_table(tmp_path):
    assert reference.percentiles({"quality": 50.0}, 0.9, None) == ({}, None)
    assert reference.load(str(tmp_path / "missing.json")) is None
    table = reference.load()
    assert table is not None, "iqa_core/weights/percentiles.json ships with the package"
    photo_q = table["sets"]["photo"]["quantiles"]["quality"]
    pct, ref = reference.percentiles({"quality": float(np.median(photo_q)), "alignment": None}, 0.1, table)
    assert abs(pct["quality"] - 50) <= 1.5 and "alignment" not in pct and "photos" in ref
    assert reference.percentiles({"quality": 1e3}, 0.9, table)[0]["quality"] == 100.0
    assert "AI" in reference.percentiles({"quality": 50.0}, 0.9, table)[1]


def test_percentiles_and_kinds_in_the_assessment(pair):
    d = json.loads(pair[0].to_json())
    assert set(d["percentiles"]) >= {"quality", "aesthetics", "valence", "arousal"}
    assert all(0 <= v <= 100 for v in d["percentiles"].values()) and d["percentile_reference"]
    kinds = {k: a["kind"] for k, a in d["attributes"].items()}
    assert kinds["composition"] == "learned (PARA)" and kinds["originality"].startswith("heuristic: ")
    assert kinds["emotional_impact"].startswith("heuristic: ") and kinds["technical"].startswith("heuristic: ")


def test_originality_ranks_rare_concepts_higher():
    table = reference.load()
    freq = np.asarray(table["concept_frequency"])
    common, rare = np.zeros(1000), np.zeros(1000)
    common[int(np.argmax(freq))], rare[int(np.argmin(freq))] = 1.0, 1.0
    assert reference.surprisal(rare, freq) > reference.surprisal(common, freq)
    from iqa_core.analysis.attributes import originality
    assert originality(rare, table)[0] > originality(common, table)[0]
    assert originality(rare, None) is None


def test_blockiness_is_read_on_the_subject_mask(data_root):
    # JPEG blocks on the subject stay visible to the measure when the rest of the frame is smooth.
    import io

    from iqa_core.analysis import measure

    img = load_image(datasets.load("livec", data_root)[5].path).image
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=8)
    blocky = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).copy()
    w = blocky.shape[1]
    smooth = np.asarray(img.filter(ImageFilter.GaussianBlur(6)))
    blocky[:, w // 2:] = smooth[:, w // 2:]
    working = measure.WorkingCopy.of(Image.fromarray(blocky))
    left = np.zeros(working.lum.shape, bool)
    left[:, : working.lum.shape[1] // 2 - 8] = True
    assert measure.blockiness(working, left) > 1.3 > measure.blockiness(working, ~left)
    assert measure.blockiness(working, np.ones_like(left)) == measure.blockiness(working)
