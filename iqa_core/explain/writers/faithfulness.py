"""Faithfulness check: does an explanation say only what the assessment's facts support?

Run on every explanation, whichever writer wrote it. The text is split into sentences and clauses
(at ; , and at but/while/although...), and in each clause the check finds the things it names (scores,
attributes, regions, emotions, the mood, measured evidence) and the claims it makes:

- numbers: every number must match, to the precision it is written with (64 matches 63.6, 6.3 matches
  6.27, 38% matches 0.384), a value of something named in the same clause (else in the same sentence,
  else anywhere in the facts or the image's own text). Scale words ("/100", "on a 1-9 scale") are not
  numbers; quoted text (a prompt's words) is not read;
- superlatives ("strongest", "best", "weakest", "worst", "highest", "lowest") about an attribute or a
  region must name the highest or lowest one;
- qualities ("good", "strong", "poor", "weak", "fair"...) about a score must agree with its band;
- regions must exist ("the bottom right" when no region is there is a lie), emotions called dominant
  ("mostly joy") must be the likeliest, a mood called positive or negative must be the sentiment;
- 3-6 sentences.

A claim the check cannot tie to anything is not judged. A writer whose text fails falls back to the
template (see iqa_core.explain.writers.explain).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from iqa_core.explain.facts import Facts
from iqa_core.scores import ATTRIBUTE_LABELS as LABELS

MIN_SENTENCES, MAX_SENTENCES = 3, 6
POS_MIN, NEG_MAX, MID_RANGE = 52.0, 48.0, (35.0, 70.0)  # a little looser than explain.band's 55 / 40
TIE = 0.5  # scores within this of the best/worst count as the best/worst
TOP_EMOTION_TIE = 0.02
FOLLOW_WORDS = 4  # a claim word may name a thing this many words after it ("the weakest region is the top left")

# ------------------------------------------------------------------------------------------ vocabulary
ATTRIBUTE_WORDS = {
    "technical": r"technical(?:\s+quality)?",
    "composition": r"composition|framing",
    "colour": r"colou?rs?|colou?ring|palette",
    "lighting": r"lighting|exposure",
    "focus_detail": r"focus(?:\s+and\s+detail)?|details?|sharpness",
    "subject": r"subject",
    "originality": r"originality",
    "emotional_impact": r"emotional\s+impact|impact",
}
SCORE_WORDS = {
    "quality": r"(?:overall\s+|image\s+)?quality",
    "aesthetics": r"aesthetics?|aesthetically",
    "alignment": r"alignment|match(?:es|ed|ing)?|fits?\s+(?:the|its)\s+(?:prompt|text|caption|tags)",
    "valence": r"valence",
    "arousal": r"arousal",
    "mood": r"mood|sentiment",
}
EMOTION_WORDS = {
    "joy": r"joy(?:ful)?|happ(?:y|iness)", "sadness": r"sad(?:ness)?", "fear": r"fear(?:ful)?",
    "anger": r"anger|angry", "disgust": r"disgust(?:ed|ing)?", "surprise": r"surprised?", "neutral": r"neutral",
}
EVIDENCE_WORDS = {  # measured statistics: numbers about them are checked, qualities are not
    "noise_sigma": r"noise|noisy|grain", "contrast": r"contrast", "mean_luminance": r"brightness|luminance",
    "mean_saturation": r"saturation", "clipped_highlights": r"blown[\s-]+out|highlights",
    "crushed_shadows": r"shadows|crushed", "blockiness": r"block\s+artefacts|artifacts|blockiness",
}
FRACTION_STATS = ("mean_luminance", "mean_saturation", "clipped_highlights", "crushed_shadows", "contrast",
                  "clipped_channels", "colourfulness", "dynamic_range", "top_concept_probability", "subject_x",
                  "subject_y", "thirds_distance", "balance", "subject_spread", "non_neutral_share")
ROW = {"top": "top", "upper": "top", "bottom": "bottom", "lower": "bottom", "middle": "middle", "centre": "middle",
       "center": "middle"}
COL = {"left": "left", "right": "right", "centre": "centre", "center": "centre", "middle": "centre"}
REGION_RE = re.compile(
    r"\b(?:the|its|in|at|on)\s+(?:(?P<row>top|upper|bottom|lower|middle|centre|center)[\s-]+(?P<col>left|right)"
    r"|(?P<one>top|upper|bottom|lower|left|right|centre|center|middle))\b"
    r"(?![\s-]+(?:scores?|scoring|rated|ranked|attributes?|priority|notch|choice|pick|half\b|third\b|"
    r"of\s+the\s+(?:list|ranking|scores?)|quality\s+(?:setting|jpeg)))"
    r"(?:[\s-]+(?:corner|edge|side|part|area|region|portion|section))?", re.I)

SUPER_POS = r"strongest|best|highest|top[\s-]+scoring|standout"
SUPER_NEG = r"weakest|worst|lowest|poorest|bottom[\s-]+scoring"
QUAL_POS = r"good|strong|great|excellent|high|solid|well|closely|impressive|nice"
QUAL_NEG = r"poor|weak|bad|low|lacking|weakly|poorly"
QUAL_MID = r"fair|average|moderate|decent|partly|partially|mediocre|okay|ok"
MOOD_SIGN = r"positive|negative"
DOMINANT = r"mostly|mainly|predominantly|dominant|dominantly|largely|primarily"
NEGATION = re.compile(r"\b(?:not|never|no|hardly|barely|isn't|aren't|wasn't|doesn't|don't|lacks)\b", re.I)

_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|(?<!\w)'[^']{2,}'(?!\w)")
_SCALE = re.compile(r"\b(?:on\s+(?:a|the)\s+)?\(?\b[01]\s*(?:-|–|to)\s*(?:9|10|100)\b\)?(?:\s+scale)?"
                    r"|/\s*(?:100|10|9)\b|\bout\s+of\s+(?:100|10|9)\b", re.I)
_LIST_MARK = re.compile(r"(?m)^\s*\d+[.)]\s+")
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(\s*%)?(?![\w]|\.\d)")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9])")
_CLAUSE = re.compile(r"[;,]|\b(?:but|while|whereas|although|though|however|yet)\b", re.I)
_WORDS = re.compile(r"\S+")


@dataclass
class Verdict:
    ok: bool
    problems: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok

    def summary(self) -> str:
        return "passed" if self.ok else "; ".join(self.problems)


@dataclass
class _Thing:
    key: str  # "attr:composition", "region:top left", "score:quality", "emotion:joy", "evidence:contrast"
    values: list[float]  # in the units a text would cite them (0-100 scores, percentages, 1-9 valence)
    score: float | None = None  # for quality claims
    group: str | None = None  # "attr" | "region" | "emotion": what superlatives rank within


@dataclass
class _Mention:
    start: int
    end: int
    thing: _Thing | None  # None: a region that does not exist
    label: str = ""


# ------------------------------------------------------------------------------------------ facts -> things
def _things(f: Facts) -> dict[str, _Thing]:
    t: dict[str, _Thing] = {}
    s = {**f.stats, "arousal": f.arousal}

    def evidence_values(ev: dict[str, float]) -> list[float]:
        out = []
        for k, v in ev.items():
            out += [v, v * 100] if k in FRACTION_STATS or k == "non_neutral_share" else [v]
        return out

    attrs = f.attributes or dict([f.strongest, f.weakest])
    for name, score in attrs.items():
        ev = dict(f.weakest_evidence if name == f.weakest[0] else {})
        ev.update(f.strongest_evidence if name == f.strongest[0] else {})
        extra = [s[k] for k in ("sharpness", "subject_sharpness") if name == "focus_detail" and k in s]
        t[f"attr:{name}"] = _Thing(f"attr:{name}", [score] + evidence_values(ev) + extra, score, "attr")
    t["score:quality"] = _Thing("score:quality", [f.quality], f.quality)
    t["score:aesthetics"] = _Thing("score:aesthetics", [f.aesthetics], f.aesthetics)
    if f.alignment is not None:
        t["score:alignment"] = _Thing("score:alignment", [f.alignment], f.alignment)
    else:
        t["score:alignment"] = _Thing("score:alignment", [], None)
    t["score:valence"] = _Thing("score:valence", [f.valence])
    t["score:arousal"] = _Thing("score:arousal", [f.arousal])
    t["score:mood"] = _Thing("score:mood", [f.valence, f.arousal])
    emotions = f.emotions or {f.top_emotion[0]: f.top_emotion[1]}
    for e, p in emotions.items():
        vals = [p, p * 100]
        if e == f.top_emotion[0]:
            vals += [f.top_emotion[1], f.top_emotion[1] * 100]
        t[f"emotion:{e}"] = _Thing(f"emotion:{e}", vals, p, "emotion")
    for k in EVIDENCE_WORDS:
        if k in s:
            t[f"evidence:{k}"] = _Thing(f"evidence:{k}", evidence_values({k: s[k]}))
    regions = f.regions or [r + (0.0,) for r in (f.worst_region, f.best_region) if r]
    for label, q, share in regions:
        th = t.setdefault(f"region:{label}", _Thing(f"region:{label}", [], None, "region"))
        th.values += [q, share * 100, share]
    for label in f.depth_of_field:  # named as a style, never ranked: no score to check
        t.setdefault(f"region:{label}", _Thing(f"region:{label}", [], None, "region"))
    return t


def _global_values(f: Facts, things: dict[str, _Thing]) -> list[float]:
    vals = [v for th in things.values() for v in th.values]
    vals += [v for k, v in f.stats.items()] + [v * 100 for k, v in f.stats.items() if k in FRACTION_STATS]
    if f.text:
        vals += [float(n) for n, _ in _NUMBER.findall(_SCALE.sub(" ", f.text))]
    return vals


# ------------------------------------------------------------------------------------------ text -> mentions
def _compile(words: dict[str, str], prefix: str) -> list[tuple[re.Pattern, str]]:
    return [(re.compile(rf"\b(?:{pattern})\b", re.I), f"{prefix}:{key}") for key, pattern in words.items()]


_PATTERNS = (_compile(ATTRIBUTE_WORDS, "attr") + _compile(SCORE_WORDS, "score") + _compile(EMOTION_WORDS, "emotion")
             + _compile(EVIDENCE_WORDS, "evidence"))


def region_label(row: str | None, col: str | None, one: str | None) -> str:
    """The label regions.place gives to a place written as words ("upper left corner" -> "top left")."""
    if one:
        one = one.lower()
        if one in ("left", "right"):
            return one
        r = ROW[one]
        return "centre" if r == "middle" else r
    r, c = ROW[row.lower()], COL[col.lower()]
    return c if r == "middle" else f"{r} {c}"


def _mentions(clause: str, things: dict[str, _Thing]) -> list[_Mention]:
    found: list[_Mention] = []
    taken: list[tuple[int, int]] = []
    for m in REGION_RE.finditer(clause):
        label = region_label(m.group("row"), m.group("col"), m.group("one"))
        start = m.start("row") if m.group("row") else m.start("one")
        found.append(_Mention(start, m.end(), things.get(f"region:{label}"), label))
        taken.append((start, m.end()))
    for pattern, key in _PATTERNS:
        for m in pattern.finditer(clause):
            if key not in things or any(a <= m.start() < b for a, b in taken):
                continue
            found.append(_Mention(m.start(), m.end(), things[key], key))
            taken.append((m.start(), m.end()))
    # "technical quality" is the technical attribute, not a second mention of quality
    found.sort(key=lambda x: (x.start, -(x.end - x.start)))
    out: list[_Mention] = []
    for m in found:
        if out and m.start < out[-1].end:
            continue
        out.append(m)
    return out


def _words_between(clause: str, a: int, b: int) -> int:
    return len(_WORDS.findall(clause[min(a, b):max(a, b)]))


def _bind(clause: str, start: int, end: int, mentions: list[_Mention], want=lambda m: True) -> _Mention | None:
    """The thing a claim word at [start, end) is about: the nearest mention in the clause that `want`s it,
    before it at any distance or after it within FOLLOW_WORDS words; a tie goes to the one before."""
    best, best_d = None, None
    for m in mentions:
        if m.thing is not None and not want(m):
            continue
        if m.end <= start:
            d = _words_between(clause, m.end, start)
        elif m.start >= end:
            d = _words_between(clause, end, m.start)
            if d > FOLLOW_WORDS:
                continue
            d += 0.5
        else:
            continue
        if best_d is None or d < best_d:
            best, best_d = m, d
    return best


# ------------------------------------------------------------------------------------------ the check
def _matches(x: float, decimals: int, values: list[float]) -> bool:
    tol = 0.5 * 10 ** -decimals + 1e-6
    return any(abs(x - v) <= tol for v in values)


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text.strip()) if s.strip()]


def check(text: str, f: Facts, min_sentences: int = MIN_SENTENCES, max_sentences: int = MAX_SENTENCES) -> Verdict:
    problems: list[str] = []
    if not text or not text.strip():
        return Verdict(False, ["the text is empty"])
    n = len(sentences(text))
    if not min_sentences <= n <= max_sentences:
        problems.append(f"{n} sentences, not {min_sentences}-{max_sentences}")
    things = _things(f)
    every = _global_values(f, things)
    attr_scores = [th.score for th in things.values() if th.group == "attr"]
    region_qs = {k: [v for v in th.values[::3]] for k, th in things.items() if th.group == "region"}
    all_region_q = [q for qs in region_qs.values() for q in qs]
    clean = _LIST_MARK.sub("", _QUOTED.sub(" ", text))
    for sentence in sentences(clean):
        sentence = _SCALE.sub(" ", sentence)
        clauses = _CLAUSE.split(sentence)
        sentence_mentions = [m for c in clauses for m in _mentions(c, things)]
        for clause in clauses:
            ms = _mentions(clause, things)
            for m in ms:
                if m.thing is None:
                    problems.append(f'names the {m.label} region, which does not exist')
            # numbers
            for num in _NUMBER.finditer(clause):
                raw = num.group(1)
                x = float(raw)
                decimals = len(raw.split(".")[1]) if "." in raw else 0
                pool = [m for m in ms if m.thing is not None] or [m for m in sentence_mentions if m.thing]
                values = [v for m in pool for v in m.thing.values] if pool else every
                if not _matches(x, decimals, values):
                    about = ", ".join(sorted({_name(m) for m in pool})) or "anything in the assessment"
                    problems.append(f"cites {raw}{'%' if num.group(2) else ''}, which does not match {about}")
            # claims
            for word_re, kind in ((SUPER_POS, "best"), (SUPER_NEG, "worst"), (QUAL_POS, "pos"), (QUAL_NEG, "neg"),
                                  (QUAL_MID, "mid"), (MOOD_SIGN, "sign"), (DOMINANT, "dominant")):
                for w in re.finditer(rf"\b(?:{word_re})(?![\w-])", clause, re.I):
                    before = clause[:w.start()].split()[-3:]
                    if any(NEGATION.fullmatch(b.strip(".,;:()")) for b in before):
                        continue
                    problem = _judge(kind, w.group(0), clause, w.start(), w.end(), ms, f, attr_scores,
                                     region_qs, all_region_q)
                    if problem:
                        problems.append(problem)
    return Verdict(not problems, list(dict.fromkeys(problems)))


def _name(m: _Mention) -> str:
    """A mention's thing in words, for the problems list: "quality", "focus and detail", "the top left region"."""
    if ":" not in m.label:
        return f"the {m.label} region"
    group, key = m.label.split(":", 1)
    return {"attr": LABELS.get(key, key), "evidence": key.replace("_", " ")}.get(group, key)


