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

Spec: "mllm:<hub id or folder>" (also "mllm:hf:<...>" / "mllm:local-dir:<folder>"), e.g.
Assessor(scorer="mllm:/models/llava-1.5-7b-hf").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

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
    ids = tokenizer.encode(text, add_special_tokens=False)
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

    def __init__(self, spec: str | Spec, device: str | None = None, dtype: torch.dtype | None = None):
        parsed = parse(spec, "scorer")
        if parsed.backend.name != "mllm":
            raise ValueError(f"{parsed.raw!r} is not an MLLM spec: write 'mllm:<hub id or folder>'.")
        spec, source, local = parsed.raw, parsed.target, parsed.local
        self.name = spec
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = dtype or (torch.bfloat16 if self.device.startswith("cuda") else torch.float32)
        self.model, self.processor = _load(spec, source, local, dtype)
        self.model.to(self.device).eval()
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.classes = find_classes(self.tokenizer)
        self.version = f"{spec}@{getattr(self.model.config, '_commit_hash', None) or self.model.config._name_or_path}"

    # -- public ---------------------------------------------------------------------------------------
    def zero_shot(self, images: list[Image.Image], prompts: list[str | None] | None = None,
                  metadata: list[dict[str, str] | None] | None = None) -> list[dict]:
        """Per image: {"quality", "aesthetics", "alignment" (None without a text)}, each 0-100.
        prompts: the text alignment is measured against; metadata: the image's text sources."""
        prompts = prompts or [None] * len(images)
        metadata = metadata or [None] * len(images)
        if not len(images) == len(prompts) == len(metadata):
            raise ValueError(f"zero_shot got {len(images)} images, {len(prompts)} prompts, {len(metadata)} metadata.")
        out = []
        for image, text, meta in zip(images, prompts, metadata):
            res = {f: self.score(image, question(f, text, meta)) for f in ("quality", "aesthetics")}
            res["alignment"] = self.score(image, question("alignment", text, meta)) if text else None
            out.append(res)
        return out

    @torch.inference_mode()
    def class_probabilities(self, image: Image.Image, query: str) -> np.ndarray:
        """(41,) probabilities of the answers 10..50 at the answer position."""
        inputs = self._inputs(image, query)
        logits = self._last_logits(inputs)[0]
        if self.classes.mode == "integers":
            return torch.softmax(logits[self.classes.ids].float(), 0).cpu().numpy()
        # Digit by digit: P(10a + b) = P(a) P(b | a), over the first digits 1..5 and the classes 10..50.
        digits = self.classes.ids
        first = torch.softmax(logits[digits[1:6]].float(), 0)  # P(a), a = 1..5, among the allowed first digits
        ids = inputs["input_ids"]
        batch = {k: (v.repeat(5, *[1] * (v.dim() - 1)) if torch.is_tensor(v) and v.shape[0] == 1 else v)
                 for k, v in inputs.items()}
        batch["input_ids"] = torch.cat([ids.repeat(5, 1), torch.tensor(digits[1:6], device=ids.device)[:, None]], 1)
        if "attention_mask" in inputs:
            batch["attention_mask"] = torch.cat([batch["attention_mask"],
                                                 torch.ones(5, 1, dtype=batch["attention_mask"].dtype,
                                                            device=ids.device)], 1)
        if "mm_token_type_ids" in inputs:  # models that tag image tokens per position
            t = batch["mm_token_type_ids"]
            batch["mm_token_type_ids"] = torch.cat([t, torch.zeros(5, 1, dtype=t.dtype, device=t.device)], 1)
        second = self._last_logits(batch)  # (5, vocab)
        probs = []
        for n in LEVELS:
            a, b = divmod(n, 10)
            p_b = torch.softmax(second[a - 1, digits].float(), 0)[b]  # renormalised over the 41 classes below
            probs.append(float(first[a - 1] * p_b))
        p = np.array(probs)
        return p / p.sum()

    def score(self, image: Image.Image, query: str) -> float:
        return expected_score(self.class_probabilities(image, query))

    # -- internals ------------------------------------------------------------------------------------
    def _prompt(self, query: str) -> str:
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": query}]}]
        if getattr(self.processor, "chat_template", None):
            return self.processor.apply_chat_template(messages, add_generation_prompt=True)
        image_token = getattr(self.processor, "image_token", "<image>")
        return f"USER: {image_token}\n{query} ASSISTANT:"

    def _inputs(self, image: Image.Image, query: str) -> dict:
        inputs = self.processor(images=[image.convert("RGB")], text=[self._prompt(query)], return_tensors="pt")
        return {k: (v.to(self.device) if torch.is_tensor(v) else v) for k, v in inputs.items()}

    def _last_logits(self, inputs: dict) -> torch.Tensor:
        if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
            inputs = dict(inputs, pixel_values=inputs["pixel_values"].to(self.model.dtype))
        return self.model(**inputs).logits[:, -1, :]


def _load(spec: str, source: str, local: bool, dtype):
    try:
        from transformers import AutoModelForImageTextToText, AutoProcessor
    except ImportError as err:
        raise ImportError(f"Scorer {spec!r} needs the 'transformers' package; install it.") from err
    try:
        model = AutoModelForImageTextToText.from_pretrained(source, local_files_only=local, dtype=dtype)
        processor = AutoProcessor.from_pretrained(source, local_files_only=local)
    except Exception as err:  # transformers raises OSError, ValueError, KeyError... for a bad or missing model
        hint = ("The folder must hold a saved image-text-to-text model (config.json, weights, processor and "
                "tokenizer files, as save_pretrained writes them)." if local else
                "Offline? Download the model once and pass its local folder, e.g. 'mllm:/path/to/folder'.")
        raise RuntimeError(f"Could not load MLLM scorer {spec!r} from {source!r}: {err}\n{hint}") from err
    return model, processor
