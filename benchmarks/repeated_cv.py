"""Repeated grouped CV with fresh fold seeds: how much of each reported figure is the one fold split.

The training report's CV figures come from one split (training.fit.SEED). This reruns each recipe of
training.train (the same functions, features from the training cache; inner selection folds unchanged) with
the outer grouped 5-fold split drawn from other seeds, and prints per head and metric the shipped split's
figure (from training_report.json) beside the mean, standard deviation and range over the fresh seeds. Seeds
an earlier run of the same --out file holds and this run does not redo are kept (their figures per seed).

    python -m benchmarks.repeated_cv --seeds 1 2 3 --heads alignment affect aesthetics
    python -m benchmarks.repeated_cv --seeds 1 --heads quality --out repeated_cv_quality.json  # ~30 min a seed
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

try:
    from benchmarks.common import SHIPPED_PARA_TRAIN, read_json, table, write_json
except ImportError:  # run as a script
    from common import SHIPPED_PARA_TRAIN, read_json, table, write_json

from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.training import datasets
from iqa_core.training.aesthetics import train_para
from iqa_core.training.affect import train_emotion
from iqa_core.training.alignment import SHIP_GATE, train_alignment
from iqa_core.training.common_scale import train_common
from iqa_core.training.distortions import distorted_features
from iqa_core.training.featurize import featurize
from iqa_core.training.fit import SEED
from iqa_core.training.quality import train_only_sets
from iqa_core.training.train import DEV_SETS, REPORT_FILE

METRICS = ("srcc", "plcc", "top1", "kl", "accuracy", "clean_above_copy", "agiqa3k", "livec", "para",
           "good_photo_above_damaged_ai", "good_ai_above_damaged_photo")
RECIPES = {  # name -> (data, seed) -> reports
    "quality": lambda d, seed: train_common(d["sets"] | d["quality_train_only"], d["distorted"], seed)[1],
    "alignment": lambda d, seed: train_alignment(d["sets"]["agiqa3k"], d["names"], SHIP_GATE, seed)[1],
    "aesthetics": lambda d, seed: train_para(d["sets"]["para"], d["para_train"], seed)[1],
    "affect": lambda d, seed: train_emotion(d["sets"]["emotion6"], d["para_train"], seed)[1],
}


def _figures(report: dict) -> dict[str, float]:
    cv = dict(report["cv"])
    for kind in ("random", "hard"):
        if f"own_vs_{kind}" in report:
            cv[f"own_beats_{kind}"] = report[f"own_vs_{kind}"]["own_wins"]
    return {k: float(v) for k, v in cv.items() if (k in METRICS or k.startswith("own_beats"))
            and isinstance(v, (int, float))}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--heads", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--out", default="repeated_cv.json", help="file name under benchmarks/results/")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    encoder = LiteEncoder()
    sets = {n: featurize(n, encoder, datasets.DEFAULT_ROOT, None) for n in DEV_SETS}
    data = {"sets": sets, "names": encoder.name_embeddings,
            "para_train": featurize("para_train", encoder, datasets.DEFAULT_ROOT, SHIPPED_PARA_TRAIN),
            "distorted": distorted_features(sets, encoder, None) if "quality" in args.heads else None,
            "quality_train_only": train_only_sets(encoder, datasets.DEFAULT_ROOT) if "quality" in args.heads else None}
    figures: dict[tuple[str, str, str], dict[int, float]] = {}
    for r in json.loads(REPORT_FILE.read_text())["reports"]:  # the shipped split, as trained
        for metric, v in _figures(r).items():
            figures.setdefault((r["head"], r["data"], metric), {})[SEED] = v
    last, kept = read_json(args.out), set()  # an earlier run's seeds that this run does not redo are kept
    for r in last.get("rows", []):  # (a file without figures per seed gives them only for a single seed)
        earlier = r.get("by_seed") or ({str(last["seeds"][0]): r["mean"]} if len(last["seeds"]) == 1 else {})
        for seed, v in earlier.items():
            if int(seed) not in args.seeds:
                figures.setdefault((r["head"], r["data"], r["metric"]), {})[int(seed)] = v
                kept.add(int(seed))
    seeds = sorted(set(args.seeds) | kept)
    seconds = {k: v for k, v in last.get("seconds", {}).items() if int(k.rsplit(" ", 1)[1]) not in args.seeds}
    for head in args.heads:
        for seed in args.seeds:
            t = time.perf_counter()
            for r in RECIPES[head](data, seed):
                for metric, v in _figures(r).items():
                    figures.setdefault((r["head"], r["data"], metric), {})[seed] = v
            seconds[f"{head} seed {seed}"] = round(time.perf_counter() - t, 1)
            print(f"{head} seed {seed}: {seconds[f'{head} seed {seed}']} s", flush=True)
    rows, out = [], []
    for (head, data_name, metric), by_seed in figures.items():
        fresh = np.array([by_seed[s] for s in seeds if s in by_seed])
        if fresh.size == 0:
            continue
        rows.append([head, data_name, metric, by_seed.get(SEED, float("nan")), float(fresh.mean()),
                     float(fresh.std(ddof=1)) if fresh.size > 1 else 0.0, float(fresh.min()), float(fresh.max())])
        out.append(dict(zip(("head", "data", "metric", "shipped_split", "mean", "sd", "min", "max"), rows[-1]))
                   | {"by_seed": {str(s): by_seed[s] for s in seeds if s in by_seed}})
    print(table(rows, ["head", "data", "metric", f"seed {SEED}", "fresh mean", "sd", "min", "max"],
                title=f"grouped 5-fold CV, shipped split (seed {SEED}) and fresh seeds {seeds}"))
    result = {"seeds": seeds, "shipped_seed": SEED, "rows": out, "seconds": seconds,
              "total_seconds": round(time.perf_counter() - t0, 1)}
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
