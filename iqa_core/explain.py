"""Explanations: the assessment's facts, turned into a few sentences a person can act on.

The facts are plain data taken from the assessment; the template writer words them. Every number a text
cites comes from the facts, so the text cannot say what the numbers do not support.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .assessment import Attribute, Region

LABELS = {"composition": "composition", "colour": "colour", "lighting": "lighting",
          "focus_detail": "focus and detail", "subject": "subject", "technical": "technical quality",
          "originality": "originality", "emotional_impact": "emotional impact"}


def band(score: float) -> str:
    if score >= 70:
        return "strong"
    if score >= 55:
        return "good"
    if score >= 40:
        return "fair"
    return "weak"


@dataclass
class Facts:
    quality: float
    aesthetics: float
    alignment: float | None
    strongest: tuple[str, float]
    weakest: tuple[str, float]
    weakest_evidence: dict[str, float]
    worst_region: tuple[str, float] | None
    best_region: tuple[str, float] | None
    top_emotion: tuple[str, float]
    sentiment: str
    valence: float
    arousal: float
    seen_as: list[str] = field(default_factory=list)  # what the image looks like to the encoder
    stats: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def gather(quality, aesthetics, alignment, attributes: dict[str, Attribute], regions: list[Region],
           emotions: dict[str, float], sentiment: str, valence: float, arousal: float,
           seen_as: list[str], stats: dict[str, float]) -> Facts:
    ranked = sorted(attributes.items(), key=lambda kv: kv[1].score)
    weakest, strongest = ranked[0], ranked[-1]
    by_q = sorted(regions, key=lambda r: r.quality)
    top = max(emotions.items(), key=lambda kv: kv[1])
    return Facts(
        quality=round(quality, 1), aesthetics=round(aesthetics, 1),
        alignment=None if alignment is None else round(alignment, 1),
        strongest=(strongest[0], strongest[1].score), weakest=(weakest[0], weakest[1].score),
        weakest_evidence=weakest[1].evidence,
        worst_region=(by_q[0].label, by_q[0].quality) if by_q else None,
        best_region=(by_q[-1].label, by_q[-1].quality) if by_q else None,
        top_emotion=(top[0], round(top[1], 2)), sentiment=sentiment, valence=round(valence, 1),
        arousal=round(arousal, 1), seen_as=seen_as, stats=stats)


def suggestion(f: Facts) -> str:
    """One concrete fix for the weakest attribute, chosen by its measured evidence."""
    name, s = f.weakest, f.stats
    if name[0] == "lighting":
        if s.get("clipped_highlights", 0) > 0.02:
            return "Bring the exposure down or recover highlights: part of the image is blown out."
        if s.get("crushed_shadows", 0) > 0.05 or s.get("mean_luminance", 0.5) < 0.3:
            return "Lift the shadows or add light: much of the image is very dark."
        return "Add contrast or more directional light to give the scene shape."
    if name[0] in ("focus_detail", "technical"):
        if s.get("noise_sigma", 0) > 4:
            return "Reduce noise (more light, lower ISO, or a denoiser)."
        if s.get("blockiness", 1) > 1.3:
            return "Export with higher JPEG quality: block artefacts are visible."
        return "Sharpen the subject: refocus, steady the camera, or upscale with detail."
    if name[0] == "colour":
        if s.get("colourfulness", 1) < 0.1:
            return "Colours are flat: try a stronger palette, more saturation or a colour accent."
        return "Harmonise the colours: fewer competing hues or a warmer/cooler grade."
    if name[0] == "composition":
        return "Reframe so the subject sits near a rule-of-thirds point and the frame feels balanced."
    if name[0] == "subject":
        return "Make the main subject clearer: move closer, simplify the background."
    if name[0] == "originality":
        return "Try an unusual viewpoint, light or concept to stand out."
    return "Strengthen the mood: more dramatic light, colour or expression."


def template(f: Facts) -> str:
    out = [f"Quality is {band(f.quality)} ({f.quality:.0f}/100) and aesthetics {band(f.aesthetics)} "
           f"({f.aesthetics:.0f}/100)."]
    out.append(f"Strongest attribute: {LABELS[f.strongest[0]]} ({f.strongest[1]:.0f}); weakest: "
               f"{LABELS[f.weakest[0]]} ({f.weakest[1]:.0f}).")
    if f.worst_region and f.best_region and f.best_region[1] - f.worst_region[1] >= 3:
        out.append(f"The weakest region is the {f.worst_region[0]} (quality {f.worst_region[1]:.0f}, "
                   f"against {f.best_region[1]:.0f} in the {f.best_region[0]}).")
    if f.alignment is not None:
        how = {"strong": "closely", "good": "well", "fair": "partly", "weak": "weakly"}[band(f.alignment)]
        line = f"The image matches its text {how} (alignment {f.alignment:.0f}/100)"
        if f.alignment < 55 and f.seen_as:
            line += f"; to the model it reads mostly as {', '.join(f.seen_as[:3])}"
        out.append(line + ".")
    out.append(f"Mood: {f.sentiment} (valence {f.valence:.1f}, arousal {f.arousal:.1f} on 1-9), "
               f"mostly {f.top_emotion[0]} ({f.top_emotion[1]:.0%}).")
    out.append(suggestion(f))
    return " ".join(out)
