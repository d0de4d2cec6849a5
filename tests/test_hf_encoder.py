"""HF CLIP backend on a tiny random CLIP built in-test: no download, a few seconds on CPU."""
import string

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor, CLIPTokenizer  # noqa: E402

from iqa_core.model.encoders.hf import EMOTION_PROMPTS, PAIR_SCORES, HFClipEncoder  # noqa: E402
from iqa_core.registry import parse  # noqa: E402

EMBED_DIM = 16
KEYS = {"quality", "aesthetics", "alignment", "emotions", "valence", "arousal"}


def _tokenizer() -> CLIPTokenizer:
    # Character-level BPE (no merges) over printable ASCII, so every prompt tokenizes without unknowns.
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in string.ascii_lowercase + string.digits + string.punctuation:
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[])


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77,
                         bos_token_id=0, eos_token_id=1, pad_token_id=1),  # CLIP pools at the EOS id
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                           num_hidden_layers=2, num_attention_heads=2),
        projection_dim=EMBED_DIM)
    folder = tmp_path_factory.mktemp("tiny_clip")
    CLIPModel(config).save_pretrained(folder)
    images = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=images, tokenizer=_tokenizer()).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def encoder(model_dir):
    return HFClipEncoder(f"hf:{model_dir}")


def _images():
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8))
    flat = Image.new("RGB", (20, 30), (200, 30, 30))
    grey = Image.new("L", (64, 64), 128)  # not RGB on purpose
    return [noise, flat, grey]


def _target(spec):
    s = parse(spec)
    return s.target, s.local


def test_resolve_spec(tmp_path):
    assert _target("hf:openai/clip-vit-base-patch32") == ("openai/clip-vit-base-patch32", False)
    assert _target(f"hf:{tmp_path}") == (str(tmp_path), True)
    assert _target(f"local-dir:{tmp_path}") == (str(tmp_path), True)
    for spec in (f"hf:{tmp_path / 'missing'}", f"local-dir:{tmp_path / 'missing'}", "local-dir:relative/missing"):
        with pytest.raises(FileNotFoundError, match="does not exist"):
            parse(spec)
    for spec in ("openai/clip-vit-base-patch32", "hf:", "local-dir:"):
        with pytest.raises(ValueError):
            parse(spec)


def test_loads_by_both_specs(model_dir, encoder):
    other = HFClipEncoder(f"local-dir:{model_dir}")
    assert encoder.name == f"hf:{model_dir}" and other.name == f"local-dir:{model_dir}"
    assert encoder.version.startswith(f"hf:{model_dir}@")
    assert not other.model.training
    img = _images()[:1]
    np.testing.assert_array_equal(encoder.image_embeddings(img), other.image_embeddings(img))


def test_embeddings_shape_and_norm(encoder):
    img = encoder.image_embeddings(_images())
    txt = encoder.text_embeddings(["Good photo.", "a red square", ""])
    for emb, n in ((img, 3), (txt, 3)):
        assert emb.shape == (n, EMBED_DIM) and emb.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert encoder.image_embeddings([]).shape == (0, EMBED_DIM)


def test_deterministic(encoder):
    image = _images()[0]
    twice = encoder.image_embeddings([image, image])
    np.testing.assert_array_equal(twice[0], twice[1])
    np.testing.assert_array_equal(encoder.image_embeddings([image, image]), twice)
    # A different batch size may take another BLAS path, so only float rounding may differ.
    np.testing.assert_allclose(encoder.image_embeddings([image])[0], twice[0], atol=1e-6)
    assert encoder.zero_shot([image]) == encoder.zero_shot([image])


def test_zero_shot_ranges(encoder):
    results = encoder.zero_shot(_images(), [None, "a red square", None])
    assert len(results) == 3
    for res in results:
        assert set(res) == KEYS
        assert 0 <= res["quality"] <= 100 and 0 <= res["aesthetics"] <= 100
        assert 1 <= res["valence"] <= 9 and 1 <= res["arousal"] <= 9
        assert list(res["emotions"]) == list(EMOTION_PROMPTS)
        assert all(0 <= p <= 1 for p in res["emotions"].values())
        assert sum(res["emotions"].values()) == pytest.approx(1.0, abs=1e-5)
    assert results[0]["alignment"] is None and results[2]["alignment"] is None
    assert 0 <= results[1]["alignment"] <= 100
    assert all(r["alignment"] is None for r in encoder.zero_shot(_images()[:2]))


