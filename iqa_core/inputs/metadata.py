"""Text metadata embedded in an image file (by a generator, a camera or an editor) and what the user types.

Pillow reads the containers and inputs.readers the text they hold; this module merges what they found with
what the user typed. Every value is bounded (MAX_TEXT_CHARS, MAX_TAGS, ...) because files and users can be
hostile.
"""
from __future__ import annotations

from collections.abc import Iterable
from copy import deepcopy
from dataclasses import asdict, dataclass, field
from typing import Any

from PIL import Image

from iqa_core.inputs.readers import READERS, Found, to_text

MAX_TEXT_CHARS = 2000
MAX_TAG_CHARS = 100
MAX_TAGS = 64
MAX_SETTINGS = 64

_SCALARS = ("prompt", "negative_prompt", "caption", "camera", "software")

@dataclass
class Metadata:
    prompt: str | None = None
    negative_prompt: str | None = None
    tags: list[str] = field(default_factory=list)
    caption: str | None = None
    camera: str | None = None  # "Make Model"
    software: str | None = None
    settings: dict[str, str] = field(default_factory=dict)  # generation settings: Steps, Sampler, Seed, Model...
    sources: dict[str, str] = field(default_factory=dict)  # field -> where it came from ("png:parameters", "user")
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def text_sources(self) -> dict[str, str]:
        """Non-empty text per source, for the text encoder."""
        texts = {
            "prompt": self.prompt,
            "tags": ", ".join(self.tags),
            "caption": self.caption,
            "camera": self.camera,
            "software": self.software,
        }
        return {key: text for key, text in texts.items() if text}

    def is_empty(self) -> bool:
        return not (any(getattr(self, name) for name in _SCALARS) or self.tags or self.settings)


# ---------------------------------------------------------------- public functions


def read_embedded(img: Image.Image) -> Metadata:
    """Everything textual the file carries. Never raises: a broken block becomes a warning."""
    meta = Metadata()
    found: list[Found] = []
    for label, reader in READERS:
        try:
            for item in reader(img):  # items found before a failure are kept
                found.append(item)
        except Exception as exc:  # one unreadable block must not hide the others
            found.append(("warning", f"{label} unreadable ({type(exc).__name__})", ""))
    _fill(meta, found)
    return meta


def from_user(
    prompt: str | None = None,
    negative_prompt: str | None = None,
    tags: str | Iterable[str] | None = None,
    caption: str | None = None,
) -> Metadata:
    """What the user typed, cleaned with the same limits as embedded text. tags: "a, b" or a list."""
    if isinstance(tags, str):
        tags = tags.split(",")
    meta = Metadata()
    _fill(meta, [
        ("prompt", prompt, "user"),
        ("negative_prompt", negative_prompt, "user"),
        ("tags", list(tags or []), "user"),
        ("caption", caption, "user"),
    ])
    return meta


def merge(embedded: Metadata, user: Metadata) -> Metadata:
    """A new Metadata: the embedded one with every field the user gave replaced (tags as a whole)."""
    merged = deepcopy(embedded)
    for name in _SCALARS:
        value = getattr(user, name)
        if value:
            setattr(merged, name, value)
            merged.sources[name] = user.sources.get(name, "user")
    if user.tags:
        merged.tags = list(user.tags)
        merged.sources["tags"] = user.sources.get("tags", "user")
    merged.settings.update(user.settings)
    merged.warnings += [w for w in user.warnings if w not in merged.warnings]
    return merged


# ---------------------------------------------------------------- cleaning


def _fill(meta: Metadata, found: list[Found]) -> None:
    """Apply what the readers found, first source winning; titles only where no caption was found."""
    for name, value, source in sorted(found, key=lambda item: item[0] == "title"):
        if name == "warning":
            _warn(meta, value)
        elif name == "tags":
            _add_tags(meta, value, source)
        elif name == "settings":
            _add_settings(meta, value)
        else:
            _set_text(meta, "caption" if name == "title" else name, value, source)


def _set_text(meta: Metadata, name: str, value: Any, source: str) -> None:
    if getattr(meta, name) is not None:
        return
    text = _clean(to_text(value), MAX_TEXT_CHARS, name.replace("_", " "), meta)
    if text:
        setattr(meta, name, text)
        meta.sources[name] = source


def _add_tags(meta: Metadata, tags: Iterable[Any], source: str) -> None:
    seen = {tag.casefold() for tag in meta.tags}
    added = False
    for raw in tags:
        tag = _clean(to_text(raw), MAX_TAG_CHARS, "tag", meta)
        if not tag or tag.casefold() in seen:
            continue
        if len(meta.tags) >= MAX_TAGS:
            _warn(meta, f"tags limited to {MAX_TAGS}")
            break
        meta.tags.append(tag)
        seen.add(tag.casefold())
        added = True
    if added and source not in meta.sources.get("tags", ""):
        meta.sources["tags"] = ", ".join(filter(None, [meta.sources.get("tags"), source]))


def _add_settings(meta: Metadata, settings: dict[Any, Any]) -> None:
    for raw_key, raw_value in settings.items():
        key = _clean(to_text(raw_key), MAX_TAG_CHARS, "setting name", meta)
        value = _clean(to_text(raw_value), MAX_TEXT_CHARS, "setting", meta)
        if not key or not value or key in meta.settings:
            continue
        if len(meta.settings) >= MAX_SETTINGS:
            _warn(meta, f"settings limited to {MAX_SETTINGS}")
            return
        meta.settings[key] = value


def _clean(text: str, limit: int, label: str, meta: Metadata) -> str:
    text = text.replace("\x00", "").strip()
    if len(text) > limit:
        _warn(meta, f"{label} truncated to {limit} characters")
        text = text[:limit].rstrip()
    return text


def _warn(meta: Metadata, message: str) -> None:
    if message not in meta.warnings:
        meta.warnings.append(message)
