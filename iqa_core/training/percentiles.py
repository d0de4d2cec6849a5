"""Build the reference table the runtime reads (iqa_core/weights/percentiles.json, analysis/reference.py):
per reference set (AI images: agiqa3k-dev; photos: livec-dev + para-dev), each score's quantiles under the
SHIPPED heads, applied to featurize's cached training features as pipeline._heads applies them (the
heads' inputs stacked, `head.predict`); and how common each ImageNet concept is over all those images,
with the quantiles of the concept surprisal that originality ranks.

Quality here is the whole image's head score: the cache has no subject masks, so the subject blend
(analysis/subject.py) is not in the table; it moves a typical photo's score by a point or two.
It also prints para-dev's median quality, which attributes.Q_REF records.

    python -m iqa_core.training.percentiles     # features are computed and cached on first use (~15 min)
"""
from __future__ import annotations

import json

import numpy as np

from iqa_core.analysis.reference import PERCENTILES_FILE, surprisal
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.model.heads import load_heads
from iqa_core.training import datasets
from iqa_core.training.featurize import Featurized, featurize

SETS = {"ai": (("agiqa3k",), "AGIQA-3K dev (AI-generated images)"),
        "photo": (("livec", "para"), "LIVE Challenge + PARA dev (photos)")}
SCORES = ("quality", "aesthetics", "alignment", "valence", "arousal")
LEVELS = np.linspace(0.0, 1.0, 101)


def head_scores(data: Featurized, heads: dict) -> dict[str, np.ndarray]:
    out = {}
    projection = heads.get("text_projection")
    if projection is not None and "text" in data.blocks:  # the alignment head reads the projection's match
        projected = projection.predict(data.x(projection.inputs))
        data.blocks["projection"] = (projected * data.blocks["text"]).sum(1, keepdims=True).astype(np.float32)
    for name in SCORES:
        head = heads[name]
        if all(k in data.blocks for k in head.inputs):  # alignment only where the set has prompts
            out[name] = np.asarray(head.predict(data.x(head.inputs)), np.float64)
    return out


def build(root=datasets.DEFAULT_ROOT) -> tuple[dict, float]:
    encoder, heads = LiteEncoder(), load_heads()
    data = {n: featurize(n, encoder, root) for names, _ in SETS.values() for n in names}
    scored = {n: head_scores(d, heads) for n, d in data.items()}
    concepts = np.concatenate([d.concepts for d in data.values()]).astype(np.float64)
    frequency = concepts.mean(0)
    table = {"levels": "101 quantiles, 0-100%", "concept_frequency": [round(float(v), 8) for v in frequency],
             "surprisal_quantiles": [round(float(v), 4) for v in np.quantile(surprisal(concepts, frequency), LEVELS)],
             "sets": {}}
    for key, (names, description) in SETS.items():
        common = set.intersection(*(set(scored[n]) for n in names))
        table["sets"][key] = {"description": description, "n": sum(len(data[n].samples) for n in names),
                              "quantiles": {s: [round(float(v), 3) for v in np.quantile(
                                  np.concatenate([scored[n][s] for n in names]), LEVELS)] for s in SCORES
                                  if s in common}}
    return table, float(np.median(scored["para"]["quality"]))


def main() -> int:
    table, q_ref = build()
    PERCENTILES_FILE.write_text(json.dumps(table))
    print(f"wrote {PERCENTILES_FILE}; para-dev median quality (attributes.Q_REF) = {q_ref:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