def test_fixed_prompts_embedded_once(encoder, monkeypatch):
    encoder.zero_shot(_images()[:1])  # warm the cache
    calls = []
    original = encoder._embed_texts
    monkeypatch.setattr(encoder, "_embed_texts", lambda texts: calls.append(texts) or original(texts))
    encoder.zero_shot(_images()[:1])
    assert calls == []


def test_huge_prompt(encoder):
    huge = "blurry photo of a cat. " * (1_000_000 // 23)
    assert encoder.text_embeddings([huge]).shape == (1, EMBED_DIM)
    assert encoder.zero_shot(_images()[:1], [huge])[0]["alignment"] is not None


def test_folder_without_model(tmp_path):
    with pytest.raises(RuntimeError) as err:
        HFClipEncoder(f"local-dir:{tmp_path}")
    assert f"local-dir:{tmp_path}" in str(err.value) and "config.json" in str(err.value)


def test_hub_failure_suggests_local_folder(monkeypatch):
    import transformers

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", offline)  # no network call in tests
    with pytest.raises(RuntimeError) as err:
        HFClipEncoder("hf:openai/clip-vit-base-patch32")
    message = str(err.value)
    assert "hf:openai/clip-vit-base-patch32" in message and "couldn't connect" in message
    assert "local folder" in message


# ------------------------------------------------------------------------------------------------ SigLIP
@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        PreTrainedTokenizerFast,
        SiglipConfig,
        SiglipImageProcessorPil,
        SiglipModel,
        SiglipProcessor,
    )

    torch.manual_seed(0)
    words = sorted({w.strip(".,").lower() for t in ["a red square"] + [p for _, ps in PAIR_SCORES.values()
                                                                          for pair in ps for p in pair]
                    + list(EMOTION_PROMPTS.values()) for w in t.split()})
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(["<pad>", "<unk>", "</s>", ".", ","] + words)},
                                     unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="</s>",
                                   model_max_length=16)
    config = SiglipConfig(
        text_config=dict(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=16, projection_size=EMBED_DIM,
                         pad_token_id=0, bos_token_id=None, eos_token_id=2),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=EMBED_DIM, intermediate_size=64,
                           num_hidden_layers=2, num_attention_heads=2))
    folder = tmp_path_factory.mktemp("tiny_siglip")
    model = SiglipModel(config)
    with torch.no_grad():
        model.logit_bias.fill_(-10.0)  # the SigLIP paper's initial bias (random init here leaves it at 0)
    model.save_pretrained(folder)
    SiglipProcessor(image_processor=SiglipImageProcessorPil(size={"height": 32, "width": 32}),
                    tokenizer=fast).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def siglip(siglip_dir):
    return HFClipEncoder(f"hf:{siglip_dir}")


def test_siglip_scores_with_sigmoids(siglip, encoder):
    assert siglip.sigmoid and not encoder.sigmoid
    img = siglip.image_embeddings(_images()[:1])
    good, bad = PAIR_SCORES["quality"][1][0]
    logits = siglip._logit_scale * img @ np.stack([siglip._prompt_rows[good], siglip._prompt_rows[bad]]).T
    sig = 1 / (1 + np.exp(-(logits + siglip._logit_bias)))
    np.testing.assert_allclose(siglip._softmax_over(img, [good, bad]), sig / sig.sum(1, keepdims=True), rtol=1e-6)
    assert siglip._logit_bias == pytest.approx(-10.0)  # read from the model, as trained


def test_siglip_zero_shot_ranges_and_determinism(siglip):
    res = siglip.zero_shot(_images(), [None, "a red square", None])
    assert res == siglip.zero_shot(_images(), [None, "a red square", None])
    for r in res:
        assert set(r) == KEYS and 0 <= r["quality"] <= 100 and 1 <= r["valence"] <= 9
        assert sum(r["emotions"].values()) == pytest.approx(1.0, abs=1e-5)
    cos = float(siglip.image_embeddings(_images()[1:2])[0] @ siglip.text_embeddings(["a red square"])[0])
    expected = 100 / (1 + np.exp(-(siglip._logit_scale * cos + siglip._logit_bias)))
    assert res[1]["alignment"] == pytest.approx(expected, rel=1e-5) and res[0]["alignment"] is None
