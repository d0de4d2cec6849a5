"""Optional MLLM scorer: any Hugging Face image-text-to-text model (hub id or local folder) scores quality,
aesthetics and, when the image has a text, alignment, the way Q-Align (Wu et al. 2023) and IOVQA read a
multimodal LLM.

For users with a model hub (or a downloaded model) and a GPU; the default lite backend needs neither. Per
field, the model is asked one question that ends "Answer with one integer from 10 to 50", with the image's
metadata (prompt, tags, caption) in the question. The score is never parsed from generated text: the
logits of the 41 integer classes 10..50 are read at the answer position, softmaxed over those classes, and
their expected value is rescaled to 0-100. The integers are one token each in some vocabularies; where a
tokenizer writes numbers digit by digit, the class probability is P(first digit) * P(second digit | first),
from one more batched forward pass. A vocabulary that has neither raises an error; there is no fallback.

Families (mllm.families): Qwen2-VL / Qwen2.5-VL, LLaVA / LLaVA-OneVision, Idefics3 / SmolVLM and InternVL,
each through its own processor and chat template. The questions of one call run as one left-padded batch.

Spec: "mllm:<hub id or folder>" (also "mllm:hf:<...>" / "mllm:local-dir:<folder>"), e.g.
Assessor(scorer="mllm:/models/llava-1.5-7b-hf").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from iqa_core.model.encoders.mllm.load import load
from iqa_core.registry import Spec, parse

LOW, HIGH = 10, 50
LEVELS = tuple(range(LOW, HIGH + 1))
FIELDS = ("quality", "aesthetics", "alignment")
MAX_META_CHARS = 300
ANSWER = f"Answer with one integer from {LOW} (worst) to {HIGH} (best)."
QUESTIONS = {
    "quality": "How good is the technical quality of this image: sharpness, noise, artefacts and exposure?",
    "aesthetics": "How aesthetically pleasing is this image: composition, colour, light and subject?",
    "alignment": 'How well does this image match its text: "{text}"?',
}


class IntegerTokensError(ValueError):
    """The model's vocabulary cannot write the answer classes 10..50 (as tokens or as digit tokens)."""


@dataclass
class _Classes:
    mode: str  # "integers": one token per class; "digits": two digit tokens per class
    ids: list[int]  # integers: the 41 class tokens; digits: the ten digit tokens 0..9


def _single_token(tokenizer, text: str) -> int | None:
    # SentencePiece vocabularies (Llama) write a bare word-start piece before a number: it is not the number.
    ids = [i for i in tokenizer.encode(text, add_special_tokens=False) if tokenizer.decode([i]).strip()]
    unknown = getattr(tokenizer, "unk_token_id", None)
    return ids[0] if len(ids) == 1 and ids[0] != unknown else None


def find_classes(tokenizer) -> _Classes:
    """The answer classes' tokens: "10".."50" as single tokens, else the digits "0".."9"; else an error."""
    ints = [_single_token(tokenizer, str(n)) for n in LEVELS]
    if all(i is not None for i in ints) and len(set(ints)) == len(ints):
        return _Classes("integers", ints)
    digits = [_single_token(tokenizer, str(d)) for d in range(10)]
    if all(i is not None for i in digits) and len(set(digits)) == 10:
        return _Classes("digits", digits)
    missing = [str(n) for n, i in zip(LEVELS, ints) if i is None][:5]
    raise IntegerTokensError(
        f"The model's tokenizer ({type(tokenizer).__name__}) has no single tokens for the score classes "
        f"{LOW}..{HIGH} (e.g. {', '.join(missing)} are split or unknown) nor for the digits 0..9, so the "
        f"scores cannot be read from its logits. Use a model whose vocabulary has them.")


def question(field: str, text: str | None = None, metadata: dict[str, str] | None = None) -> str:
    """The question for one field, with the image's metadata in it."""
    meta = {k: v for k, v in (metadata or {}).items() if k in ("prompt", "tags", "caption") and v}
    if text and not meta:
        meta = {"prompt": text}
    if field == "alignment":
        body = QUESTIONS["alignment"].format(text=(text or "")[:MAX_META_CHARS])
    else:
        body = QUESTIONS[field]
        if meta:
            about = "; ".join(f"{k}: {str(v)[:MAX_META_CHARS]}" for k, v in meta.items())
            body = f"The image comes with this text ({about}). {body}"
    return f"{body} {ANSWER}"


def expected_score(class_probs: np.ndarray) -> float:
    """Expected value of the 41 classes 10..50 under their probabilities, rescaled to 0-100."""
    p = np.asarray(class_probs, np.float64)
    p = p / p.sum()
    return float((p @ np.array(LEVELS, np.float64) - LOW) / (HIGH - LOW) * 100.0)


