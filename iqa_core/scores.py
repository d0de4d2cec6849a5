"""The score table: every score's range, direction and meaning, read by the README, the JSON and the UI.

One row per score, as pyiqa's ``default_model_configs.py`` keeps one row per metric.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ScoreSpec:
    name: str
    low: float
    high: float
    higher_is_better: bool
    meaning: str
    trained_on: str

    def to_dict(self) -> dict:
        return asdict(self)


SCORES: dict[str, ScoreSpec] = {
    s.name: s
    for s in (
        ScoreSpec("quality", 0, 100, True,
                  "Technical quality: sharpness, noise, artefacts, exposure.",
                  "agiqa3k-dev + livec-dev + para-dev quality votes + synthetic distortions of them (one scale) "
                  "+ 2,000 para-train quality votes; emotion6-dev images (no labels) teach the AI/photo gate"),
        ScoreSpec("aesthetics", 0, 100, True,
                  "How pleasing the image is: composition, colour, light, subject.",
                  "para-train (PARA's train split; the dev split is held out)"),
        ScoreSpec("alignment", 0, 100, True,
                  "How well the image matches its prompt or caption; empty when no text is given.",
                  "agiqa3k-dev (own and mismatched prompts)"),
        ScoreSpec("valence", 1, 9, True,
                  "Emotional pleasantness on the SAM scale: 1 very negative, 9 very positive.",
                  "emotion6-dev"),
        ScoreSpec("arousal", 1, 9, True,
                  "Emotional intensity on the SAM scale: 1 calm, 9 excited.",
                  "emotion6-dev"),
    )
}

# The attributes as a sentence names them (the radar and tables capitalise these).
ATTRIBUTE_LABELS: dict[str, str] = {
    "composition": "composition", "colour": "colour", "lighting": "lighting", "focus_detail": "focus and detail",
    "subject": "subject", "technical": "technical quality", "originality": "originality",
    "emotional_impact": "emotional impact"}

# The text that alignment is measured against: the first of these the metadata has.
TEXT_PRIORITY: tuple[str, ...] = ("prompt", "caption", "tags")

# The kinds of local damage the region detector tells apart (besides "clean"), which training synthesises.
ISSUES: tuple[str, ...] = ("blur", "noise", "jpeg", "overexposure")

EMOTIONS: tuple[str, ...] = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")

ATTRIBUTES: dict[str, str] = {
    "composition": "Placement and balance of the subject in the frame.",
    "colour": "Colourfulness and colour harmony, without clipped channels.",
    "lighting": "Exposure and contrast: no crushed shadows or blown highlights.",
    "focus_detail": "Sharpness of the subject, fine detail.",
    "subject": "How clear and strong the main subject is.",
    "technical": "Freedom from noise, blur and compression artefacts.",
    "originality": "How unusual the recognised content is: rarity of its concepts among the reference images "
                   "(a heuristic).",
    "emotional_impact": "How strongly the image evokes a feeling (a heuristic from arousal, valence and emotion "
                        "share).",
}
