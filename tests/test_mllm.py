"""MLLM scorer and writer on tiny random models of each family built in-test (tests/tiny_mllm.py, no
download): the whole path, from a saved folder through the family's processor, chat template and answer
logits to 0-100 scores, and the explanation through the faithfulness check, in seconds on CPU.

Families tested here: LLaVA and Idefics3. Qwen2.5-VL, InternVL, LLaVA-OneVision and SmolVLM are in the
family table but cannot be built on this machine: transformers' processors for them require a video
processor, which requires torchvision, and no torchvision build matches the CPU torch pinned here."""
import numpy as np
import pytest
import torch
from PIL import Image

from iqa_core.explain.facts import Facts
from iqa_core.explain.writers import explain, get_writer
from iqa_core.model.encoders.mllm import (
    FAMILIES,
    FIELDS,
    IntegerTokensError,
    MLLMScorer,
    expected_score,
    family_of,
    question,
)
from iqa_core.registry import parse
from iqa_core.runtime import thread_budget
from tests import tiny_mllm

TESTED = ("llava", "idefics3")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Models this small spend their time in thread hand-offs: one thread runs this file 3x faster on 2 busy cores.
    with thread_budget(1):
        yield


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    out = {}
    for family in TESTED:
        for numbers in ("integers", "digits", "none"):
            out[family, numbers] = tmp_path_factory.mktemp(f"tiny_{family}_{numbers}")
            tiny_mllm.save(family, out[family, numbers], numbers)
    return out


@pytest.fixture(scope="module", params=TESTED)
def family(request):
    return request.param


@pytest.fixture(scope="module")
def scorer(folders, family):
    return MLLMScorer(f"mllm:{folders[family, 'integers']}")


@pytest.fixture(scope="module")
def digit_scorer(folders, family):
    return MLLMScorer(f"mllm:local-dir:{folders[family, 'digits']}")


def _images():
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)),
            Image.new("L", (20, 30), 100)]  # grey on purpose: the scorer converts to RGB


FACTS = Facts(quality=60.0, aesthetics=55.0, alignment=None, strongest=("colour", 70.0),
              weakest=("lighting", 30.0), weakest_evidence={}, worst_region=("top left", 40.0),
              best_region=("centre", 70.0), top_emotion=("joy", 0.5), sentiment="positive", valence=6.0,
              arousal=5.0, attributes={"colour": 70.0, "lighting": 30.0})


def test_expected_score():
    assert expected_score(np.ones(41)) == pytest.approx(50.0)
    assert expected_score(np.eye(41)[0]) == pytest.approx(0.0)
    assert expected_score(np.eye(41)[-1]) == pytest.approx(100.0)
    assert expected_score(np.eye(41)[20] * 3) == pytest.approx(50.0)  # normalised first


def test_question_carries_metadata():
    q = question("quality", "a red cat", {"prompt": "a red cat", "tags": "pet, animal", "camera": "X100"})
    assert "a red cat" in q and "pet, animal" in q and "X100" not in q and "10" in q and "50" in q
    assert '"a red square"' in question("alignment", "a red square")
    assert "text" not in question("aesthetics").split("?")[0]


def test_family_table(scorer, family):
    assert scorer.family is FAMILIES[family] and scorer.family.batched
    assert {"qwen2_5_vl", "internvl", "llava_onevision", "smolvlm", "idefics3", "llava"} <= set(FAMILIES)
    with pytest.raises(ValueError, match="'clip' is not supported.*qwen2_5_vl"):
        family_of(type("Config", (), {"model_type": "clip"})())


def test_scores_in_range_and_deterministic(scorer):
    assert scorer.classes.mode == "integers" and len(scorer.classes.ids) == 41
    assert not scorer.model.training
    res = scorer.zero_shot(_images(), ["a red square", None])
    assert len(res) == 2
    for r in res:
        assert set(r) == {"quality", "aesthetics", "alignment"}
        assert 0 <= r["quality"] <= 100 and 0 <= r["aesthetics"] <= 100
    assert 0 <= res[0]["alignment"] <= 100
    assert res[1]["alignment"] is None  # no text, no alignment
    assert scorer.zero_shot(_images(), ["a red square", None]) == res
    assert scorer.zero_shot(_images()[:1])[0]["alignment"] is None


def test_probabilities_come_from_the_integer_logits(scorer):
    image, q = _images()[0], question("quality")
    inputs = scorer._inputs([(image, q)])
    with torch.inference_mode():
        logits = scorer.model(**inputs).logits[0, -1]
    ids = [scorer.tokenizer.convert_tokens_to_ids(str(n)) for n in range(10, 51)]
    expected = torch.softmax(logits[ids], 0).numpy()
    np.testing.assert_allclose(scorer.class_probabilities(image, q), expected, rtol=1e-5, atol=1e-7)
    assert scorer.score(image, q) == pytest.approx(expected_score(expected))


def test_a_padded_batch_scores_as_one_question_at_a_time(scorer, digit_scorer):
    # The three questions differ in length, so the batch is left-padded: positions must follow the mask.
    image, text = _images()[0], "a red square cat"
    for s, fields in ((scorer, FIELDS), (digit_scorer, ("quality",))):  # quality: the shortest, most padded
        batched = s.zero_shot([image], [text])[0]
        assert len({len(question(f, text)) for f in batched}) == 3
        for field in fields:
            assert batched[field] == pytest.approx(s.score(image, question(field, text)), abs=1e-4)


