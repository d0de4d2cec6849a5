"""Which AI-image quality expert: its ridge linear or with the aesthetics head's kernel part (training/kernel.py),
paired with IOVQA or alone, with or without the distorted copies. The whole gated quality head of the shipped
recipe (ranker, common-scale targets, photo expert, gate, all refitted inside each training part), grouped
5-fold CV under the selection fold seed 1 (never the reported seed 0); per set SRCC and the scale checks.

    python -m benchmarks.ai_expert [--seed 1]     # about 20 minutes on 2 cores
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import table, write_json
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.model.heads import GatedHead, MeanHead
from iqa_core.training import datasets
from iqa_core.training.common_scale import (
    common_targets,
    fit_ranker,
    quality_data,
    row_weights,
    scale_checks,
)
from iqa_core.training.distortions import distorted_features
from iqa_core.training.featurize import POWER_TECHNICAL, featurize
from iqa_core.training.fit import fit_expected, folds
from iqa_core.training.quality import (
    EXPERT_DECAY,
    EXPERT_IOVQA,
    EXPERT_WEIGHTS,
    QUALITY_OUT,
    SCORED_SETS,
    fit_expert,
    fit_gate,
    set_names,
    train_only_sets,
)

# variant -> (kernel part, IOVQA beside it, distorted copies in the expert)
VARIANTS = {"ridge + IOVQA (before)": (False, True, True), "ridge + kernel + IOVQA": (True, True, True),
            "ridge": (False, False, True), "ridge + kernel": (True, False, True),
            "ridge, no copies": (False, False, False), "ridge + kernel, no copies": (True, False, False)}
CHECKS = ("clean_above_copy", "good_photo_above_damaged_ai")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    t0 = time.time()
    encoder, root = LiteEncoder(), datasets.DEFAULT_ROOT
    data = {n: featurize(n, encoder, root) for n in ("agiqa3k", "livec", "para", "emotion6")}
    qd = quality_data(data | train_only_sets(encoder, root), distorted_features(data, encoder))
    prior = data["agiqa3k"].prior(["image"], POWER_TECHNICAL)
    assert EXPERT_IOVQA["ai"], "the variants pair IOVQA as the AI expert does"
    pred = {v: np.zeros(len(qd.x), np.float32) for v in VARIANTS}
    rated = qd.scored
    for tr, te in folds(qd.groups[rated], seed=args.seed):
        rows, test = qd.with_copies(np.concatenate([rated[tr], qd.train_only])), qd.with_copies(rated[te])
        x, sets, rw = qd.x[rows], set_names(qd.groups[rows]), row_weights(qd, rows)
        y = common_targets(qd, rows, fit_ranker(qd, rows, prior))
        photo = fit_expert(x, y, sets, prior, EXPERT_WEIGHTS["photo"], False, rw)
        gate = fit_gate(np.concatenate([x, qd.gate_x]), np.concatenate([sets, qd.gate_sets]), prior)
        sw = np.array([EXPERT_WEIGHTS["ai"][n] for n in sets], np.float32) * rw
        # One IOVQA head per part (as shipped, copies in) for the variants that pair it with their ridge.
        iovqa = fit_expected(x[sw > 0], y[sw > 0], "quality", ["image"], None, EXPERT_DECAY, prior=prior,
                             sample_weight=sw[sw > 0], **QUALITY_OUT)
        for v, (kernel, pair, copies) in VARIANTS.items():
            ridge = fit_expert(x, y, sets, prior, EXPERT_WEIGHTS["ai"], False,
                               rw if copies else np.where(rows < qd.n_rated, rw, 0.0), kernel)
            ai = MeanHead("quality", [ridge, iovqa]) if pair else ridge
            pred[v][test] = GatedHead("quality", gate, {"photo": photo, "ai": ai}).predict(qd.x[test])
    results, rows_out = {}, []
    for v in VARIANTS:
        checks = scale_checks(qd, pred[v])
        results[v] = {n: checks[n] for n in (*SCORED_SETS, *CHECKS)}
        rows_out.append([v, *(checks[n] for n in SCORED_SETS), *(checks[n] for n in CHECKS)])
    print(table(rows_out, ["AI expert", *SCORED_SETS, *CHECKS],
                f"Gated quality head, grouped 5-fold CV, fold seed {args.seed} (SRCC; checks as shares)"))
    print("wrote", write_json("ai_expert.json", {"seed": args.seed, "seconds": round(time.time() - t0),
                                                 "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
