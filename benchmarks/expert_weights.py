"""Nested selection of the quality experts' design constants (training.quality.EXPERT_WEIGHTS: each dataset's
sample weight in each domain's expert; EXPERT_IOVQA: which experts pair ridge with IOVQA's class head), which
the shipped recipe fixes. Inside each outer training part of the reported CV split, every candidate is scored
on 3 inner grouped folds of that part alone (ranker and common-scale targets refitted in each inner training
part, as training.common_scale does), and the best is chosen; the outer test part is then scored by the whole
gated head with the chosen constants and with the shipped ones.

An expert is scored alone, on its own domain's rated images (the AI expert on AGIQA-3K, the photo expert on
the mean of LIVE-C's and PARA's SRCC): the gate sends most of each set to its domain (the outer test parts'
mean probability of their own domain: AGIQA-3K 0.88-0.92, LIVE-C 0.79-0.89, PARA 0.96-0.97). The candidates are
a few around the shipped values, not a grid: IOVQA (about 4 minutes a fit) is tried only at the shipped weights.
The TRAIN_ONLY sets (2,000 of para-train's quality votes) are in every training part, inner and outer, as in
training (`--without-train-only`: the three scored sets alone, as the first run, before para-train joined).
`--candidates` keeps only the named candidates (beside each expert's shipped one); an expert left with its
shipped one alone is not searched.

`python -m benchmarks.expert_weights [--workers 2] [--candidates "with IOVQA"] [--out expert_weights.json]`
(features from the training cache; 75 min on 2 shared cores for every candidate without para-train). Prints each
part's inner scores, choices and outer test SRCC, and writes the JSON to benchmarks/results/.
"""
from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from benchmarks.common import table, write_json
from benchmarks.rank_decay import within_sets
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.model.heads import GatedHead, MeanHead
from iqa_core.training import datasets
from iqa_core.training.common_scale import QualityData, common_targets, fit_ranker, quality_data, row_weights
from iqa_core.training.distortions import distorted_features
from iqa_core.training.featurize import POWER_TECHNICAL, featurize
from iqa_core.training.fit import folds
from iqa_core.training.quality import (
    EXPERT_IOVQA,
    EXPERT_WEIGHTS,
    QUALITY_SETS,
    SCORED_SETS,
    fit_expert,
    fit_gate,
    train_only_sets,
)

SHIPPED = "shipped"


def _scaled(domain: str, **changes: float) -> dict[str, float]:
    return {**EXPERT_WEIGHTS[domain], **changes}


# domain -> candidate -> (dataset weights, IOVQA); the sets each expert is scored on.
CANDIDATES = {
    "ai": {SHIPPED: (EXPERT_WEIGHTS["ai"], EXPERT_IOVQA["ai"]),
           "ridge only": (EXPERT_WEIGHTS["ai"], False),
           "ridge only, no photos": (_scaled("ai", livec=0.0, para=0.0), False),
           "ridge only, photos x2": (_scaled("ai", livec=0.4, para=0.2), False)},
    "photo": {SHIPPED: (EXPERT_WEIGHTS["photo"], EXPERT_IOVQA["photo"]),
              "para 0.25": (_scaled("photo", para=0.25), False),
              "para 1.0": (_scaled("photo", para=1.0), False),
              "agiqa3k 0.1": (_scaled("photo", agiqa3k=0.1), False),
              "with IOVQA": (EXPERT_WEIGHTS["photo"], True)},
}
SCORED_ON = {d: [n for n in SCORED_SETS if QUALITY_SETS[n][1] == d] for d in CANDIDATES}

_QD: QualityData | None = None  # set before the workers fork, so each inherits the features
_PRIOR: np.ndarray | None = None