def test_metadata_changes_the_question_and_the_score(scorer):
    image = _images()[0]
    plain = scorer.zero_shot([image], [None])[0]
    with_meta = scorer.zero_shot([image], ["a red cat"], [{"prompt": "a red cat", "tags": "cat"}])[0]
    assert with_meta["quality"] != plain["quality"]  # the metadata is in the question the model reads


def test_digit_tokenizers_score_digit_by_digit(digit_scorer):
    assert digit_scorer.classes.mode == "digits"
    p = digit_scorer.class_probabilities(_images()[0], question("aesthetics"))
    assert p.shape == (41,) and p.sum() == pytest.approx(1.0) and (p > 0).all()
    res = digit_scorer.zero_shot(_images()[:1], ["a cat"])[0]
    assert all(0 <= res[k] <= 100 for k in ("quality", "aesthetics", "alignment"))


def test_missing_integer_tokens_is_a_clear_error(folders, family):
    with pytest.raises(IntegerTokensError, match="10..50"):
        MLLMScorer(f"mllm:{folders[family, 'none']}")


def test_writer_falls_back_through_the_check(folders, family, scorer):
    spec = f"mllm:{folders[family, 'integers']}"
    writer = get_writer(spec, max_new_tokens=24)  # enough for word salad, and quick
    assert writer.model is scorer.model  # one model per spec, shared by the scorer and the writer
    first = writer.write(FACTS)
    assert writer.write(FACTS) == first  # greedy
    assert first.startswith("Colour is the strongest point of this image")
    e = explain(FACTS, writer)
    # A random model writes word salad: the check rejects it and the template's text stands, with the reason.
    assert e.requested == spec and e.writer == "template" and e.check == "passed"
    assert e.fallback.startswith(f"{spec} text failed the faithfulness check")


def test_writer_text_that_passes_the_check_is_kept(folders, family, monkeypatch):
    writer = get_writer(f"mllm:{folders[family, 'integers']}")
    tok = writer.tokenizer
    # The tiny vocabulary is lower case; a sentence may also start with "(", which keeps the count at 3.
    tail = tok(" change the light . ( use these fixes ) .", add_special_tokens=False,
               return_tensors="pt")["input_ids"]

    def generate(input_ids, **kwargs):  # a model that continues the opening faithfully
        return torch.cat([input_ids, tail], 1)

    monkeypatch.setattr(writer.model, "generate", generate)
    e = explain(FACTS, writer)
    assert e.writer == writer.name and e.fallback is None and e.check == "passed", e.fallback


def test_bad_specs(tmp_path):
    with pytest.raises(ValueError, match="not an MLLM spec"):
        MLLMScorer("hf:some/model")
    with pytest.raises(FileNotFoundError):
        MLLMScorer(f"mllm:{tmp_path / 'missing'}")
    with pytest.raises(RuntimeError, match="image-text-to-text"):
        MLLMScorer(f"mllm:{tmp_path}")
    with pytest.raises(RuntimeError, match="image-text-to-text"):
        get_writer(f"mllm:{tmp_path}")
    assert (parse("mllm:org/model").target, parse("mllm:org/model").local) == ("org/model", False)
    assert (parse(f"mllm:{tmp_path}").target, parse(f"mllm:{tmp_path}").local) == (str(tmp_path), True)
    assert parse(f"mllm:local-dir:{tmp_path}").target == str(tmp_path)
    assert parse("mllm:org/model", "writer").backend.name == "mllm-writer"
    assert parse("mllm:org/model", "scorer").backend.name == "mllm"


def test_placement():
    from iqa_core.model.encoders.mllm.load import placement
    assert placement("cpu") == ({}, torch.float32)
    if not torch.cuda.is_available():
        assert placement() == ({}, torch.float32)  # this machine: the CPU, exact float32


def test_assessor_uses_the_mllm_for_its_fields(folders, data_root):
    from iqa_core.pipeline import Assessor
    from iqa_core.training import datasets

    spec = f"mllm:{folders['llava', 'integers']}"
    a = Assessor(scorer=spec, writer=spec)
    sample = datasets.load("agiqa3k", data_root)[0]
    with_text = a.assess(sample.path, prompt=sample.prompt)
    without = a.assess(sample.path)
    prep = a.preprocess(sample.path, prompt=sample.prompt)
    zs = a.zero_shot.zero_shot([prep.loaded.image], [sample.prompt], [prep.metadata.text_sources()])[0]
    assert with_text.quality == pytest.approx(zs["quality"], abs=0.01)
    assert with_text.alignment == pytest.approx(zs["alignment"], abs=0.01)
    assert without.alignment is None
    assert {k: with_text.backends[k] for k in ("quality", "aesthetics", "alignment")} == dict.fromkeys(
        ("quality", "aesthetics", "alignment"), spec)
    assert with_text.backends["emotions"] == "lite" and with_text.models["zero_shot"].startswith(spec)
    # The tiny model's explanation fails the check, so the template's stands and the reason is recorded.
    assert with_text.backends["explanation"] == "template" and with_text.models["explanation_check"] == "passed"
    assert with_text.models["explanation_fallback"].startswith(f"{spec} text failed")
