"""Explanations: the assessment's facts, turned into a few sentences a person can act on.

The facts are plain data taken from the assessment (scores, the strongest and weakest attributes with
their measured evidence, the regions, the mood, and what the image's text asks for that the image does
not show). Writers (iqa_core.explain.writers) word them: the deterministic `template` here, or a small language
model; every text is then checked against these facts (iqa_core.explain.writers.faithfulness).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from iqa_core.assessment import Attribute, Region

LABELS = {"composition": "composition", "colour": "colour", "lighting": "lighting",
          "focus_detail": "focus and detail", "subject": "subject", "technical": "technical quality",
          "originality": "originality", "emotional_impact": "emotional impact"}
TEXT_PRIORITY = ("prompt", "caption", "tags")  # as the pipeline picks the text that alignment is measured against
MAX_TEXT_CHARS = 300  # only the start of a (possibly huge, hostile) prompt is read for its words
MAX_WORDS = 12
REGION_GAP = 3.0  # the region sentence needs at least this spread between the best and the worst region
# The region detector's damage classes (regions.ISSUES): how the worst region looks, and what to do there.
REGION_ISSUES = {
    "blur": ("it looks blurred", "sharpen or re-shoot {where}"),
    "noise": ("it looks noisy", "denoise {where}"),
    "jpeg": ("it shows JPEG blocks", "re-export {where} from the original at a higher JPEG quality"),
    "overexposure": ("it looks over-exposed", "recover the highlights in {where} or lower the exposure there"),
}

# Which mood a prompt word asks for (the emotion classes of scores.EMOTIONS).
MOOD_WORDS = {
    "joy": ("happy", "joyful", "cheerful", "smiling", "smile", "joy", "playful", "delighted", "festive",
            "celebration", "fun", "sunny", "uplifting", "whimsical"),
    "sadness": ("sad", "melancholy", "melancholic", "gloomy", "lonely", "mournful", "grief", "crying", "tears",
                "depressing", "somber", "sombre", "sorrow", "tragic"),
    "fear": ("scary", "horror", "creepy", "terrifying", "frightening", "haunted", "eerie", "sinister", "spooky",
             "menacing", "nightmare", "ominous"),
    "anger": ("angry", "furious", "rage", "raging", "aggressive", "wrathful"),
    "disgust": ("disgusting", "gross", "rotten", "grotesque", "revolting", "slimy"),
    "surprise": ("surprised", "astonished", "shocked", "amazed"),
}
MOOD_ADJECTIVE = {"joy": "joyful", "sadness": "sad", "fear": "fearful", "anger": "angry", "disgust": "disgusted",
                  "surprise": "surprised", "neutral": "neutral"}
POSITIVE_EMOTIONS = ("joy", "surprise")
MOOD_FIX = {
    "joy": "warm, bright light and livelier colours would make it read as more joyful",
    "sadness": "cooler, muted colours and softer light would make it read as more melancholic",
    "fear": "darker tones, hard shadows and a tighter frame would make it read as more ominous",
    "anger": "harsher contrast and saturated reds would make it read as more intense",
    "disgust": "sickly colours and close, textured detail would make it read as more repulsive",
    "surprise": "an unexpected element or a dramatic angle would make it read as more surprising",
}

# Words that say how to render rather than what to show: never reported as missing from the image.
STOPWORDS = frozenset("""
a an the of and or in on at to for with by from into onto over under as is are be been being this that these
those it its his her their our your my very much many more most some any no not without within while where when
who whom which what how very so such than then there here up down out off about above below near far behind
front between among around through across along toward towards upon via per each every all both few other
photo photograph photography picture image images render rendering rendered illustration drawing painting
painted digital art artwork artstation style styled styles aesthetic aesthetics concept design logo poster
wallpaper portrait portraits closeup close shot long wide angle view lens bokeh depth field focus focused blur
blurry sharp detailed detail details hyper ultra highly high quality resolution hd uhd hdr masterpiece best
trending realistic photorealistic hyperrealistic realism real cinematic dramatic soft hard lighting light
lit lights colorful colourful vibrant vivid color colour colors colours beautiful pretty cute lovely epic
amazing stunning award winning professional studio octane unreal engine volumetric trending featured
anime cartoon sketch watercolor watercolour oil pencil ink comic manga pixel vector minimalist minimal
abstract surreal fantasy futuristic vintage retro modern classic simple simplistic elegant intricate
dark bright small big large tiny huge giant little old new young one two three four five six seven eight
nine ten made make making using use background foreground scene centered center centre middle top bottom
left right side first second third full half upper lower inside outside standing sitting looking
black white red green blue yellow orange purple pink brown grey gray golden silver man woman men women person
people female male boy girl guy lady
""".split())

_WORD = re.compile(r"[a-z][a-z'-]*[a-z]|[a-z]")


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
    attributes: dict[str, float] = field(default_factory=dict)  # every attribute's score
    strongest_evidence: dict[str, float] = field(default_factory=dict)
    regions: list[tuple[str, float, float]] = field(default_factory=list)  # (label, quality, share of the image)
    emotions: dict[str, float] = field(default_factory=dict)
    text: str | None = None  # the text alignment was measured against
    text_source: str | None = None  # "prompt" | "caption" | "tags"
    missing: list[str] = field(default_factory=list)  # words of the text with no support among the image's concepts
    found: list[str] = field(default_factory=list)  # words of the text that the image's concepts support
    mood_mismatch: tuple[str, str] | None = None  # (word of the text, emotion it asks for) the image does not show
    worst_issue: str | None = None  # the region detector's likeliest damage in the worst region (REGION_ISSUES)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def worst_region_share(self) -> float | None:
        if not self.worst_region:
            return None
        return next((s for label, q, s in self.regions if (label, q) == tuple(self.worst_region)), None)


# ------------------------------------------------------------------------------------------------ gathering
def text_words(text: str | None) -> list[str]:
    """Content words of a prompt/caption, in order, without style and filler words."""
    if not text:
        return []
    words = []
    for w in _WORD.findall(text[:MAX_TEXT_CHARS].lower()):
        w = w.strip("'-")
        if len(w) < 3 or w in STOPWORDS or w in words:
            continue
        words.append(w)
    return words[:MAX_WORDS]


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def lexical_support(words: list[str], seen_as: list[str]) -> tuple[list[str], list[str]]:
    """(missing, found) by spelling alone: a word is found when it is one of the concept names' words."""
    seen = {_stem(w) for tag in seen_as for w in _WORD.findall(tag.lower())}
    found = [w for w in words if _stem(w) in seen]
    return [w for w in words if w not in found], found


