"""Readers for the labelled dev splits in ../shared/data: one list of samples per dataset, targets as floats."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from iqa_core import PACKAGE_DIR
from iqa_core.scores import EMOTIONS

DEFAULT_ROOT = PACKAGE_DIR.parent.parent / "shared" / "data"

PARA_ATTRIBUTES = {  # our attribute name -> PARA column (1-5)
    "composition": "compositionScore_mean",
    "colour": "colorScore_mean",
    "focus_detail": "dofScore_mean",
    "lighting": "lightScore_mean",
    "subject": "contentScore_mean",
}


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


def para(root: Path = DEFAULT_ROOT) -> list[Sample]:
    out = []
    for r in _rows(root, "para-dev"):
        targets = {"aesthetics": float(r["aestheticScore_mean"]), "para_quality": float(r["qualityScore_mean"])}
        targets.update({name: float(r[col]) for name, col in PARA_ATTRIBUTES.items()})
        out.append(Sample(root / "para-dev" / "images" / r["image"], group=r["sessionId"], targets=targets))
    return out


def emotion6(root: Path = DEFAULT_ROOT) -> list[Sample]:
    out = []
    for r in _rows(root, "emotion6-dev"):
        dist = np.array([float(r[f"p_{e}"]) for e in EMOTIONS], np.float32)
        out.append(Sample(root / "emotion6-dev" / "images" / r["image"], group=r["image"],
                          targets={"valence": float(r["valence"]), "arousal": float(r["arousal"])},
                          emotions=dist / max(dist.sum(), 1e-6)))
    return out


DATASETS = {"agiqa3k": agiqa3k, "livec": livec, "para": para, "emotion6": emotion6}


def load(name: str, root: Path = DEFAULT_ROOT) -> list[Sample]:
    if name not in DATASETS:
        raise KeyError(f"Unknown dataset {name!r}; known: {sorted(DATASETS)}")
    return DATASETS[name](Path(root))
