"""Readers for the labelled dev splits in ../shared/data: one list of samples per dataset, targets as floats."""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from iqa_core import PACKAGE_DIR
from iqa_core.scores import EMOTIONS

DEFAULT_ROOT = PACKAGE_DIR.parent.parent / "shared" / "data"
CACHE_ENV = "IQA_FEATURE_CACHE"  # where training keeps computed features (default: cache/ in the project)


def cache_dir() -> Path:
    """The training-time feature cache (never read by the runtime); keys name the encoder and its settings."""
    path = Path(os.environ.get(CACHE_ENV) or PACKAGE_DIR.parent / "cache")
    path.mkdir(parents=True, exist_ok=True)
    return path

PARA_ATTRIBUTES = {  # our attribute name -> PARA column (1-5)
    "composition": "compositionScore_mean",
    "colour": "colorScore_mean",
    "focus_detail": "dofScore_mean",
    "lighting": "lightScore_mean",
    "subject": "contentScore_mean",
}


# PARA's eight emotion classes as sentiment (neutral is neither): amusement, awe, contentment and excitement
# are positive, disgust, fear and sadness negative.
PARA_POSITIVE = ("amusement", "awe", "contentment", "excitement")
PARA_NEGATIVE = ("disgust", "fear", "sadness")


@dataclass
class Sample:
    path: Path
    group: str  # images sharing a group stay in one CV fold (same prompt, same PARA session)
    targets: dict[str, float] = field(default_factory=dict)
    prompt: str | None = None
    emotions: np.ndarray | None = None  # (7,) distribution in scores.EMOTIONS order


def _rows(root: Path, name: str) -> list[dict[str, str]]:
    path = root / name / "labels.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the dev data lives in ../shared/data beside the project.")
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def agiqa3k(root: Path = DEFAULT_ROOT) -> list[Sample]:
    return [Sample(root / "agiqa3k-dev" / "images" / r["image"], group=r["prompt"], prompt=r["prompt"],
                   targets={"quality": float(r["mos_quality"]), "alignment": float(r["mos_align"])})
            for r in _rows(root, "agiqa3k-dev")]


def livec(root: Path = DEFAULT_ROOT) -> list[Sample]:
    return [Sample(root / "livec-dev" / "images" / r["image"], group=r["image"],
                   targets={"quality": float(r["AllMOS_release"])})
            for r in _rows(root, "livec-dev")]


def _sentiment_votes(r: dict[str, str]) -> dict[str, float]:
    """PARA's emotion votes as a sentiment signal: the positive share of the non-neutral votes, and how many
    of the image's votes were non-neutral (its weight as a sentiment example)."""
    pos, neg = (sum(float(r[f"imgEmotion_{e}"]) for e in group) for group in (PARA_POSITIVE, PARA_NEGATIVE))
    total = pos + neg + float(r["imgEmotion_neutral"])
    return {"p_positive": pos / (pos + neg) if pos + neg else 0.5, "non_neutral": (pos + neg) / max(total, 1.0)}


def para(root: Path = DEFAULT_ROOT) -> list[Sample]:
    out = []
    for r in _rows(root, "para-dev"):
        targets = {"aesthetics": float(r["aestheticScore_mean"]), "para_quality": float(r["qualityScore_mean"]),
                   **_sentiment_votes(r)}
        targets.update({name: float(r[col]) for name, col in PARA_ATTRIBUTES.items()})
        out.append(Sample(root / "para-dev" / "images" / r["image"], group=r["sessionId"], targets=targets))
    return out


def para_train(root: Path = DEFAULT_ROOT) -> list[Sample]:
    """PARA's train split, ordered by session (so the first n images hold whole sessions)."""
    rows = sorted(_rows(root, "para-train"), key=lambda r: (int(r["sessionId"].removeprefix("session")), r["image"]))
    return [Sample(root / "para-train" / "images" / r["image"], group=r["sessionId"],
                   targets={"aesthetics": float(r["aestheticScore_mean"]),
                            "para_quality": float(r["qualityScore_approx"]), **_sentiment_votes(r)})
            for r in rows]


def emotion6(root: Path = DEFAULT_ROOT) -> list[Sample]:
    out = []
    for r in _rows(root, "emotion6-dev"):
        dist = np.array([float(r[f"p_{e}"]) for e in EMOTIONS], np.float32)
        out.append(Sample(root / "emotion6-dev" / "images" / r["image"], group=r["image"],
                          targets={"valence": float(r["valence"]), "arousal": float(r["arousal"])},
                          emotions=dist / max(dist.sum(), 1e-6)))
    return out


DATASETS = {"agiqa3k": agiqa3k, "livec": livec, "para": para, "para_train": para_train, "emotion6": emotion6}


def load(name: str, root: Path = DEFAULT_ROOT) -> list[Sample]:
    if name not in DATASETS:
        raise KeyError(f"Unknown dataset {name!r}; known: {sorted(DATASETS)}")
    return DATASETS[name](Path(root))
