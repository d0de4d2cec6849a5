"""The facts an explanation may state, as plain data taken from the assessment: the scores, the strongest
and weakest attributes with their measured evidence, the regions, the mood, and what the image's text asks
for that the image does not show. Writers (iqa_core.explain.template, iqa_core.explain.writers) word them;
every text is then checked against these facts (iqa_core.explain.writers.faithfulness).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from iqa_core.analysis.subject import ON_SUBJECT, backdrop_is_style
from iqa_core.assessment import Attribute, Region, Subject
from iqa_core.explain.text import MAX_TEXT_CHARS, lexical_support, mood_mismatch, text_words
from iqa_core.scores import TEXT_PRIORITY


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
    worst_on_subject: bool = False  # the worst region lies mostly on the subject
    subject: str | None = None  # the subject's likeliest concept
    subject_sharp: bool = False  # sharp against a soft backdrop (depth of field): never advise sharpening
    depth_of_field: list[str] = field(default_factory=list)  # labels of backdrop regions soft by style

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def worst_region_share(self) -> float | None:
        if not self.worst_region:
            return None
        return next((s for label, q, s in self.regions if (label, q) == tuple(self.worst_region)), None)


def _pick_text(metadata, priority=TEXT_PRIORITY) -> tuple[str | None, str | None]:
    if metadata is None:
        return None, None
    sources = metadata.text_sources() if hasattr(metadata, "text_sources") else dict(metadata)
    key = next((k for k in priority if sources.get(k)), None)
    return (sources[key], key) if key else (None, None)


def gather(quality, aesthetics, alignment, attributes: dict[str, Attribute], regions: list[Region],
           emotions: dict[str, float], sentiment: str, valence: float, arousal: float,
           seen_as: list[str], stats: dict[str, float], metadata=None, text_priority=TEXT_PRIORITY,
           support: Callable[[list[str], list[str]], tuple[list[str], list[str]]] | None = None,
           subject: Subject | None = None) -> Facts:
    """metadata: the image's Metadata (or a dict of text sources); support: e.g. a ConceptSupport for this
    image, else words are matched to the concept names by spelling. The worst region is the worst damaged
    one on the subject if there is one, else the worst that is not depth of field."""
    ranked = sorted(attributes.items(), key=lambda kv: kv[1].score)
    weakest, strongest = ranked[0], ranked[-1]
    by_q = sorted((r for r in regions if r.issue != "depth_of_field"), key=lambda r: r.quality)
    on_subject = [r for r in by_q if r.issue and (r.on_subject or 0.0) >= ON_SUBJECT]
    if on_subject:
        by_q = on_subject + [r for r in by_q if r not in on_subject]
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
        worst_on_subject=bool(by_q) and (by_q[0].on_subject or 0.0) >= ON_SUBJECT,
        subject=subject.label if subject else None,
        subject_sharp=bool(subject) and backdrop_is_style(subject),
        depth_of_field=[r.label for r in regions if r.issue == "depth_of_field"],
        best_region=(max(by_q, key=lambda r: r.quality).label, max(r.quality for r in by_q)) if by_q else None,
        top_emotion=(top[0], round(top[1], 2)), sentiment=sentiment, valence=round(valence, 1),
        arousal=round(arousal, 1), seen_as=list(seen_as), stats=stats,
        attributes={k: a.score for k, a in attributes.items()}, strongest_evidence=strongest[1].evidence,
        regions=[(r.label, r.quality, round(float(r.share), 4)) for r in regions if r.issue != "depth_of_field"],
        emotions=dict(emotions), text=None if text is None else text[:MAX_TEXT_CHARS], text_source=source,
        missing=missing[:4], found=found, mood_mismatch=mood_mismatch(text, emotions, sentiment))
