"""The image-text-to-text families transformers supports natively (no trust_remote_code), keyed by
`config.model_type`: what differs between them when a prompt with one image is built and batched.

The chat template itself comes with each model's processor (apply_chat_template); a family only says what
the processor cannot: the image placeholder for a processor saved without a template, whether images go in
as one list per prompt, and whether the model needs explicit position ids under left padding (rotary
models read positions from input order; the multimodal-rope families compute their own from the mask).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str
    image_token: str  # the placeholder the processor expands, for a prompt built without a chat template
    nested_images: bool = False  # the processor takes images as one list per prompt (Idefics3, SmolVLM)
    position_ids: bool = True  # pass positions from the attention mask (left padding); False: the model does
    batched: bool = True  # prompts of one call run as one padded batch


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("llava", "<image>"),
    Family("llava_onevision", "<image>"),
    Family("qwen2_vl", "<|vision_start|><|image_pad|><|vision_end|>", position_ids=False),
    Family("qwen2_5_vl", "<|vision_start|><|image_pad|><|vision_end|>", position_ids=False),
    Family("idefics3", "<image>", nested_images=True),
    Family("smolvlm", "<image>", nested_images=True),
    Family("internvl", "<IMG_CONTEXT>"),
)}


def family_of(config) -> Family:
    """The family of a loaded model's config; an unsupported model type is an error naming the supported."""
    model_type = getattr(config, "model_type", None)
    family = FAMILIES.get(model_type)
    if family is None:
        raise ValueError(f"MLLM model type {model_type!r} is not supported; supported: {', '.join(FAMILIES)} "
                         "(Qwen2-VL / Qwen2.5-VL, LLaVA / LLaVA-OneVision, Idefics3 / SmolVLM, InternVL "
                         "as transformers implements them natively).")
    return family
