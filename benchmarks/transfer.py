"""Leave-one-dataset-out: train without set X, test on X — how the scores meet images from elsewhere.

`python -m benchmarks.transfer` (features from the training cache; run `python -m iqa_core.training.train`
first). Rows:
- quality on AGIQA-3K, LIVE-C and PARA's quality votes, each from a head trained on the other two sets:
  the per-dataset-scale recipe (training.quality, before) and the shipped common-scale recipe
  (training.common_scale, with the other sets' distorted copies); with one domain left, its expert alone;
- aesthetics on para-dev from a head trained on para-train alone (the shipped recipe);
- sentiment on Emotion6 from PARA's train-split votes alone, on para-dev's votes from Emotion6 alone, and on
  para-dev from both (the shipped recipe; para-dev is never used for sentiment);
- alignment: how often an image's own prompt beats a random and a hard other prompt, with and without the
  mismatched pairs in training (grouped 5-fold CV on AGIQA-3K).
Prints the table and writes benchmarks/results/transfer.json.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import SHIPPED_PARA_TRAIN, read_json, table, write_json
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.training import datasets
from iqa_core.training.aesthetics import fit_aesthetics
from iqa_core.training.affect import fit_sentiment, sentiment_accuracy
from iqa_core.training.alignment import train_alignment
from iqa_core.training.common_scale import (
    SYNTH_ROW_WEIGHT,
    QualityData,
    common_targets,
    fit_common,
    fit_ranker,
    quality_data,
)
from iqa_core.training.distortions import distorted_features
from iqa_core.training.featurize import IMAGE_INPUTS, POWER_SEMANTIC, POWER_TECHNICAL, Featurized, featurize, zscore
from iqa_core.training.fit import correlations, fit_ridge
from iqa_core.training.quality import (
    EXPERT_WEIGHTS,
    QUALITY_OUT,
    QUALITY_SETS,
    SCORED_SETS,
    TRAIN_ONLY,
    fit_gated,
    train_only_sets,
)


def quality_without(data: dict[str, Featurized], held: str) -> dict:
    """The per-dataset-scale recipe (before) on every scored set but `held`, scored on `held`."""
    train = [n for n in SCORED_SETS if n != held]
    x = np.concatenate([data[n].x(["image"]) for n in train])
    y = np.concatenate([zscore(data[n].y(QUALITY_SETS[n][0])) for n in train])
    groups = np.concatenate([[f"{n}:{g}" for g in data[n].groups] for n in train])
    prior = data[held].prior(["image"], POWER_TECHNICAL)
    domains = {QUALITY_SETS[n][1] for n in train}
    if len(domains) == 2:
        head = fit_gated(x, y, groups, prior)
    else:  # no AI images left: the photo expert alone (a gate needs both domains)
        weights = EXPERT_WEIGHTS[domains.pop()]
        sw = np.array([weights[g.split(":", 1)[0]] for g in groups], np.float32)
        head = fit_ridge(x, y, "quality", ["image"], prior, sw, **QUALITY_OUT)
    key = QUALITY_SETS[held][0]
    return {"task": "quality", "test": held, "trained_on": " + ".join(train),
            **correlations(head.predict(data[held].x(["image"])), data[held].y(key))}


def common_without(qd: QualityData, data: dict[str, Featurized], held: str) -> dict:
    """The shipped recipe (training.common_scale) on every set but `held` (and the TRAIN_ONLY sets of its study)
    and its distorted copies, scored on `held` ("pred": the scores); with no AI images left, the photo expert
    alone on the common targets."""
    left = {held} | {n for n, (study, _) in TRAIN_ONLY.items() if study == held}
    train = [n for n in QUALITY_SETS if n not in left and n in qd.sets]
    rows = qd.with_copies(np.flatnonzero(np.isin(qd.sets[:qd.n_rated], train)))
    prior = data[held].prior(["image"], POWER_TECHNICAL)
    domains = {QUALITY_SETS[n][1] for n in train}
    if len(domains) == 2:
        head, _ = fit_common(qd, rows, prior)
    else:
        targets = common_targets(qd, rows, fit_ranker(qd, rows, prior))
        weights = EXPERT_WEIGHTS[domains.pop()]
        sw = np.array([weights[n] for n in qd.sets[rows]], np.float32)
        sw *= np.where(rows < qd.n_rated, 1.0, SYNTH_ROW_WEIGHT).astype(np.float32)
        head = fit_ridge(qd.x[rows], targets, "quality", ["image"], prior, sw, **QUALITY_OUT)
    pred = head.predict(qd.x[np.flatnonzero(qd.sets[:qd.n_rated] == held)])
    return {"task": "quality (common scale)", "test": held,
            "trained_on": " + ".join(train) + " + copies",
            **correlations(pred, data[held].y(QUALITY_SETS[held][0])), "pred": pred}


def aesthetics_transfer(pa: Featurized, pt: Featurized) -> dict:
    head = fit_aesthetics(pt, pa.prior(IMAGE_INPUTS, POWER_TECHNICAL))
    return {"task": "aesthetics", "test": "para-dev", "trained_on": f"para-train ({len(pt.samples)})",
            **correlations(head.predict(pa.x(IMAGE_INPUTS)), pa.y("aesthetics"))}


def sentiment_transfer(em: Featurized, pa: Featurized, pt: Featurized) -> list[dict]:
    prior = em.prior(IMAGE_INPUTS, POWER_SEMANTIC)
    rows = []
    for train, test, name in (([pt], em, "emotion6"), ([em], pa, "para-dev votes"), ([em, pt], pa, "para-dev votes"),
                              ([em, pt], em, "emotion6 (in-sample)")):
        acc = sentiment_accuracy(fit_sentiment(train, prior), test)
        rows.append({"task": "sentiment", "test": name, "trained_on": " + ".join(
            "para-train votes" if d is pt else "emotion6" for d in train), **acc})
    return rows


def alignment_contrast(ag: Featurized, name_emb: np.ndarray) -> list[dict]:
    rows = []
    for negatives in (False, True):
        _, (rep,) = train_alignment(ag, name_emb, negatives=negatives)
        rows.append({"task": "alignment", "test": "agiqa3k (5-fold CV)",
                     "trained_on": "agiqa3k" + (" + mismatched prompts" if negatives else ""), **rep["cv"],
                     **{f"{k}_{m}": v for k in ("own_vs_random", "own_vs_hard") for m, v in rep[k].items()}})
    return rows


TASKS = ("quality", "aesthetics", "sentiment", "alignment")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--para-train", type=int, default=SHIPPED_PARA_TRAIN,
                    help="first N images of para-train (default: as many as the shipped heads trained on)")
    ap.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS),
                    help="rerun only these tasks' rows; the others are kept from the last transfer.json")
    args = ap.parse_args(argv)
    t0 = time.time()
    encoder = LiteEncoder()
    root = datasets.DEFAULT_ROOT
    data = {n: featurize(n, encoder, root) for n in ("agiqa3k", "livec", "para", "emotion6")}
    pt = featurize("para_train", encoder, root, args.para_train) if {"aesthetics", "sentiment"} & set(args.tasks) \
        else None
    rows = []
    if "quality" in args.tasks:
        rows += [quality_without(data, held) for held in SCORED_SETS]
        qd = quality_data(data | train_only_sets(encoder, root), distorted_features(data, encoder))
        rows += [{k: v for k, v in common_without(qd, data, held).items() if k != "pred"} for held in SCORED_SETS]
    if "aesthetics" in args.tasks:
        rows.append(aesthetics_transfer(data["para"], pt))
    if "sentiment" in args.tasks:
        rows += sentiment_transfer(data["emotion6"], data["para"], pt)
    if "alignment" in args.tasks:
        rows += alignment_contrast(data["agiqa3k"], encoder.name_embeddings)
    seconds = {" + ".join(args.tasks): round(time.time() - t0, 1)}  # this run's time, for the tasks it ran
    if set(args.tasks) != set(TASKS):  # keep the other tasks' rows (and their run's time) from the last run
        last = read_json("transfer.json")
        kept = [r for r in last["rows"] if r["task"].split(" ")[0] not in args.tasks]
        rows = sorted(kept + rows, key=lambda r: TASKS.index(r["task"].split(" ")[0]))
        earlier = last["seconds"] if isinstance(last["seconds"], dict) else {" + ".join(TASKS): last["seconds"]}
        seconds = {k: v for k, v in earlier.items() if set(k.split(" + ")) - set(args.tasks)} | seconds
    fmt = lambda r: " ".join(f"{k} {v}" for k, v in r.items() if k not in ("task", "test", "trained_on"))  # noqa: E731
    print(table([[r["task"], r["test"], r["trained_on"], fmt(r)] for r in rows],
                ["task", "tested on", "trained on", "figures"], "Leave one dataset out"))
    path = write_json("transfer.json", {"seconds": seconds, "rows": rows})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
