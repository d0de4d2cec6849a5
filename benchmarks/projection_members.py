"""Which image-to-sentence maps (training.projection) to combine: grouped 5-fold CV of AGIQA-3K, how often an
image's out-of-fold projection lies nearer its own prompt than another prompt (projection.own_vs_other), for
single maps at each number of principal components, the mean of several maps' unit vectors (MeanHead), and
their linear mean (each map's raw output divided by its mean training norm: one map, one basis to store).

`python -m benchmarks.projection_members [--seeds 1]`; writes benchmarks/results/projection_members.json.
Fold seed 1 is the selection split: combinations are chosen there, never on the reported seed (fit.SEED).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import table, write_json
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.training import datasets
from iqa_core.training.featurize import featurize
from iqa_core.training.fit import folds
from iqa_core.training.projection import PROJECTION_INPUTS, fit_projection, own_vs_other

COUNTS = (16, 32, 64, 128, 256)
# The shared-basis sets use the largest count's basis for every member (each smaller basis is its first columns).
COMBINATIONS = ((16, 32, 64, 128, 256), (16, 32, 64, 128), (32, 64, 128), (16, 32, 64), (32, 64, 256), (64, 128))


def unit(r: np.ndarray) -> np.ndarray:
    return r / np.maximum(np.linalg.norm(r, axis=1, keepdims=True), 1e-8)


def out_of_fold(x: np.ndarray, text: np.ndarray, groups: np.ndarray, seed: int) -> dict[int, np.ndarray]:
    """Each count's raw out-of-fold outputs, divided by the map's mean output norm on its training part."""
    raw = {c: np.zeros((len(x), text.shape[1]), np.float32) for c in COUNTS}
    for tr, te in folds(groups, seed=seed):
        for c in COUNTS:
            head = fit_projection(x[tr], text[tr], groups[tr], c)
            raw[c][te] = head.raw(x[te]) / np.linalg.norm(head.raw(x[tr]), axis=1).mean()
    return raw


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    args = ap.parse_args(argv)
    ag = featurize("agiqa3k", LiteEncoder(), datasets.DEFAULT_ROOT)
    x, text, groups = ag.x(PROJECTION_INPUTS), ag.blocks["text"], ag.groups
    rows, out = [], {}
    for seed in args.seeds:
        t0 = time.time()
        raw = out_of_fold(x, text, groups, seed)
        rate = {f"single {c}": own_vs_other(unit(raw[c]), text, groups) for c in COUNTS}
        for combo in COMBINATIONS:
            name = "/".join(map(str, combo))
            rate[f"mean of units {name}"] = own_vs_other(unit(np.mean([unit(raw[c]) for c in combo], 0)), text, groups)
            rate[f"linear mean {name}"] = own_vs_other(unit(np.mean([raw[c] for c in combo], 0)), text, groups)
        out[str(seed)] = {"seconds": round(time.time() - t0), "own_vs_other": rate}
        rows += [[seed, k, f"{100 * v:.1f}%"] for k, v in rate.items()]
    print(table(rows, ["fold seed", "maps", "own prompt nearer than another"]))
    write_json("projection_members.json", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
