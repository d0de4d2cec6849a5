"""Train the shipped heads on the dev splits in ../shared/data: `python -m iqa_core.train`.

Features are computed with the same loader and encoder as the app (so shipped weights reproduce the
training-time scores), cached under ./cache, and every head is reported with train and 5-fold grouped CV
figures side by side. Writes iqa_core/weights/heads.safetensors and iqa_core/weights/training_report.json.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import datasets, features
from .encoders.registry import CONCEPTS_FILE, LiteEncoder
from .fit import correlations, cross_val_predict, fit_distribution, fit_expected, fit_ridge, kl_divergence
from .heads import HEADS_FILE, LinearHead, MeanHead, save_heads
from .load import load_image
from .scores import EMOTIONS

CACHE = Path("cache")
REPORT_FILE = HEADS_FILE.parent / "training_report.json"
IMAGE_INPUTS = ["image", "concept"]
ALIGN_INPUTS = ["image", "concept", "text", "match", "text_stats"]
PARA_HEADS = {"aesthetics": "aesthetics", "attr_composition": "composition", "attr_colour": "colour",
              "attr_focus_detail": "focus_detail", "attr_lighting": "lighting", "attr_subject": "subject"}
SCALE_1_5 = {"out_a": 25.0, "out_c": -25.0, "clip": (0.0, 100.0)}  # 1-5 -> 0-100
SCALE_SAM = {"clip": (1.0, 9.0)}


@dataclass
class Featurized:
    samples: list[datasets.Sample]
    blocks: dict[str, np.ndarray]  # name -> (n, d)
    concepts: np.ndarray

    def x(self, names: list[str]) -> np.ndarray:
        return np.concatenate([self.blocks[n] for n in names], axis=1)

    def y(self, key: str) -> np.ndarray:
        return np.array([s.targets[key] for s in self.samples], np.float32)

    @property
    def groups(self) -> np.ndarray:
        return np.array([s.group for s in self.samples])


def featurize(name: str, encoder: LiteEncoder, root: Path, limit: int | None = None,
              batch: int = 8) -> Featurized:
    samples = datasets.load(name, root)[:limit]
    cache = CACHE / f"{name}-{encoder.image.variant}-{len(samples)}.npz"
    if cache.exists():
        data = np.load(cache)
        blocks, concepts = {"image": data["image"]}, data["concepts"]
    else:
        images, concepts = [], []
        for i in tqdm(range(0, len(samples), batch), desc=f"features {name}", unit="batch"):
            fms = encoder.encode_images([load_image(s.path).image for s in samples[i:i + batch]])
            images += [features.pool_maps(f.maps) for f in fms]
            concepts += [f.concepts for f in fms]
        blocks, concepts = {"image": np.stack(images)}, np.stack(concepts)
        CACHE.mkdir(exist_ok=True)
        np.savez(cache, image=blocks["image"], concepts=concepts)
    names = encoder.name_embeddings
    blocks["concept"] = np.stack([features.concept_vector(c, names) for c in concepts])
    if samples[0].prompt is not None:
        emb = encoder.text.embed([s.prompt for s in samples])
        per = [features.text_blocks(e, c, names) for e, c in zip(emb, concepts)]
        for key in per[0]:
            blocks[key] = np.stack([p[key] for p in per])
    return Featurized(samples, blocks, concepts)


def _report(name: str, data: str, cv, y: np.ndarray, fn=correlations) -> dict:
    return {"head": name, "data": data, "n": int(len(y)), "train": fn(cv.train_pred, y), "cv": fn(cv.pred, y)}


def _zscore(y: np.ndarray) -> np.ndarray:
    return (y - y.mean()) / y.std()


def train_quality(ag: Featurized, lc: Featurized, alone: bool = True) -> tuple[MeanHead, list[dict]]:
    """One head for AI images and photos: targets z-scored per dataset (their MOS scales differ).
    alone: also report each dataset's CV figures with the head trained on that dataset alone."""
    fit = ridge_and_iovqa("quality", ["image"], out_a=15.0, out_c=50.0, clip=(0.0, 100.0))
    reports = []
    for d, nm in ((ag, "agiqa3k"), (lc, "livec")) if alone else ():
        cv = cross_val_predict(fit, d.x(["image"]), _zscore(d.y("quality")), d.groups, grouped=True)
        reports.append(_report("quality (alone)", nm, cv, d.y("quality")))
    x = np.concatenate([ag.x(["image"]), lc.x(["image"])])
    y = np.concatenate([_zscore(ag.y("quality")), _zscore(lc.y("quality"))])
    groups = np.concatenate([["ag:" + g for g in ag.groups], ["lc:" + g for g in lc.groups]])
    cv = cross_val_predict(fit, x, y, groups, grouped=True)
    n = len(ag.samples)
    reports.append(_report("quality (joint)", "agiqa3k", _slice(cv, slice(0, n)), ag.y("quality")))
    reports.append(_report("quality (joint)", "livec", _slice(cv, slice(n, None)), lc.y("quality")))
    return fit(x, y, groups), reports


def _slice(cv, sl):
    return type(cv)(pred=cv.pred[sl], train_pred=cv.train_pred[sl])