class ConceptSupport:
    """Whether the image's concepts support each word of its text, in the sentence encoder's space.

    A word is checkable when some concept name is close to it at all (the classifier's vocabulary can
    express it: "zombie" can be checked against ImageNet's classes, "admiring" cannot); a checkable word is
    found when one of the image's likeliest concepts is close to it, and missing otherwise.
    """

    CHECKABLE = 0.6  # cosine of the word to its nearest concept name, over all names
    FOUND = 0.45  # cosine of the word to its nearest concept among the image's likeliest
    TOP = 10
    MIN_PROB = 0.01

    def __init__(self, embed: Callable[[list[str]], np.ndarray], name_embeddings: np.ndarray, names: list[str],
                 concepts: np.ndarray):
        self.embed, self.names_emb, self.names, self.concepts = embed, name_embeddings, names, concepts

    def __call__(self, words: list[str], seen_as: list[str]) -> tuple[list[str], list[str]]:
        if not words:
            return [], []
        missing_lex, found = lexical_support(words, seen_as)
        if not missing_lex:
            return [], found
        sims = self.embed(missing_lex) @ self.names_emb.T  # (n_words, n_names)
        top = [i for i in np.argsort(-self.concepts)[: self.TOP] if self.concepts[i] >= self.MIN_PROB]
        missing = []
        for w, row in zip(missing_lex, sims):
            if top and row[top].max() >= self.FOUND:
                found.append(w)
            elif row.max() >= self.CHECKABLE:
                missing.append(w)
        return missing, [w for w in words if w in found]


