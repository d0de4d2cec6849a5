"""The reference table (iqa_core/weights/percentiles.json, written by `python -m iqa_core.training.percentiles`):
per reference set, each score's quantiles on its dev images under the shipped heads, and the ImageNet
concepts' mean probability over those images (how common each concept is, for originality).
A missing file is no error: percentiles and originality are then left out."""
from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from iqa_core import WEIGHTS_DIR

PERCENTILES_FILE = WEIGHTS_DIR / "percentiles.json"
AI_SHARE = 0.5  # the quality gate's AI share from which an image is compared with AI images


@lru_cache(maxsize=4)
def load(path: str = str(PERCENTILES_FILE)) -> dict | None:
    try:
        return json.loads(open(path, encoding="utf-8").read())
    except FileNotFoundError:
        return None


def reference_set(ai_generated: float | None) -> str:
    return "ai" if ai_generated is not None and ai_generated >= AI_SHARE else "photo"


def percentile(value: float, quantiles: list[float]) -> float:
    """0-100: where value falls among the reference scores (quantiles at evenly spaced levels)."""
    return float(np.interp(value, quantiles, np.linspace(0.0, 100.0, len(quantiles))))


def percentiles(scores: dict[str, float | None], ai_generated: float | None,
                table: dict | None) -> tuple[dict[str, float], str | None]:
    """Each score's percentile against the reference set the gate picks, and that set's description."""
    if table is None:
        return {}, None
    ref = table["sets"][reference_set(ai_generated)]
    out = {k: round(percentile(v, ref["quantiles"][k]), 1) for k, v in scores.items()
           if v is not None and k in ref["quantiles"]}
    return out, ref["description"]


def surprisal(concepts: np.ndarray, frequency: np.ndarray, k: int = 5) -> float | np.ndarray:
    """How unusual the recognised content is: -ln of the reference frequency of the top k concepts,
    weighted by their probability (rows of a 2-D array give one value each)."""
    c = np.atleast_2d(concepts)
    top = np.argsort(-c, axis=1)[:, :k]
    p = np.take_along_axis(c, top, 1)
    out = (p * -np.log(frequency[top] + 1e-6)).sum(1) / np.maximum(p.sum(1), 1e-8)
    return out if concepts.ndim > 1 else float(out[0])
