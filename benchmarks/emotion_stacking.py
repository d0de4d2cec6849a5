"""Does an emotion head learnt on everyday photos help Emotion6's heads? A softmax over para-train's 8-way
emotion votes (amusement, awe, contentment, disgust, excitement, fear, neutral, sadness; it never sees an
Emotion6 label) gives every image 8 log-probabilities; Emotion6's emotion, valence and arousal heads then
read them beside the image features (at the features' prior weight, or 5x less penalised), or alone.
Grouped 5-fold CV on Emotion6, the shipped folds and recipe (training/affect.py).

    python -m benchmarks.emotion_stacking [--para-train 2000] [--c 0.001]
"""
from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import table, write_json
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.scores import EMOTIONS
from iqa_core.training import datasets
from iqa_core.training.affect import SCALE_SAM
from iqa_core.training.featurize import IMAGE_INPUTS, POWER_SEMANTIC, featurize
from iqa_core.training.fit import cross_val_predict, fit_distribution, fit_ridge, srcc, top1_kl

PARA_EMOTIONS = ("amusement", "awe", "contentment", "disgust", "excitement", "fear", "neutral", "sadness")


def para_votes(pt) -> tuple[np.ndarray, np.ndarray]:
    """Rows of para-train with votes, and their 8-way vote shares."""
    by_name = {r["image"]: r for r in datasets._rows(datasets.DEFAULT_ROOT, "para-train")}
    votes = np.array([[float(by_name[s.path.name][f"imgEmotion_{e}"]) for e in PARA_EMOTIONS] for s in pt.samples],
                     np.float32)
    rows = np.flatnonzero(votes.sum(1) > 0)
    return rows, votes[rows] / votes[rows].sum(1, keepdims=True)


def emotion6_cv(x: np.ndarray, prior: np.ndarray, em) -> dict:
    dist = np.stack([s.emotions for s in em.samples])
    fit = lambda a, b, g: fit_distribution(a, b, "emotions", IMAGE_INPUTS, list(EMOTIONS), g, prior=prior)  # noqa: E731
    out = top1_kl(cross_val_predict(fit, x, dist, em.groups, grouped=True).pred, dist)
    for key in ("valence", "arousal"):
        reg = lambda a, b, key=key: fit_ridge(a, b, key, IMAGE_INPUTS, prior, **SCALE_SAM)  # noqa: E731
        out[key] = round(srcc(cross_val_predict(reg, x, em.y(key), em.groups).pred, em.y(key)), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--para-train", type=int, default=2000, help="first N para-train photos (whole sessions)")
    ap.add_argument("--c", type=float, default=0.001, help="the 8-way head's inverse regularisation (a priori)")
    ap.add_argument("--out", default="emotion_stacking.json")
    args = ap.parse_args(argv)
    enc = LiteEncoder()
    em = featurize("emotion6", enc, datasets.DEFAULT_ROOT)
    pt = featurize("para_train", enc, datasets.DEFAULT_ROOT, args.para_train)
    prior = em.prior(IMAGE_INPUTS, POWER_SEMANTIC)
    rows, shares = para_votes(pt)
    head8 = fit_distribution(pt.x(IMAGE_INPUTS)[rows], shares, "para_emotions", IMAGE_INPUTS, list(PARA_EMOTIONS),
                             c=args.c, prior=prior)
    x = em.x(IMAGE_INPUTS)
    logp = np.log(head8.predict(x) + 1e-6).astype(np.float32)
    ones = np.ones(logp.shape[1], np.float32)
    variants = {"image features (shipped)": (x, prior),
                "+ 8-way log-probabilities": (np.hstack([x, logp]), np.concatenate([prior, ones])),
                "+ 8-way, 5x less penalised": (np.hstack([x, logp]), np.concatenate([prior, ones / 5])),
                "8-way log-probabilities alone": (logp, ones)}
    results = {}
    for name, (xx, pr) in variants.items():
        results[name] = emotion6_cv(xx, pr, em)
        print(name, results[name], flush=True)
    print(table([[k, v["top1"], v["kl"], v["valence"], v["arousal"]] for k, v in results.items()],
                ["Emotion6 heads read", "top-1", "KL", "valence SRCC", "arousal SRCC"],
                f"Emotion6 grouped 5-fold CV; 8-way head on {len(rows)} para-train photos, C {args.c}"))
    write_json(args.out, {"para_train": int(len(rows)), "c": args.c, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