def mood_asked(text: str | None) -> tuple[str, str] | None:
    """(word, emotion) for the first mood word of the text, if any."""
    for w in text_words(text) if text else []:
        for emotion, vocab in MOOD_WORDS.items():
            if w in vocab:
                return w, emotion
    return None


def mood_mismatch(text: str | None, emotions: dict[str, float], sentiment: str) -> tuple[str, str] | None:
    """The text asks for a mood that the image does not show: the emotion is not among the image's two
    likeliest, or its sign (positive/negative) disagrees with the image's sentiment."""
    asked = mood_asked(text)
    if not asked or not emotions:
        return None
    word, emotion = asked
    top2 = [e for e, _ in sorted(emotions.items(), key=lambda kv: -kv[1])[:2]]
    wants_positive = emotion in POSITIVE_EMOTIONS
    sign_ok = emotion == "surprise" or (sentiment == "positive") == wants_positive
    return None if emotion in top2 and sign_ok else (word, emotion)


def _pick_text(metadata, priority=TEXT_PRIORITY) -> tuple[str | None, str | None]:
    if metadata is None:
        return None, None
    sources = metadata.text_sources() if hasattr(metadata, "text_sources") else dict(metadata)
    key = next((k for k in priority if sources.get(k)), None)
    return (sources[key], key) if key else (None, None)


def gather(quality, aesthetics, alignment, attributes: dict[str, Attribute], regions: list[Region],
           emotions: dict[str, float], sentiment: str, valence: float, arousal: float,
           seen_as: list[str], stats: dict[str, float], metadata=None, text_priority=TEXT_PRIORITY,
           support: Callable[[list[str], list[str]], tuple[list[str], list[str]]] | None = None) -> Facts:
    """metadata: the image's Metadata (or a dict of text sources); support: e.g. a ConceptSupport for this
    image, else words are matched to the concept names by spelling."""
    ranked = sorted(attributes.items(), key=lambda kv: kv[1].score)
    weakest, strongest = ranked[0], ranked[-1]
    by_q = sorted(regions, key=lambda r: r.quality)
    top = max(emotions.items(), key=lambda kv: kv[1])
    text, source = _pick_text(metadata, text_priority)
    words = text_words(text) if alignment is not None else []
    missing, found = (support or lexical_support)(words, list(seen_as))
    return Facts(
        quality=round(quality, 1), aesthetics=round(aesthetics, 1),
        alignment=None if alignment is None else round(alignment, 1),
        strongest=(strongest[0], strongest[1].score), weakest=(weakest[0], weakest[1].score),
        weakest_evidence=weakest[1].evidence,
        worst_region=(by_q[0].label, by_q[0].quality) if by_q else None,
        worst_issue=by_q[0].issue if by_q else None,
        best_region=(by_q[-1].label, by_q[-1].quality) if by_q else None,
        top_emotion=(top[0], round(top[1], 2)), sentiment=sentiment, valence=round(valence, 1),
        arousal=round(arousal, 1), seen_as=list(seen_as), stats=stats,
        attributes={k: a.score for k, a in attributes.items()}, strongest_evidence=strongest[1].evidence,
        regions=[(r.label, r.quality, round(float(r.share), 4)) for r in regions],
        emotions=dict(emotions), text=None if text is None else text[:MAX_TEXT_CHARS], text_source=source,
        missing=missing[:4], found=found, mood_mismatch=mood_mismatch(text, emotions, sentiment))


