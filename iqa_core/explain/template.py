"""The deterministic explanation: facts worded as 3-6 sentences, each weak attribute's measured reason and
the fix it calls for (FINDINGS), the weakest region and what to do there (REGION_ISSUES)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from iqa_core.explain.facts import Facts, band
from iqa_core.scores import ATTRIBUTE_LABELS

REGION_GAP = 3.0  # the region sentence needs at least this spread between the best and the worst region
# The region detector's damage classes (regions.ISSUES): how the worst region looks, and what to do there.
REGION_ISSUES = {
    "blur": ("it looks blurred", "sharpen or re-shoot {where}"),
    "noise": ("it looks noisy", "denoise {where}"),
    "jpeg": ("it shows JPEG blocks", "re-export {where} from the original at a higher JPEG quality"),
    "overexposure": ("it looks over-exposed", "recover the highlights in {where} or lower the exposure there"),
}
MOOD_ADJECTIVE = {"joy": "joyful", "sadness": "sad", "fear": "fearful", "anger": "angry", "disgust": "disgusted",
                  "surprise": "surprised", "neutral": "neutral"}
MOOD_FIX = {
    "joy": "warm, bright light and livelier colours would make it read as more joyful",
    "sadness": "cooler, muted colours and softer light would make it read as more melancholic",
    "fear": "darker tones, hard shadows and a tighter frame would make it read as more ominous",
    "anger": "harsher contrast and saturated reds would make it read as more intense",
    "disgust": "sickly colours and close, textured detail would make it read as more repulsive",
    "surprise": "an unexpected element or a dramatic angle would make it read as more surprising",
}


@dataclass(frozen=True)
class Finding:
    """A measured reason why an attribute is weak: the attributes it explains, when it holds, how to say it
    (the numbers come from the stats) and the fix it calls for (None: the attribute's general fix)."""
    attributes: tuple[str, ...]
    holds: Callable[[dict[str, float]], bool]
    phrase: Callable[[dict[str, float]], str]
    fix: str | None = None
    defect: bool = True  # a measured fault an edit can address; False: a description (how rare, how calm)


_TECH = ("focus_detail", "technical")
TYPICAL_CONTRAST = 0.25  # luminance standard deviation of an ordinary photo


def _detail(s: dict[str, float]) -> float:
    """Sharpness (Laplacian variance) at a typical contrast: the variance scales with contrast squared, so a
    darker or flatter copy of a photo is not "less detailed" (its fix is light, not sharpening)."""
    return s.get("sharpness", 10) * (TYPICAL_CONTRAST / max(s.get("contrast", TYPICAL_CONTRAST), 0.02)) ** 2
_LIFT = "lift the shadows or add light"
# Checked in order; the first that holds is the one cited, so the evidence and the fix always agree.
FINDINGS = (
    Finding(("lighting",), lambda s: s.get("clipped_highlights", 0) > 0.02,
            lambda s: f"{s['clipped_highlights']:.0%} of the pixels are blown out",
            "bring the exposure down or recover the highlights"),
    Finding(("lighting",), lambda s: s.get("crushed_shadows", 0) > 0.05,
            lambda s: f"{s['crushed_shadows']:.0%} of the pixels are crushed to black", _LIFT),
    Finding(("lighting",), lambda s: s.get("mean_luminance", 0.5) < 0.3, lambda s: "the image is very dark overall",
            _LIFT),
    Finding(("lighting",), lambda s: s.get("contrast", 1) < 0.15, lambda s: "contrast is low"),
    Finding(_TECH, lambda s: s.get("noise_sigma", 0) > 4, lambda s: "noise is visible",
            "reduce noise with more light, a lower ISO or a denoiser"),
    # On the subject too: a soft backdrop hides the blocks from the whole frame's ratio, not from the viewer.
    Finding(_TECH, lambda s: max(s.get("blockiness", 1), s.get("subject_blockiness", 1)) > 1.3,
            lambda s: "JPEG block artefacts are visible",
            "export with a higher JPEG quality to remove the block artefacts"),
    Finding(("focus_detail",), lambda s: s.get("focus_ratio", 10) < 1.5,
            lambda s: "the subject is no sharper than the background"),
    Finding(_TECH, lambda s: _detail(s) < 1, lambda s: "there is little fine detail"),
    Finding(("colour",), lambda s: s.get("colourfulness", 1) < 0.1, lambda s: "the colours are flat",
            "give the colours more life with a stronger palette, more saturation or a colour accent"),
    Finding(("colour",), lambda s: s.get("clipped_channels", 0) > 0.05,
            lambda s: f"{s['clipped_channels']:.0%} of the pixels have a clipped colour channel"),
    Finding(("composition",), lambda s: s.get("thirds_distance", 0) > 0.2,
            lambda s: "the subject sits far from the thirds lines"),
    # A description, not a fault: on para-dev the spread of detail agrees neither with PARA's object-emphasis
    # votes (SRCC 0.04) nor with its content score (-0.05), and it exceeds 0.9 on 70% of the photos.
    Finding(("subject",), lambda s: s.get("subject_spread", 0) > 0.9, lambda s: "no single subject stands out",
            defect=False),
    Finding(("originality",), lambda s: True, lambda s: "what it shows is common among the reference images",
            defect=False),
    Finding(("emotional_impact",), lambda s: s.get("arousal", 5) < 4.5, lambda s: "it feels calm rather than striking",
            defect=False),
)
GENERAL_FIX = {
    "lighting": "add contrast or more directional light to give the scene shape",
    "focus_detail": "sharpen the subject: refocus, steady the camera, or upscale with detail",
    "technical": "sharpen the subject: refocus, steady the camera, or upscale with detail",
    "colour": "harmonise the colours with fewer competing hues or a warmer or cooler grade",
    "composition": "reframe so the subject sits near a rule-of-thirds point and the frame feels balanced",
    "subject": "make the main subject clearer by moving closer and simplifying the background",
    "originality": "try an unusual viewpoint, light or concept to stand out",
    "emotional_impact": "strengthen the mood with more dramatic light, colour or expression",
}


def finding(name: str, s: dict[str, float]) -> Finding | None:
    return next((f for f in FINDINGS if name in f.attributes and f.holds(s)), None)


def evidence_phrase(name: str, s: dict[str, float]) -> str | None:
    """What the measured evidence says about a weak attribute, in words (numbers only from the stats)."""
    found = finding(name, s)
    return found.phrase(s) if found else None


def _attribute_fix(name: str, stats: dict[str, float]) -> str:
    found = finding(name, stats)
    return found.fix if found and found.fix else GENERAL_FIX.get(name, GENERAL_FIX["emotional_impact"])


def _attribute_fixes(f: Facts) -> list[str]:
    """The fixes of the two weakest attributes with a measured defect (blown highlights, low contrast, flat
    colours, noise, blur...), else the weakest attribute's general fix: a rare or calm image's general advice
    ("try an unusual viewpoint") used to hide the measured fault of a darker, flatter or blurred copy of it
    (benchmarks/advice.py). Behind a sharp subject, never "sharpen"."""
    ranked = sorted(f.attributes, key=f.attributes.get) or [f.weakest[0]]
    stats = {**f.stats, "arousal": f.arousal}
    measured = [n for n in ranked if (found := finding(n, stats)) is not None and found.defect]

    def usable(names: list[str]) -> list[str]:
        return [x for x in dict.fromkeys(_attribute_fix(n, f.stats) for n in names)
                if not (f.subject_sharp and "sharpen" in x)]
    return usable(measured)[:2] or usable(ranked)[:1] or [_attribute_fix(ranked[0], f.stats)]


def fixes(f: Facts) -> list[str]:
    """Concrete next steps, most important first: the weakest measured defect, the weakest region, the text,
    the mood, a second measured defect."""
    first, *more = _attribute_fixes(f)
    out = [first]
    # A region is only worth a fix when the detector names its damage: one that is merely weaker than the
    # rest (a soft backdrop, sky) is no reason to act, and cropping it out lowered quality in 29 of the 35
    # images that were advised to (benchmarks/advice.py).
    if f.worst_region and f.best_region and f.best_region[1] - f.worst_region[1] >= 8 and \
            f.worst_issue in REGION_ISSUES and not (f.worst_issue == "blur" and f.subject_sharp
                                                    and not f.worst_on_subject):
        out.append(REGION_ISSUES[f.worst_issue][1].format(where=place(f.worst_region[0])))
    if f.missing and f.text_source == "prompt":
        them = "it" if len(f.missing[:2]) == 1 else "them"
        out.append(f"make {_quoted(f.missing[:2])} clearly visible, for instance by putting {them} first in the "
                   f"prompt or giving {them} more weight")
    elif f.alignment is not None and f.alignment < 40:
        out.append(f"regenerate with a simpler {f.text_source or 'prompt'} that names the main subject first"
                   if f.text_source == "prompt" else f"check that the {f.text_source} describes this image")
    if f.mood_mismatch:
        out.append(MOOD_FIX[f.mood_mismatch[1]])
    return (out + more)[:3]


def _quoted(words: list[str]) -> str:
    q = [f'"{w}"' for w in words]
    return q[0] if len(q) == 1 else ", ".join(q[:-1]) + " and " + q[-1]


def place(label: str) -> str:
    """A region label as a place in a sentence: "the top left corner", "the left side", "the centre"."""
    if label in ("left", "right"):
        return f"the {label} side"
    if " " in label:
        return f"the {label} corner"
    return f"the {label}"


def _label(name: str) -> str:
    return ATTRIBUTE_LABELS.get(name, name)


POSITIVE_EMOTIONS, NEGATIVE_EMOTIONS = {"joy", "surprise"}, {"anger", "disgust", "fear", "sadness"}


def mood_words(f: Facts) -> str:
    """The mood as the sentiment, the valence and the top emotion agree on it: "is positive" when all lean
    one way, "is mixed" when the valence or the top emotion leans against the sentiment, "is neutral" /
    "leans positive" for a neutral top emotion with valence near / off the middle."""
    top = f.top_emotion[0]
    side = "positive" if f.valence >= 5.0 else "negative"
    against = NEGATIVE_EMOTIONS if f.sentiment == "positive" else POSITIVE_EMOTIONS
    if top in against or side != f.sentiment:
        return "is mixed"
    if top == "neutral":
        return "is neutral" if abs(f.valence - 5.0) < 0.5 else f"leans {f.sentiment}"
    return f"is {f.sentiment}"


def template(f: Facts) -> str:
    """3-6 sentences: overall scores, strongest and weakest attribute (with evidence), the weakest region,
    how well the image matches its text (and which words it does not show), the mood, and what to do."""
    out = [f"Quality is {band(f.quality)} ({f.quality:.0f}/100) and aesthetics {band(f.aesthetics)} "
           f"({f.aesthetics:.0f}/100)."]
    line = (f"{_label(f.strongest[0]).capitalize()} is the strongest attribute ({f.strongest[1]:.0f}/100) and "
            f"{_label(f.weakest[0])} the weakest ({f.weakest[1]:.0f}/100)")
    why = evidence_phrase(f.weakest[0], {**f.stats, "arousal": f.arousal})
    out.append(line + (f": {why}." if why else "."))
    # Compare with the best region elsewhere: two parts of the image may share a label ("top left").
    other = max((r for r in f.regions if r[0] != (f.worst_region or ("",))[0]), key=lambda r: r[1], default=None)
    if f.worst_region and other and other[1] - f.worst_region[1] >= REGION_GAP:
        share = f.worst_region_share
        size = f", {share:.0%} of the frame" if share and share >= 0.01 else ""
        size += f"; {REGION_ISSUES[f.worst_issue][0]}" if f.worst_issue in REGION_ISSUES else ""
        what = ("The damage is on the subject, in" if f.worst_on_subject and f.worst_issue in REGION_ISSUES
                else "The weakest region is")
        out.append(f"{what} {place(f.worst_region[0])} (quality {f.worst_region[1]:.0f}/100{size}), "
                   f"against {other[1]:.0f}/100 in {place(other[0])}.")
    if f.depth_of_field and f.subject_sharp:
        out.append(f"The soft backdrop in {place(f.depth_of_field[0])} is depth of field behind a sharp subject: "
                   "a style, not damage.")
    if f.alignment is not None:
        how = {"strong": "closely", "good": "well", "fair": "partly", "weak": "weakly"}[band(f.alignment)]
        line = f"It matches its {f.text_source or 'text'} {how} (alignment {f.alignment:.0f}/100)"
        if f.missing:
            line += (f": {_quoted(f.missing[:3])} {'has' if len(f.missing[:3]) == 1 else 'have'} no support among "
                     f"the concepts recognised in the image")
            if f.seen_as:
                line += f", which reads mostly as {' and '.join(f.seen_as[:2])}"
        elif f.alignment < 55 and f.seen_as:
            line += f"; the image reads mostly as {', '.join(f.seen_as[:3])}"
        out.append(line + ".")
    top, p = f.top_emotion
    if f.mood_mismatch:
        word, emotion = f.mood_mismatch
        asks = "ask" if f.text_source == "tags" else "asks"
        out.append(f'The {f.text_source or "text"} {asks} for a {MOOD_ADJECTIVE[emotion]} mood ("{word}"), but the '
                   f"image reads as {f.sentiment}, mostly {top} ({p:.0%}).")
    else:
        out.append(f"The mood {mood_words(f)} (valence {f.valence:.1f}, arousal {f.arousal:.1f} on a 1-9 "
                   f"scale), mostly {top} ({p:.0%}).")
    steps = fixes(f)
    out.append("To improve it, " + "; ".join(steps) + ".")
    return " ".join(out)


class TemplateWriter:
    """The deterministic writer: `template`'s wording of the facts, instant and always available."""
    name = "template"
    version = "template"

    def write(self, facts: Facts) -> str:
        return template(facts)