def targets_for(qd: QualityData, rows: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """The common-scale targets of `rows` from a ranker fitted on them, as training.common_scale.fit_common."""
    return common_targets(qd, rows, fit_ranker(qd, rows, prior))


def expert_predictions(qd: QualityData, rows: np.ndarray, targets: np.ndarray, test: np.ndarray,
                       prior: np.ndarray, domain: str) -> dict[str, np.ndarray]:
    """Each candidate's predictions of the rows `test`, from experts fitted on `rows` and their targets. A
    ridge-only candidate with the weights of an IOVQA one reads that one's ridge."""
    row_weight = row_weights(qd, rows)
    fitted: dict[tuple, object] = {}
    for weights, iovqa in sorted(CANDIDATES[domain].values(), key=lambda c: not c[1]):  # IOVQA fits first
        key = tuple(sorted(weights.items()))
        if key not in fitted:
            fitted[key] = fit_expert(qd.x[rows], targets, qd.sets[rows], prior, weights, iovqa, row_weight)
    out = {}
    for name, (weights, iovqa) in CANDIDATES[domain].items():
        head = fitted[tuple(sorted(weights.items()))]
        if isinstance(head, MeanHead) and not iovqa:
            head = head.members[0]
        out[name] = head.predict(qd.x[test])
    return out


def domain_score(qd: QualityData, rated: np.ndarray, pred: np.ndarray, domain: str) -> float:
    """Mean SRCC against each of the domain's sets' MOS, of pred (scores of the rated rows `rated`)."""
    per_set = within_sets(qd, rated, pred)
    return float(np.mean([per_set[n] for n in SCORED_ON[domain]]))


def inner_scores(qd: QualityData, rated: np.ndarray, prior: np.ndarray) -> dict[str, dict[str, float]]:
    """domain -> candidate -> score over 3 inner grouped folds of the rated rows `rated` (pooled out-of-fold)."""
    searched = [d for d in CANDIDATES if len(CANDIDATES[d]) > 1]
    pred = {d: {c: np.zeros(len(rated), np.float32) for c in CANDIDATES[d]} for d in searched}
    for tr, te in folds(qd.groups[rated], 3):
        rows = qd.with_copies(np.concatenate([rated[tr], qd.train_only]))
        targets = targets_for(qd, rows, prior)
        for d in searched:
            for c, p in expert_predictions(qd, rows, targets, rated[te], prior, d).items():
                pred[d][c][te] = p
    return {d: {c: round(domain_score(qd, rated, p, d), 4) for c, p in pred[d].items()} for d in searched}


def outer_srcc(qd: QualityData, tr: np.ndarray, te: np.ndarray, prior: np.ndarray,
               choice: dict[str, str]) -> dict[str, dict[str, float]]:
    """Within-set SRCC on the outer test rows te of the gated head fitted on tr (and its copies), with the
    chosen candidates and with the shipped ones; and the gate's mean probability of each set's own domain."""
    rows = qd.with_copies(np.concatenate([tr, qd.train_only]))
    targets = targets_for(qd, rows, prior)
    row_weight = row_weights(qd, rows)
    gate = fit_gate(qd.x[rows], qd.sets[rows], prior)
    experts = {(d, c): fit_expert(qd.x[rows], targets, qd.sets[rows], prior, *CANDIDATES[d][c], row_weight)
               for d in CANDIDATES for c in {SHIPPED, choice[d]}}
    out = {}
    for label, pick in (("chosen", choice), (SHIPPED, {d: SHIPPED for d in CANDIDATES})):
        pred = GatedHead("quality", gate, {d: experts[d, pick[d]] for d in CANDIDATES}).predict(qd.x[te])
        out[label] = {n: round(v, 4) for n, v in within_sets(qd, te, pred).items()}
    p = gate.predict(qd.x[te])
    out["gate_own_domain"] = {n: round(float(p[qd.sets[te] == n, gate.classes.index(QUALITY_SETS[n][1])].mean()), 3)
                              for n in SCORED_SETS}
    return out


def run_part(k: int) -> dict:
    qd, prior = _QD, _PRIOR
    t0 = time.time()
    rated = qd.scored
    tr, te = folds(qd.groups[rated])[k]
    inner = inner_scores(qd, rated[tr], prior)
    choice = {d: SHIPPED for d in CANDIDATES} | {d: max(scores, key=scores.get) for d, scores in inner.items()}
    print(f"part {k}: inner {inner} -> {choice}", flush=True)
    return {"part": k, "inner": inner, "chosen": choice, "outer": outer_srcc(qd, rated[tr], rated[te], prior, choice),
            "seconds": round(time.time() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="outer parts run in this many processes")
    ap.add_argument("--parts", type=int, nargs="*", default=list(range(5)))
    ap.add_argument("--candidates", nargs="*", default=None, help="keep only these (and each expert's shipped one)")
    ap.add_argument("--without-train-only", action="store_true", help="leave the TRAIN_ONLY sets out")
    ap.add_argument("--out", default="expert_weights.json")
    args = ap.parse_args(argv)
    global _QD, _PRIOR
    t0 = time.time()
    if args.candidates is not None:
        for cs in CANDIDATES.values():
            for c in [c for c in cs if c != SHIPPED and c not in args.candidates]:
                del cs[c]
    encoder = LiteEncoder()
    data = {n: featurize(n, encoder, datasets.DEFAULT_ROOT) for n in ("agiqa3k", "livec", "para", "emotion6")}
    if not args.without_train_only:
        data |= train_only_sets(encoder, datasets.DEFAULT_ROOT)
    _QD = quality_data(data, distorted_features(data, encoder))
    _PRIOR = data["agiqa3k"].prior(["image"], POWER_TECHNICAL)
    with ProcessPoolExecutor(args.workers) as pool:
        parts = list(pool.map(run_part, args.parts))
    rows = [[p["part"], d, p["chosen"][d], p["inner"][d][p["chosen"][d]], p["inner"][d][SHIPPED],
             " ".join(f"{n} {v:.3f}" for n, v in p["outer"]["chosen"].items()),
             " ".join(f"{n} {v:.3f}" for n, v in p["outer"][SHIPPED].items())] for p in parts for d in p["inner"]]
    print(table(rows, ["part", "expert", "chosen", "inner (chosen)", "inner (shipped)", "outer SRCC (chosen)",
                       "outer SRCC (shipped)"], "The quality experts' constants chosen inside each training part"))
    mean = {label: {n: round(float(np.mean([p["outer"][label][n] for p in parts])), 4) for n in SCORED_SETS}
            for label in ("chosen", SHIPPED)}
    print(f"mean outer SRCC over the parts: chosen {mean['chosen']}, shipped {mean[SHIPPED]}")
    path = write_json(args.out, {
        "seconds": round(time.time() - t0, 1), "candidates": {d: {c: {"weights": w, "iovqa": i}
                                                                  for c, (w, i) in cs.items()}
                                                              for d, cs in CANDIDATES.items()},
        "train_only": not args.without_train_only, "parts": parts, "mean_outer": mean,
        "all_chose_shipped": all(c == SHIPPED for p in parts for c in p["chosen"].values())})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
