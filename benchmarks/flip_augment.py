"""Do mirrored copies of the training images help the heads? Each training part gets every image twice (as it
is and mirrored left-right, one group, so inner folds keep the pair together); the test part is scored as it
is, or as the mean over the image and its mirror (test-time flip: a second encoder pass per image). Each copy
weighs 0.5, so an image counts once against the same penalty; ridge heads take the penalty leave-one-out CV
and softmax heads the C that inner folds choose on the originals (a mirrored near copy would make
leave-one-out choose too little). Grouped 5-fold CV with the shipped heads' recipes where they are plain
(emotion heads, sentiment from Emotion6 alone) and ridge indicators for quality and aesthetics, under fold
seed 1 (the selection split: decisions are taken there) and seed 0 (the reported split).

    python -m benchmarks.flip_augment [--seeds 1 0] [--tasks "emotion6 valence" livec]
"""
from __future__ import annotations

import argparse
from typing import Callable

import numpy as np

from benchmarks.common import table, write_json
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.scores import EMOTIONS
from iqa_core.training import datasets
from iqa_core.training.affect import SCALE_SAM, SENTIMENT, SENTIMENT_C, sentiment_labels
from iqa_core.training.featurize import IMAGE_INPUTS, POWER_SEMANTIC, POWER_TECHNICAL, featurize
from iqa_core.training.fit import fit_distribution, fit_ridge, folds, srcc, top1_kl

CONDITIONS = ("plain", "test flip", "train flip", "train + test flip")


def mirrored(x, xf, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The images and their mirrors as one training set, each copy at weight 0.5."""
    return np.concatenate([x, xf]), np.concatenate([y, y]), np.full(2 * len(y), 0.5, np.float32)


def ridge(prior, **out):
    def fit(x, y, xf, g):
        """(plain head, head on the images and their mirrors at the plain head's penalty)"""
        head = fit_ridge(x, y, "", [], prior, **out)
        xm, ym, w = mirrored(x, xf, y)
        return head, fit_ridge(xm, ym, "", [], prior, w, alphas=[head.info["alpha"]], **out)
    return fit


def softmax(prior, classes, c=None):
    def fit(x, p, xf, g):
        head = fit_distribution(x, p, "", [], classes, g, c=c, prior=prior)
        xm, pm, w = mirrored(x, xf, p)
        return head, fit_distribution(xm, pm, "", [], classes, c=head.info["C"], prior=prior, sample_weight=w)
    return fit


def evaluate(fit, x, xf, y, groups, seed, score) -> dict[str, float]:
    preds = {c: np.zeros(y.shape, np.float32) for c in CONDITIONS}
    for tr, te in folds(groups, seed=seed):
        for head, names in zip(fit(x[tr], y[tr], xf[tr], groups[tr]), (CONDITIONS[:2], CONDITIONS[2:])):
            p, pf = head.predict(x[te]), head.predict(xf[te])
            preds[names[0]][te], preds[names[1]][te] = p, (p + pf) / 2
    return {c: score(preds[c], y) for c in CONDITIONS}


def tasks(enc: LiteEncoder) -> list[tuple[str, tuple, Callable, Callable]]:
    out = []
    em, emf = (featurize("emotion6", enc, datasets.DEFAULT_ROOT, view=v) for v in (None, "flip"))
    sem = em.prior(IMAGE_INPUTS, POWER_SEMANTIC)
    data = (em.x(IMAGE_INPUTS), emf.x(IMAGE_INPUTS), em.groups)
    for key in ("valence", "arousal"):
        out.append((f"emotion6 {key}", data + (em.y(key),), ridge(sem, **SCALE_SAM), srcc))
    dist = np.stack([s.emotions for s in em.samples])
    out.append(("emotion6 emotion top-1", data + (dist,), softmax(sem, list(EMOTIONS)),
                lambda p, y: top1_kl(p, y)["top1"]))
    out.append(("emotion6 sentiment", data + (sentiment_labels(em)[0],), softmax(sem, SENTIMENT, SENTIMENT_C),
                lambda p, y: top1_kl(p, y)["top1"]))
    for name, key in (("livec", "quality"), ("agiqa3k", "quality"), ("para", "aesthetics")):
        d, df = (featurize(name, enc, datasets.DEFAULT_ROOT, view=v) for v in (None, "flip"))
        out.append((f"{name} {key} (ridge)", (d.x(IMAGE_INPUTS), df.x(IMAGE_INPUTS), d.groups, d.y(key)),
                    ridge(d.prior(IMAGE_INPUTS, POWER_TECHNICAL)), srcc))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 0])
    ap.add_argument("--tasks", nargs="*", default=None, help="only the tasks whose name starts with one of these")
    ap.add_argument("--out", default="flip_augment.json")
    args = ap.parse_args(argv)
    results, rows = {}, []
    for name, (x, xf, groups, y), fit, score in tasks(LiteEncoder()):
        if args.tasks and not name.startswith(tuple(args.tasks)):
            continue
        for seed in args.seeds:
            r = evaluate(fit, x, xf, y, groups, seed, score)
            results[f"{name} / seed {seed}"] = {c: round(float(v), 4) for c, v in r.items()}
            rows.append([f"{name} / seed {seed}", *(float(r[c]) for c in CONDITIONS)])
            print(table(rows[-1:], ["task / fold seed", *CONDITIONS]), flush=True)
    print(table(rows, ["task / fold seed", *CONDITIONS],
                "Mirrored copies: grouped 5-fold CV (SRCC; top-1 accuracy for distributions)"))
    print("wrote", write_json(args.out, {"seeds": args.seeds, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
