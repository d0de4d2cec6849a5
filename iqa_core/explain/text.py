"""What a prompt or caption asks for: its content words, which of them the image's concepts support, and the
mood it asks for."""
from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

MAX_TEXT_CHARS = 300  # only the start of a (possibly huge, hostile) prompt is read for its words
MAX_WORDS = 12

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
POSITIVE_EMOTIONS = ("joy", "surprise")

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
