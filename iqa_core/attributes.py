"""The eight aesthetic attributes (after ArtiMuse), each a 0-100 score with the measured evidence behind it.

Five are learned from PARA's human attribute scores (composition, colour, depth of field -> focus/detail,
light -> lighting, content -> subject). Three are documented proxies:
- technical: the quality score itself (its evidence: noise, block artefacts, sharpness);
- originality: how far the image's features lie from the dev images the heads were trained on;
- emotional impact: arousal, distance of valence from neutral, and the share of non-neutral emotion.
"""
from __future__ import annotations

import numpy as np

from .assessment import Attribute

LEARNED = {  # attribute -> head name
    "composition": "attr_composition",
    "colour": "attr_colour",
    "focus_detail": "attr_focus_detail",
    "lighting": "attr_lighting",
    "subject": "attr_subject",
}
EVIDENCE = {  # attribute -> measured statistics that back it (see measure.py)
    "composition": ("thirds_distance", "balance", "subject_x", "subject_y"),
    "colour": ("colourfulness", "mean_saturation", "clipped_channels"),
    "lighting": ("mean_luminance", "clipped_highlights", "crushed_shadows", "contrast", "dynamic_range"),
    "focus_detail": ("sharpness", "subject_sharpness", "background_sharpness", "focus_ratio"),
    "subject": ("subject_spread", "top_concept_probability"),
    "technical": ("noise_sigma", "blockiness", "sharpness"),
    "originality": ("feature_distance",),
    "emotional_impact": ("arousal", "valence_distance", "non_neutral_share"),
}


def _evidence(name: str, stats: dict[str, float]) -> dict[str, float]:
    return {k: round(float(stats[k]), 4) for k in EVIDENCE[name] if k in stats}


def originality(distance: float, quantiles: list[float]) -> float:
    """Percentile of the image's feature distance among the training images' distances, 0-100."""
    return float(np.interp(distance, quantiles, np.linspace(0, 100, len(quantiles))))


def build(learned: dict[str, float], quality: float, stats: dict[str, float], emotions: dict[str, float],
          valence: float, arousal: float, distance_quantiles: list[float]) -> dict[str, Attribute]:
    stats = dict(stats, arousal=arousal, valence_distance=abs(valence - 5.0),
                 non_neutral_share=1.0 - emotions.get("neutral", 0.0))
    out = {name: Attribute(round(learned[name], 1), "learned", _evidence(name, stats)) for name in LEARNED}
    out["technical"] = Attribute(round(quality, 1), "measured", _evidence("technical", stats))
    out["originality"] = Attribute(round(originality(stats["feature_distance"], distance_quantiles), 1),
                                   "measured", _evidence("originality", stats))
    impact = np.mean([(arousal - 1.0) / 8.0, abs(valence - 5.0) / 4.0, stats["non_neutral_share"]])
    out["emotional_impact"] = Attribute(round(float(np.clip(impact, 0, 1) * 100), 1), "measured",
                                        _evidence("emotional_impact", stats))
    return {name: out[name] for name in ("composition", "colour", "lighting", "focus_detail", "subject",
                                         "technical", "originality", "emotional_impact")}
