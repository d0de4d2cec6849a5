"""Train the region detector (regions.Detector): `python -m iqa_core.training.train_regions`.

Each trial degrades one area of a dev image from the "train" half (iqa_core.training.degrade.split: the benchmark
uses the other half) with a random kind and strength, splits the image as the app does (features method),
and labels every region: the kind of damage if more than half of it lies in the degraded area, else clean.
A multinomial logistic regression learns the label from the region's statistics and early backbone
features (regions.detector_inputs); its C is chosen by 5-fold
cross-validation grouped by image, on the pointing rate the benchmark measures (the region with the lowest
head score x P(clean) lies at the degraded area). Per-trial statistics are cached under ./cache.
Writes iqa_core/weights/regions.safetensors and regions_report.json beside it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time

import numpy as np
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from tqdm import tqdm

from iqa_core.analysis import regions
from iqa_core.analysis.regions.detector import DETECTOR_FILE
from iqa_core.inputs.load import load_image
from iqa_core.model.heads import heads_files
from iqa_core.training import datasets, degrade

REPORT_FILE = DETECTOR_FILE.parent / "regions_report.json"
CS = (0.01, 0.03, 0.1, 0.3)


def region_facts(segs: list[regions.Segment], area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per region: the share of it inside the degraded area, and whether its point (Region.centre) is."""
    h, w = area.shape
    inside, point = [], []
    for s in segs:
        big = np.asarray(Image.fromarray(s.mask.astype(np.uint8) * 255).resize((w, h), Image.NEAREST)) > 0
        inside.append((big & area).sum() / max(big.sum(), 1))
        x, y = regions.centre_point(s.mask)
        point.append(bool(area[min(int(y * h), h - 1), min(int(x * w), w - 1)]))
    return np.array(inside), np.array(point)


def collect(n: int, seed: int) -> dict[str, np.ndarray]:
    """Statistics of every region of n trials (flat arrays, `trial` says which trial a row belongs to)."""
    from iqa_core.pipeline import Assessor

    # The rows hold encoder features and quality-head scores: new heads (or a new encoder) mean new rows.
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in heads_files())).hexdigest()[:10]
    cache = datasets.cache_dir() / f"regions-train-{n}-{seed}-{digest}.npz"
    if cache.exists():
        return dict(np.load(cache))

    assessor = Assessor()
    quality = assessor.heads["quality"].predict
    rng = np.random.default_rng(seed)
    rows = {k: [] for k in ("inputs", "label", "point", "head", "trial", "group")}
    for i, sample in enumerate(tqdm(degrade.images(n, seed, "train"), desc="region trials")):
        kind = degrade.DEGRADATIONS[i % 4]
        trial = degrade.make_trial(load_image(sample.path).image, kind, degrade.AREAS[(i // 4) % 2], rng,
                                   degrade.random_strength(kind, rng))
        fm = assessor.forward([assessor.preprocess(trial.image, name=sample.path.name)])[0].maps
        ev = regions.Evidence(trial.image)
        segs = regions.feature_segments(fm, ev)
        head = regions.head_scores(segs, fm, quality)
        inside, point = region_facts(segs, trial.area)
        rows["inputs"].append(regions.detector_inputs(ev.severity(regions.label_map(segs)), head, segs, fm))
        rows["label"].append(np.where(inside > 0.5, 1 + degrade.DEGRADATIONS.index(kind), 0))
        rows["point"].append(point)
        rows["head"].append(head)
        rows["trial"].append(np.full(len(segs), i))
        rows["group"].append(np.full(len(segs), sample.path.name))
    data = {k: np.concatenate(v) for k, v in rows.items()}
    np.savez(cache, **data)
    return data


def fit(x: np.ndarray, label: np.ndarray, c: float) -> regions.Detector:
    mu, sd = x.mean(0), x.std(0) + 1e-6
    m = LogisticRegression(C=c, max_iter=5000).fit((x - mu) / sd, label)
    if list(m.classes_) != list(range(len(regions.ISSUES) + 1)):
        raise ValueError(f"training trials lack some classes: {m.classes_}")
    weight = m.coef_ / sd
    return regions.Detector(weight, m.intercept_ - weight @ mu)


def pointing(det: regions.Detector, data: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, float]:
    """Share of trials whose lowest-scored region's point lies in the degraded area, overall and per kind."""
    score = data["head"][rows] * det.proba(data["inputs"][rows])[:, 0]
    trial, point = data["trial"][rows], data["point"][rows]
    hits = {}
    for t in np.unique(trial):
        sel = trial == t
        hits[int(t)] = bool(point[sel][np.argmin(score[sel])])
    out = {"all": round(float(np.mean(list(hits.values()))), 4)}
    for k, kind in enumerate(degrade.DEGRADATIONS):
        ks = [h for t, h in hits.items() if t % 4 == k]
        out[kind] = round(float(np.mean(ks)), 4) if ks else None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.time()
    data = collect(args.trials, args.seed)
    folds = list(GroupKFold(5).split(data["inputs"], groups=data["group"]))
    cv = {}
    for c in CS:
        hits = []
        for tr, te in folds:
            det = fit(data["inputs"][tr], data["label"][tr], c)
            hits.append(pointing(det, data, te)["all"] * len(np.unique(data["trial"][te])))
        cv[c] = sum(hits) / len(np.unique(data["trial"]))
        print(f"C={c}: CV pointing {cv[c]:.3f}", flush=True)
    best = max(CS, key=lambda c: (cv[c], -c))
    det = fit(data["inputs"], data["label"], best)
    det.save()
    everything = np.arange(len(data["label"]))
    report = {"trials": args.trials, "seed": args.seed, "regions": int(len(data["label"])), "C": best,
              "cv_pointing_by_C": {str(c): round(v, 4) for c, v in cv.items()},
              "train_pointing": pointing(det, data, everything), "seconds": round(time.time() - t0, 1)}
    REPORT_FILE.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
