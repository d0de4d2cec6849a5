"""Plain-data results: what the core returns and the app, the CLI and the API only render."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Sentiment:
    label: str  # "positive" | "negative"
    probability: float


@dataclass
class Region:
    """One region of the image with its own quality score (after RSFIQA)."""
    id: int
    label: str  # where it is, in words: "top left", "centre", ...
    bbox: list[float]  # x0, y0, x1, y1 as fractions of width and height
    share: float  # fraction of the image's area
    quality: float  # 0-100, same scale as Assessment.quality
    polygon: list[list[float]] = field(default_factory=list)  # outline as (x, y) fractions (largest part)
    polygons: list[list[list[float]]] = field(default_factory=list)  # every part's outline, largest first
    centre: list[float] = field(default_factory=list)  # (x, y) fractions: the point its label describes
    issue: str | None = None  # the region detector's likeliest damage when P(clean) < 0.5: regions.ISSUES,
    # or "depth_of_field": soft, mostly outside a subject that is sharp (a style, not damage)
    on_subject: float | None = None  # share of the region inside the subject's mask


@dataclass
class Subject:
    """The main subject (analysis/subject.py): a coarse mask and how sure it is."""
    mask: list[list[int]]  # rows of 0/1 cells, top row first; cell (r, c) covers that fraction of the frame
    bbox: list[float]  # x0, y0, x1, y1 as fractions of width and height
    centre: list[float]  # (x, y) fractions
    share: float  # fraction of the frame
    confidence: float  # 0-1: how much the subject stands out, and how much the object's activation agrees
    label: str  # the likeliest ImageNet concept
    sharpness: float  # mean |Laplacian| x100 inside the mask
    background_sharpness: float  # ... outside it
    quality: float | None = None  # the quality head on features pooled inside the mask (0-100)
    blockiness: float = 1.0  # measure.blockiness inside the mask: JPEG blocks on the subject (>1.3)


@dataclass
class NativeCrop:
    """A crop of a large image scored at its own pixels (model/native_crops.py)."""
    box: list[int]  # x0, y0, x1, y1 in pixels of the working image (long side <= inputs.load.MAX_WORKING_SIDE)
    quality: float  # the quality head on the crop alone (0-100)


@dataclass
class Attribute:
    score: float  # 0-100
    source: str  # "measured" (a documented proxy) or "learned"
    evidence: dict[str, float] = field(default_factory=dict)
    kind: str = ""  # "learned (PARA)" or "heuristic: <what it measures>"


@dataclass
class Assessment:
    image: str
    width: int
    height: int
    quality: float | None
    aesthetics: float | None
    alignment: float | None
    valence: float | None
    arousal: float | None
    emotions: dict[str, float]
    sentiment: Sentiment | None
    attributes: dict[str, Attribute]
    regions: list[Region]
    metadata: dict[str, Any]
    explanation: str
    timings_ms: dict[str, float]
    models: dict[str, str]
    backends: dict[str, str] = field(default_factory=dict)  # field -> model that produced it
    notes: list[str] = field(default_factory=list)  # what the loader changed or warned about
    # The quality gate's probability that the image is AI-generated, i.e. how much the quality score leans
    # on the AI-image expert rather than the photo expert (None for a quality head without a gate).
    ai_generated: float | None = None
    subject: Subject | None = None
    # Each score's percentile (0-100) among the reference set's scores (AI images: AGIQA-3K; photos: LIVE-C
    # and PARA), and which set; empty without iqa_core/weights/percentiles.json.
    percentiles: dict[str, float] = field(default_factory=dict)
    percentile_reference: str | None = None
    # A large image's crops scored at its own pixels (empty for an image too small to need them), and the
    # quality head on the whole image alone, before the subject, regions and crops are blended in (None
    # where a zero-shot backend scores quality).
    native_crops: list[NativeCrop] = field(default_factory=list)
    whole_quality: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
