"""MLLM scorer on tiny random LLaVA models built in-test (no download): the whole path, from a saved folder
through the processor and the answer logits to 0-100 scores, in a few seconds on CPU."""
import numpy as np
import pytest
import torch
from PIL import Image

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers  # noqa: E402
from transformers import (CLIPImageProcessorPil, CLIPVisionConfig, LlamaConfig, LlavaConfig,  # noqa: E402
                          LlavaForConditionalGeneration, LlavaProcessor, PreTrainedTokenizerFast)

from iqa_core.registry import parse  # noqa: E402
from iqa_core.model.encoders.mllm import IntegerTokensError, MLLMScorer, expected_score, question  # noqa: E402

SPECIALS = ["<pad>", "<unk>", "<s>", "</s>", "<image>"]
WORDS = ("user assistant how good is the technical quality of this image sharpness noise artefacts and exposure "
         "aesthetically pleasing composition colour light subject well does match its text answer with one "
         "integer from to worst best comes prompt tags caption a red square cat : ; ( ) . , ? \"").split()
CHAT = ("{% for m in messages %}USER: {% for c in m['content'] %}{% if c['type'] == 'image' %}<image>\n"
        "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endfor %} ASSISTANT:")


def _tokenizer(numbers: str) -> PreTrainedTokenizerFast:
    """Word-level tokenizer; numbers: "integers" ("10".."50" are single tokens), "digits" (numbers are split
    into digit tokens) or "none" (neither: numbers are unknown)."""
    vocab = list(SPECIALS) + WORDS
    pre = [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    if numbers == "integers":
        vocab += [str(n) for n in range(10, 51)]
    elif numbers == "digits":
        vocab += [str(d) for d in range(10)]
        pre.append(pre_tokenizers.Digits(individual_digits=True))
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(dict.fromkeys(vocab))}, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence(pre)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>")
    fast.add_special_tokens({"additional_special_tokens": ["<image>"]})
    return fast


def _save_tiny_llava(folder, numbers: str) -> None:
    torch.manual_seed(0)
    tok = _tokenizer(numbers)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                                       num_hidden_layers=2, num_attention_heads=2),
        text_config=LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                                pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                                eos_token_id=tok.eos_token_id),
        image_token_index=tok.convert_tokens_to_ids("<image>"), image_seq_length=16,
        vision_feature_layer=-1, vision_feature_select_strategy="default")
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    images = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    # 16 patches + CLS, minus CLS under the "default" feature strategy: 16 image tokens per image.
    LlavaProcessor(image_processor=images, tokenizer=tok, patch_size=8, vision_feature_select_strategy="default",
                   num_additional_image_tokens=1, chat_template=CHAT).save_pretrained(folder)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    out = {}
    for numbers in ("integers", "digits", "none"):
        out[numbers] = tmp_path_factory.mktemp(f"tiny_llava_{numbers}")
        _save_tiny_llava(out[numbers], numbers)
    return out


@pytest.fixture(scope="module")
def scorer(folders):
    return MLLMScorer(f"mllm:{folders['integers']}")


def _images():
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)),
            Image.new("L", (20, 30), 100)]  # grey on purpose: the scorer converts to RGB


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


def test_metadata_changes_the_question_and_the_score(scorer):
    image = _images()[0]
    plain = scorer.zero_shot([image], [None])[0]
    with_meta = scorer.zero_shot([image], ["a red cat"], [{"prompt": "a red cat", "tags": "cat"}])[0]
    assert with_meta["quality"] != plain["quality"]  # the metadata is in the question the model reads


def test_digit_tokenizers_score_digit_by_digit(folders):
    s = MLLMScorer(f"mllm:local-dir:{folders['digits']}")
    assert s.classes.mode == "digits"
    p = s.class_probabilities(_images()[0], question("aesthetics"))
    assert p.shape == (41,) and p.sum() == pytest.approx(1.0) and (p > 0).all()
    res = s.zero_shot(_images()[:1], ["a cat"])[0]
    assert all(0 <= res[k] <= 100 for k in ("quality", "aesthetics", "alignment"))


def test_missing_integer_tokens_is_a_clear_error(folders):
    with pytest.raises(IntegerTokensError, match="10..50"):
        MLLMScorer(f"mllm:{folders['none']}")


def test_bad_specs(tmp_path):
    with pytest.raises(ValueError, match="not an MLLM spec"):
        MLLMScorer("hf:some/model")
    with pytest.raises(FileNotFoundError):
        MLLMScorer(f"mllm:{tmp_path / 'missing'}")
    with pytest.raises(RuntimeError, match="image-text-to-text"):
        MLLMScorer(f"mllm:{tmp_path}")
    assert (parse("mllm:org/model").target, parse("mllm:org/model").local) == ("org/model", False)
    assert (parse(f"mllm:{tmp_path}").target, parse(f"mllm:{tmp_path}").local) == (str(tmp_path), True)
    assert parse(f"mllm:local-dir:{tmp_path}").target == str(tmp_path)


def test_assessor_uses_the_mllm_for_its_fields(folders, data_root):
    from iqa_core.training import datasets
    from iqa_core.pipeline import Assessor

    spec = f"mllm:{folders['integers']}"
    a = Assessor(scorer=spec)
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
    assert with_text.models["explanation_check"] == "passed"
