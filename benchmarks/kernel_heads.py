"""Would the aesthetics head's kernel part (training/kernel.py, its constants as shipped) help the other heads?
Ridge indicators on image + concept, linear against linear + kernel, grouped 5-fold CV of each dev set under
the selection fold seeds 1 and 4 (never the reported seed 0): LIVE-C and AGIQA-3K quality, AGIQA-3K
alignment, Emotion6 valence and arousal, and para-dev's own aesthetics.

    python -m benchmarks.kernel_heads [--seeds 1 4]
"""
from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import table, write_json
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.training import datasets
from iqa_core.training.featurize import IMAGE_INPUTS, POWER_SEMANTIC, POWER_TECHNICAL, featurize
from iqa_core.training.fit import fit_ridge, folds, srcc
from iqa_core.training.kernel import fit_kernel_ridge

TASKS = (("livec", "quality", POWER_TECHNICAL), ("agiqa3k", "quality", POWER_TECHNICAL),
         ("agiqa3k", "alignment", POWER_TECHNICAL), ("emotion6", "valence", POWER_SEMANTIC),
         ("emotion6", "arousal", POWER_SEMANTIC), ("para", "aesthetics", POWER_TECHNICAL))
FITS = {"linear": fit_ridge, "linear + kernel": fit_kernel_ridge}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 4])
    args = ap.parse_args(argv)
    encoder, results, rows = LiteEncoder(), {}, []
    for name, key, power in TASKS:
        d = featurize(name, encoder, datasets.DEFAULT_ROOT)
        x, y, prior = d.x(IMAGE_INPUTS), d.y(key), d.prior(IMAGE_INPUTS, power)
        got = {}
        for label, fit in FITS.items():
            per_seed = []
            for seed in args.seeds:
                pred = np.zeros_like(y)
                for tr, te in folds(d.groups, seed=seed):
                    pred[te] = fit(x[tr], y[tr], key, IMAGE_INPUTS, prior).predict(x[te])
                per_seed.append(round(srcc(pred, y), 4))
            got[label] = {"per_seed": per_seed, "mean": round(float(np.mean(per_seed)), 4)}
        results[f"{name} {key}"] = got
        rows.append([f"{name} {key}", *(got[label]["mean"] for label in FITS),
                     round(got["linear + kernel"]["mean"] - got["linear"]["mean"], 4)])
    print(table(rows, ["task", *FITS, "gain"], f"Ridge indicators (SRCC), grouped 5-fold CV, fold seeds {args.seeds}"))
    print("wrote", write_json("kernel_heads.json", {"seeds": args.seeds, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
