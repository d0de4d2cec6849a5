"""Loading an image-text-to-text model once per process: the scorer and the writer of one spec share it
(a 7B model loaded twice would not fit where one does).

Device and dtype are chosen here: on a GPU, accelerate's device_map="auto" places the layers and the
weights load in bfloat16 (float16 where the GPU lacks bfloat16); on a CPU, float32 (bfloat16 matmuls are
slow there and the tiny test models want exact softmaxes).
"""
from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass

import torch

from iqa_core.model.encoders.mllm.families import Family, family_of
from iqa_core.registry import Spec


@dataclass(frozen=True)
class Loaded:
    model: object
    processor: object
    family: Family
    device: torch.device  # where inputs go (the first layer's device under device_map="auto")
    version: str


_CACHE: dict[tuple, Loaded] = {}
_LOCK = threading.Lock()


def placement(device: str | None = None) -> tuple[dict, torch.dtype]:
    """from_pretrained keywords and the dtype for this machine (or for an explicit device)."""
    on_gpu = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    if not on_gpu:
        return {}, torch.float32
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device is None and importlib.util.find_spec("accelerate") is not None:
        return {"device_map": "auto"}, dtype
    return {}, dtype


def load(spec: Spec, device: str | None = None) -> Loaded:
    """The model and processor a parsed "mllm:" spec names, loaded once per (folder or id, device)."""
    key = (spec.target, spec.local, device)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load(spec, device)
        return _CACHE[key]


def _load(spec: Spec, device: str | None) -> Loaded:
    try:
        from transformers import AutoModelForImageTextToText, AutoProcessor
    except ImportError as err:
        raise ImportError(f"{spec.raw!r} needs the 'transformers' package; install it.") from err
    kwargs, dtype = placement(device)
    try:
        model = AutoModelForImageTextToText.from_pretrained(spec.target, local_files_only=spec.local, dtype=dtype,
                                                            **kwargs)
        processor = AutoProcessor.from_pretrained(spec.target, local_files_only=spec.local)
    except Exception as err:  # transformers raises OSError, ValueError, KeyError... for a bad or missing model
        hint = ("The folder must hold a saved image-text-to-text model (config.json, weights, processor and "
                "tokenizer files, as save_pretrained writes them)." if spec.local else
                "Offline? Download the model once and pass its local folder, e.g. 'mllm:/path/to/folder'.")
        if importlib.util.find_spec("torchvision") is None:
            # transformers builds the Qwen-VL, InternVL, LLaVA-OneVision and SmolVLM processors with a video
            # processor, and its video processors need torchvision, even when only images are sent.
            hint += "\nQwen-VL, InternVL, LLaVA-OneVision and SmolVLM processors also need torchvision (built for " \
                    "the installed torch)."
        raise RuntimeError(f"Could not load MLLM {spec.raw!r} from {spec.target!r}: {err}\n{hint}") from err
    family = family_of(model.config)
    if "device_map" not in kwargs:
        model.to(device or "cpu")
    model.eval()  # no dropout: the same image and question always give the same logits
    tokenizer = getattr(processor, "tokenizer", processor)
    tokenizer.padding_side = "left"  # the answer position is the last one in every row of a batch
    revision = getattr(model.config, "_commit_hash", None) or model.config._name_or_path
    return Loaded(model, processor, family, model.device, f"{spec.raw}@{revision}")
