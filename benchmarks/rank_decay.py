"""Nested selection of the quality ranker's decay (training.common_scale.RANK_DECAY), which the shipped recipe
fixes: inside each outer training part of the reported CV split, every candidate is scored on 3 inner grouped
folds of that part alone (the ranker by itself: the mean over the sets of the within-set SRCC of its
out-of-fold scores), and the best is chosen. Where every part chooses the shipped decay, nested CV would give
exactly the quality head's reported CV figures.

`python -m benchmarks.rank_decay` (features from the training cache). Prints the choice of each part with its
inner scores and the outer test figures, and writes benchmarks/results/rank_decay.json.
"""
from __future__ import annotations

import time

import numpy as np

from benchmarks.common import table, write_json
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.training import datasets
from iqa_core.training.common_scale import RANK_DECAY, QualityData, fit_ranker, quality_data
from iqa_core.training.distortions import distorted_features
from iqa_core.training.featurize import POWER_TECHNICAL, featurize
from iqa_core.training.fit import folds, srcc
from iqa_core.training.quality import QUALITY_SETS

DECAYS = (0.01, 0.1, 1.0)


def within_sets(qd: QualityData, rated: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """SRCC of pred (scores of the rated rows `rated`) against each set's MOS, per set."""
    return {n: srcc(pred[qd.sets[rated] == n], qd.z[rated][qd.sets[rated] == n])
            for n in QUALITY_SETS if (qd.sets[rated] == n).sum() > 2}


def inner_score(qd: QualityData, rated: np.ndarray, prior: np.ndarray, decay: float) -> float:
    pred = np.zeros(len(rated), np.float32)
    for tr, te in folds(qd.groups[rated], 3):
        pred[te] = fit_ranker(qd, qd.with_copies(rated[tr]), prior, decay).predict(qd.x[rated[te]])
    return float(np.mean(list(within_sets(qd, rated, pred).values())))


def main() -> int:
    t0 = time.time()
    encoder = LiteEncoder()
    data = {n: featurize(n, encoder, datasets.DEFAULT_ROOT) for n in ("agiqa3k", "livec", "para", "emotion6")}
    qd = quality_data(data, distorted_features(data, encoder))
    prior = data["agiqa3k"].prior(["image"], POWER_TECHNICAL)
    rated = np.arange(qd.n_rated)
    parts = []
    for k, (tr, te) in enumerate(folds(qd.groups[rated])):
        inner = {d: round(inner_score(qd, rated[tr], prior, d), 4) for d in DECAYS}
        chosen = max(DECAYS, key=inner.get)
        outer = {d: within_sets(qd, rated[te], fit_ranker(qd, qd.with_copies(rated[tr]), prior, d).predict(
            qd.x[rated[te]])) for d in {chosen, RANK_DECAY}}
        parts.append({"fold": k, "inner": inner, "chosen": chosen,
                      "outer_chosen": {n: round(v, 4) for n, v in outer[chosen].items()},
                      "outer_shipped": {n: round(v, 4) for n, v in outer[RANK_DECAY].items()}})
        print(f"fold {k}: inner {inner} -> {chosen}", flush=True)
    rows = [[p["fold"], *(p["inner"][d] for d in DECAYS), p["chosen"],
             " ".join(f"{n} {v:.3f}" for n, v in p["outer_chosen"].items())] for p in parts]
    print(table(rows, ["part", *(f"inner {d:g}" for d in DECAYS), "chosen", "outer test SRCC (chosen)"],
                f"The ranker's decay chosen inside each training part (shipped {RANK_DECAY:g})"))
    path = write_json("rank_decay.json", {"seconds": round(time.time() - t0, 1), "decays": DECAYS,
                                          "shipped": RANK_DECAY, "parts": parts,
                                          "all_chose_shipped": all(p["chosen"] == RANK_DECAY for p in parts)})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