def _judge(kind, word, clause, start, end, ms, f: Facts, attr_scores, region_qs, all_region_q) -> str | None:
    if kind in ("best", "worst"):
        m = _bind(clause, start, end, ms, lambda m: m.thing.group in ("attr", "region"))
        if m is None or m.thing is None or m.thing.group not in ("attr", "region"):
            return None
        if m.thing.group == "attr":
            target = max(attr_scores) if kind == "best" else min(attr_scores)
            if abs(m.thing.score - target) > TIE:
                return f'calls {m.label.split(":")[1]} the {word.lower()} attribute, but it scores ' \
                       f'{m.thing.score:.0f} (the {word.lower()} scores {target:.0f})'
        else:
            if not all_region_q:
                return None
            target = max(all_region_q) if kind == "best" else min(all_region_q)
            if all(abs(q - target) > TIE for q in region_qs[m.thing.key]):
                return f"calls the {m.label} the {word.lower()} region, but it is not"
        return None
    if kind == "dominant":
        m = _bind(clause, start, end, ms, lambda m: m.thing.group == "emotion")
        if m is None or m.thing is None or m.thing.group != "emotion":
            return None
        top = max(f.emotions.values()) if f.emotions else f.top_emotion[1]
        if m.thing.score < top - TOP_EMOTION_TIE:
            return f"calls {m.label.split(':')[1]} the dominant emotion, but it is {f.top_emotion[0]}"
        return None
    if kind == "sign":
        m = _bind(clause, start, end, ms)
        if m is None or m.thing is None or m.thing.key != "score:mood":
            return None
        if word.lower() != f.sentiment:
            return f"calls the mood {word.lower()}, but it is {f.sentiment}"
        return None
    m = _bind(clause, start, end, ms)
    if m is None or m.thing is None or m.thing.score is None or m.thing.group in ("emotion", "region"):
        return None
    s = m.thing.score
    ok = {"pos": s >= POS_MIN, "neg": s < NEG_MAX, "mid": MID_RANGE[0] <= s < MID_RANGE[1]}[kind]
    if not ok:
        name = m.label.split(":")[1] if ":" in m.label else m.label
        return f'calls {name} "{word.lower()}", but it scores {s:.0f}'
    return None