# ------------------------------------------------------------------------------------------------ wording
@dataclass(frozen=True)
class Finding:
    """A measured reason why an attribute is weak: the attributes it explains, when it holds, how to say it
    (the numbers come from the stats) and the fix it calls for (None: the attribute's general fix)."""
    attributes: tuple[str, ...]
    holds: Callable[[dict[str, float]], bool]
    phrase: Callable[[dict[str, float]], str]
    fix: str | None = None


_TECH = ("focus_detail", "technical")
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
    Finding(_TECH, lambda s: s.get("blockiness", 1) > 1.3, lambda s: "JPEG block artefacts are visible",
            "export with a higher JPEG quality to remove the block artefacts"),
    Finding(("focus_detail",), lambda s: s.get("focus_ratio", 10) < 1.5,
            lambda s: "the subject is no sharper than the background"),
    Finding(_TECH, lambda s: s.get("sharpness", 10) < 1, lambda s: "there is little fine detail"),
    Finding(("colour",), lambda s: s.get("colourfulness", 1) < 0.1, lambda s: "the colours are flat",
            "give the colours more life with a stronger palette, more saturation or a colour accent"),
    Finding(("colour",), lambda s: s.get("clipped_channels", 0) > 0.05,
            lambda s: f"{s['clipped_channels']:.0%} of the pixels have a clipped colour channel"),
    Finding(("composition",), lambda s: s.get("thirds_distance", 0) > 0.2,
            lambda s: "the subject sits far from the thirds lines"),
    Finding(("subject",), lambda s: s.get("subject_spread", 0) > 0.9, lambda s: "no single subject stands out"),
    Finding(("originality",), lambda s: True, lambda s: "its features are close to those of many common images"),
    Finding(("emotional_impact",), lambda s: s.get("arousal", 5) < 4.5, lambda s: "it feels calm rather than striking"),
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


def suggestion(f: Facts) -> str:
    """One concrete fix for the weakest attribute, chosen by its measured evidence (a sentence)."""
    fix = _fix(f)
    return fix[0].upper() + fix[1:] + "."


def _fix(f: Facts) -> str:
    found = finding(f.weakest[0], f.stats)
    return found.fix if found and found.fix else GENERAL_FIX.get(f.weakest[0], GENERAL_FIX["emotional_impact"])


def fixes(f: Facts) -> list[str]:
    """Concrete next steps, most important first: the weakest attribute, the weakest region, the text."""
    out = [_fix(f)]
    if f.worst_region and f.best_region and f.best_region[1] - f.worst_region[1] >= 8:
        where = f.worst_region[0]
        if f.worst_issue in REGION_ISSUES:
            out.append(REGION_ISSUES[f.worst_issue][1].format(where=place(where)))
        else:
            edge = where != "centre"
            out.append(f"{'crop out or ' if edge else ''}retouch {place(where)}, or regenerate it with inpainting")
    if f.missing and f.text_source == "prompt":
        them = "it" if len(f.missing[:2]) == 1 else "them"
        out.append(f"make {_quoted(f.missing[:2])} clearly visible, for instance by putting {them} first in the "
                   f"prompt or giving {them} more weight")
    elif f.alignment is not None and f.alignment < 40:
        out.append(f"regenerate with a simpler {f.text_source or 'prompt'} that names the main subject first"
                   if f.text_source == "prompt" else f"check that the {f.text_source} describes this image")
    if f.mood_mismatch:
        out.append(MOOD_FIX[f.mood_mismatch[1]])
    return out[:3]


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
    return LABELS.get(name, name)


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
        out.append(f"The weakest region is {place(f.worst_region[0])} (quality {f.worst_region[1]:.0f}/100{size}), "
                   f"against {other[1]:.0f}/100 in {place(other[0])}.")
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
        out.append(f"The mood is {f.sentiment} (valence {f.valence:.1f}, arousal {f.arousal:.1f} on a 1-9 scale), "
                   f"mostly {top} ({p:.0%}).")
    steps = fixes(f)
    out.append("To improve it, " + "; ".join(steps) + ".")
    return " ".join(out)