def _kl_top1(pred: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {"top1": round(float((pred.argmax(1) == p.argmax(1)).mean()), 4), "kl": round(kl_divergence(pred, p), 4)}


def train_emotion(em: Featurized) -> tuple[dict[str, LinearHead], list[dict]]:
    x, groups, heads, reports = em.x(IMAGE_INPUTS), em.groups, {}, []
    for key in ("valence", "arousal"):
        fit = lambda a, b, key=key: fit_ridge(a, b, key, IMAGE_INPUTS, **SCALE_SAM)  # noqa: E731
        reports.append(_report(key, "emotion6", cross_val_predict(fit, x, em.y(key), groups), em.y(key)))
        heads[key] = fit(x, em.y(key))
    dist = np.stack([s.emotions for s in em.samples])
    fit = lambda a, b, g: fit_distribution(a, b, "emotions", IMAGE_INPUTS, list(EMOTIONS), g)  # noqa: E731
    cv = cross_val_predict(fit, x, dist, groups, grouped=True)
    reports.append(_report("emotions", "emotion6", cv, dist, _kl_top1))
    heads["emotions"] = fit(x, dist, groups)
    pos = (em.y("valence") > 5).astype(np.float32)
    onehot = np.stack([1 - pos, pos], 1)
    fit = lambda a, b, g: fit_distribution(a, b, "sentiment", IMAGE_INPUTS, ["negative", "positive"], g)  # noqa: E731
    cv = cross_val_predict(fit, x, onehot, groups, grouped=True)
    reports.append(_report("sentiment", "emotion6", cv, onehot, _kl_top1))
    heads["sentiment"] = fit(x, onehot, groups)
    return heads, reports


def ridge_and_iovqa(name: str, inputs: list[str], **out):
    """fit(x, y, groups) -> the mean of a ridge head and an IOVQA head (which picks its weight decay on
    inner folds of the groups). In CV the pair beats either alone on AGIQA-3K quality and PARA aesthetics;
    see benchmarks/accuracy.py."""
    return lambda x, y, groups: MeanHead(name, [fit_ridge(x, y, name, inputs, **out),
                                                fit_expected(x, y, name, inputs, groups, **out)])


def train_para(pa: Featurized) -> tuple[dict[str, LinearHead | MeanHead], list[dict]]:
    heads, reports, x = {}, [], pa.x(IMAGE_INPUTS)
    for head, key in PARA_HEADS.items():
        y = pa.y(key)
        fit = (ridge_and_iovqa(head, IMAGE_INPUTS, **SCALE_1_5) if head == "aesthetics" else
               lambda a, b, _, head=head: fit_ridge(a, b, head, IMAGE_INPUTS, **SCALE_1_5))
        reports.append(_report(head, "para", cross_val_predict(fit, x, y, pa.groups, grouped=True), y))
        heads[head] = fit(x, y, pa.groups)
    return heads, reports


def train_alignment(ag: Featurized) -> tuple[LinearHead, list[dict]]:
    fit = lambda a, b: fit_ridge(a, b, "alignment", ALIGN_INPUTS, out_a=20.0, clip=(0.0, 100.0))  # noqa: E731
    x, y = ag.x(ALIGN_INPUTS), ag.y("alignment")
    return fit(x, y), [_report("alignment", "agiqa3k", cross_val_predict(fit, x, y, ag.groups), y)]


def reference_scores(heads: dict[str, LinearHead], data: dict[str, Featurized], per_set: int = 2) -> list[dict]:
    """Training-time scores of a few images, so a test can check that the shipped weights reproduce them."""
    refs = []
    for name, d in data.items():
        for i in range(per_set):
            blocks = {k: v[i] for k, v in d.blocks.items()}
            refs.append({"dataset": name, "image": d.samples[i].path.name, **{
                h: round(float(heads[h].predict(features.stack(blocks, heads[h].inputs)[None])[0]), 4)
                for h in ("quality", "aesthetics", "valence")}})
    return refs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=datasets.DEFAULT_ROOT)
    ap.add_argument("--limit", type=int, default=None, help="use the first N images of each set (smoke runs)")
    ap.add_argument("--out", type=Path, default=HEADS_FILE)
    args = ap.parse_args(argv)
    t0 = time.time()
    encoder = LiteEncoder()
    if args.out == HEADS_FILE or not CONCEPTS_FILE.exists():
        encoder.write_name_embeddings()
    data = {n: featurize(n, encoder, args.data, args.limit) for n in ("agiqa3k", "livec", "para", "emotion6")}
    heads, reports = {}, []
    heads["quality"], rep = train_quality(data["agiqa3k"], data["livec"])
    reports += rep
    heads["alignment"], rep = train_alignment(data["agiqa3k"])
    reports += rep
    for part in (train_para(data["para"]), train_emotion(data["emotion6"])):
        heads.update(part[0])
        reports += part[1]
    q = heads["quality"]
    dist = [np.sqrt((((d.blocks["image"] - q.mean) / q.scale) ** 2).mean(1)) for d in data.values()]
    q.info["distance_quantiles"] = [float(v) for v in np.quantile(np.concatenate(dist), np.linspace(0, 1, 21))]
    for h in heads.values():
        h.info["cv"] = [r for r in reports if r["head"].split(" ")[0] == h.name]
    save_heads(heads, args.out)
    report = {"seconds": round(time.time() - t0, 1), "limit": args.limit, "reports": reports,
              "reference": reference_scores(heads, data)}
    args.out.with_name(REPORT_FILE.name).write_text(json.dumps(report, indent=1))
    for r in reports:
        print(f"{r['head']:<22} {r['data']:<9} n={r['n']:<5} train {r['train']}  cv {r['cv']}")
    print(f"wrote {args.out} in {report['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