class MLLMScorer:
    """Quality, aesthetics and alignment (0-100) from an image-text-to-text model's answer logits."""

    fields = FIELDS

    def __init__(self, spec: str | Spec, device: str | None = None, batch_size: int = 8):
        """device: None picks one (device_map="auto" on a GPU, else the CPU); batch_size: questions per
        forward pass for the families that batch."""
        parsed = parse(spec, "scorer")
        if parsed.backend.name != "mllm":
            raise ValueError(f"{parsed.raw!r} is not an MLLM spec: write 'mllm:<hub id or folder>'.")
        self.name = parsed.raw
        loaded = load(parsed, device)
        self.model, self.processor, self.family, self.device = (loaded.model, loaded.processor, loaded.family,
                                                                 loaded.device)
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.classes = find_classes(self.tokenizer)
        self.version = loaded.version
        self.batch_size = batch_size if self.family.batched else 1

    # -- public ---------------------------------------------------------------------------------------
    def zero_shot(self, images: list[Image.Image], prompts: list[str | None] | None = None,
                  metadata: list[dict[str, str] | None] | None = None) -> list[dict]:
        """Per image: {"quality", "aesthetics", "alignment" (None without a text)}, each 0-100.
        prompts: the text alignment is measured against; metadata: the image's text sources."""
        prompts = prompts or [None] * len(images)
        metadata = metadata or [None] * len(images)
        if not len(images) == len(prompts) == len(metadata):
            raise ValueError(f"zero_shot got {len(images)} images, {len(prompts)} prompts, {len(metadata)} metadata.")
        rows = [(i, f) for i, text in enumerate(prompts) for f in FIELDS if f != "alignment" or text]
        queries = [(images[i], question(f, prompts[i], metadata[i])) for i, f in rows]
        scores = [expected_score(p) for p in self.class_probabilities_batch(queries)]
        out = [dict.fromkeys(FIELDS) for _ in images]
        for (i, f), s in zip(rows, scores):
            out[i][f] = s
        return out

    def class_probabilities(self, image: Image.Image, query: str) -> np.ndarray:
        """(41,) probabilities of the answers 10..50 at the answer position."""
        return self.class_probabilities_batch([(image, query)])[0]

    def class_probabilities_batch(self, queries: list[tuple[Image.Image, str]]) -> list[np.ndarray]:
        """class_probabilities for many (image, question) pairs, batch_size at a time."""
        return [p for i in range(0, len(queries), self.batch_size)
                for p in self._probabilities(queries[i:i + self.batch_size])]

    def score(self, image: Image.Image, query: str) -> float:
        return expected_score(self.class_probabilities(image, query))

    # -- internals ------------------------------------------------------------------------------------
    @torch.inference_mode()
    def _probabilities(self, queries: list[tuple[Image.Image, str]]) -> list[np.ndarray]:
        inputs = self._inputs(queries)
        logits = self._last_logits(inputs)
        if self.classes.mode == "integers":
            return list(torch.softmax(logits[:, self.classes.ids].float(), 1).cpu().numpy())
        # Digit by digit: P(10a + b) = P(a) P(b | a), over the first digits 1..5 and the classes 10..50; the
        # second digit is read after each first digit, one row per (question, first digit).
        digits = self.classes.ids
        first = torch.softmax(logits[:, digits[1:6]].float(), 1)  # (n, 5): P(a) among the allowed first digits
        repeated = self._inputs([q for q in queries for _ in range(5)])
        second = self._last_logits(_append(repeated, torch.tensor(digits[1:6] * len(queries))))
        p_b = torch.softmax(second[:, digits].float(), 1).reshape(len(queries), 5, 10)  # (n, a, b)
        probs = []
        for row in range(len(queries)):
            p = np.array([float(first[row, n // 10 - 1] * p_b[row, n // 10 - 1, n % 10]) for n in LEVELS])
            probs.append(p / p.sum())  # renormalised over the 41 classes
        return probs

    def _prompt(self, query: str) -> str:
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": query}]}]
        if getattr(self.processor, "chat_template", None):
            return self.processor.apply_chat_template(messages, add_generation_prompt=True)
        return f"USER: {self.family.image_token}\n{query} ASSISTANT:"

    def _inputs(self, queries: list[tuple[Image.Image, str]]) -> dict:
        images = [im.convert("RGB") for im, _ in queries]
        inputs = self.processor(images=[[im] for im in images] if self.family.nested_images else images,
                                text=[self._prompt(q) for _, q in queries], padding=True, return_tensors="pt")
        return {k: (v.to(self.device) if torch.is_tensor(v) else v) for k, v in inputs.items()}

    def _last_logits(self, inputs: dict) -> torch.Tensor:
        """(n, vocab) logits at the last position of every (left-padded) row."""
        inputs = dict(inputs)
        if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        if self.family.position_ids and "attention_mask" in inputs:
            # Left padding shifts every real token; positions counted over the mask put them back.
            inputs["position_ids"] = (inputs["attention_mask"].long().cumsum(1) - 1).clamp(min=0)
        return self.model(**inputs).logits[:, -1, :]


def _append(inputs: dict, tokens: torch.Tensor) -> dict:
    """The inputs with one more token at the end of every row (a right-aligned batch stays aligned)."""
    out = dict(inputs)
    ids = inputs["input_ids"]
    out["input_ids"] = torch.cat([ids, tokens.to(ids.device, ids.dtype)[:, None]], 1)
    for key in ("attention_mask", "mm_token_type_ids", "token_type_ids"):
        if key in inputs and torch.is_tensor(inputs[key]):
            fill = 1 if key == "attention_mask" else 0  # a text token, attended
            t = inputs[key]
            out[key] = torch.cat([t, torch.full((t.shape[0], 1), fill, dtype=t.dtype, device=t.device)], 1)
    return out
