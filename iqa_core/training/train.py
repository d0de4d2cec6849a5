"""Train the shipped heads on the dev splits in ../shared/data: `python -m iqa_core.training.train`.

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

from iqa_core.training import datasets
from iqa_core.model import features
from iqa_core.model.encoders.lite import CONCEPTS_FILE, LiteEncoder
from .fit import (block_scale, correlations, cross_val_predict, fit_distribution, fit_expected, fit_ridge,
                  kl_divergence)
from iqa_core.model.heads import HEADS_FILE, GatedHead, Head, LinearHead, MeanHead, load_heads, save_heads
from iqa_core.inputs.load import load_image
from iqa_core.scores import EMOTIONS

CACHE = Path("cache")
REPORT_FILE = HEADS_FILE.parent / "training_report.json"
IMAGE_INPUTS = ["image", "concept"]
ALIGN_INPUTS = ["image", "concept", "text", "match", "text_stats"]
PARA_HEADS = {"aesthetics": "aesthetics", "attr_composition": "composition", "attr_colour": "colour",
              "attr_focus_detail": "focus_detail", "attr_lighting": "lighting", "attr_subject": "subject"}
SCALE_1_5 = {"out_a": 25.0, "out_c": -25.0, "clip": (0.0, 100.0)}  # 1-5 -> 0-100
SCALE_SAM = {"clip": (1.0, 9.0)}
# block_scale's power per head family: technical and aesthetic heads weigh every stage map alike (in CV:
# LIVE-C +0.03 SRCC, AGIQA-3K +0.01); the semantic emotion heads lose by it (valence -0.03) and keep plain z-scores.
POWER_TECHNICAL, POWER_SEMANTIC = 1.0, 0.0
# Quality: (target, domain) per dataset. PARA's quality votes add 1,000 photos to LIVE-C's 300 (LIVE-C CV
# 0.76 -> 0.80 SRCC); AGIQA-3K's ranking of the same features differs (adding it to the photo data costs
# LIVE-C 0.03), hence one expert per domain and a gate between them.
QUALITY_SETS = {"agiqa3k": ("quality", "ai"), "livec": ("quality", "photo"), "para": ("para_quality", "photo")}
DOMAINS = ("photo", "ai")
# Sample weight per dataset in each domain's expert; 0 leaves the dataset out. AI images in the photo expert
# cost LIVE-C 0.01 SRCC (CV) even at weight 0.1, and the gate rarely sends an AGIQA-3K image there.
EXPERT_WEIGHTS = {"ai": {"agiqa3k": 1.0, "livec": 0.2, "para": 0.1},
                  "photo": {"livec": 1.0, "para": 0.5, "agiqa3k": 0.0}}
# IOVQA's class head joins ridge in the AI expert only: on photos it loses to plain ridge (LIVE-C CV, trained
# alone: 0.74 against 0.76), and a ridge-only photo expert lifts LIVE-C from 0.77 to 0.80 in the joint head.
EXPERT_IOVQA = {"ai": True, "photo": False}
GATE_WEIGHTS = {"agiqa3k": 1.0, "livec": 2.0, "para": 0.5}  # about as much weight per domain
GATE_C = 1.0  # the domains separate easily; the softmax default C (0.001-0.01) leaves the gate undecided
EXPERT_DECAY = 0.03  # IOVQA decay, fixed for the experts (what inner folds chose for quality before) to bound time
QUALITY_OUT = {"out_a": 15.0, "out_c": 50.0, "clip": (0.0, 100.0)}  # z-scores -> 0-100


@dataclass
class Featurized:
    samples: list[datasets.Sample]
    blocks: dict[str, np.ndarray]  # name -> (n, d)
    concepts: np.ndarray
    image_dims: list[int]  # widths of the blocks inside "image" (see LiteImageEncoder.block_dims)

    def x(self, names: list[str]) -> np.ndarray:
        return np.concatenate([self.blocks[n] for n in names], axis=1)

    def prior(self, names: list[str], power: float) -> np.ndarray:
        dims = [d for n in names for d in (self.image_dims if n == "image" else [self.blocks[n].shape[1]])]
        return block_scale(dims, power)

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
    return Featurized(samples, blocks, concepts, encoder.image.block_dims)


def _report(name: str, data: str, cv, y: np.ndarray, fn=correlations) -> dict:
    return {"head": name, "data": data, "n": int(len(y)), "train": fn(cv.train_pred, y), "cv": fn(cv.pred, y)}


def _zscore(y: np.ndarray) -> np.ndarray:
    return (y - y.mean()) / y.std()


def train_quality(data: dict[str, Featurized], alone: bool = True) -> tuple[GatedHead, list[dict]]:
    """One head for AI images and photos (UniQA): targets z-scored per dataset (their MOS scales differ),
    an expert per domain and a gate (see QUALITY_SETS). alone: also report each dataset's CV figures with
    a head trained on that dataset alone."""
    prior = data["agiqa3k"].prior(["image"], POWER_TECHNICAL)
    reports = []
    for nm in ("agiqa3k", "livec") if alone else ():
        d, fit = data[nm], ridge_and_iovqa("quality", ["image"], prior, **QUALITY_OUT)
        cv = cross_val_predict(fit, d.x(["image"]), _zscore(d.y("quality")), d.groups, grouped=True)
        reports.append(_report("quality (alone)", nm, cv, d.y("quality")))
    x = np.concatenate([data[n].x(["image"]) for n in QUALITY_SETS])
    y = np.concatenate([_zscore(data[n].y(key)) for n, (key, _) in QUALITY_SETS.items()])
    groups = np.concatenate([[f"{n}:{g}" for g in data[n].groups] for n in QUALITY_SETS])
    fit = lambda a, b, g: fit_gated(a, b, g, prior)  # noqa: E731
    cv = cross_val_predict(fit, x, y, groups, grouped=True)
    start = 0
    for n, (key, _) in QUALITY_SETS.items():
        sl = slice(start, start + len(data[n].samples))
        reports.append(_report("quality (joint)", n if n != "para" else "para (quality votes)", _slice(cv, sl),
                               data[n].y(key)))
        start = sl.stop
    return fit(x, y, groups), reports


def fit_gated(x: np.ndarray, y: np.ndarray, groups: np.ndarray, prior: np.ndarray) -> GatedHead:
    """groups are "<dataset>:<group>", which says each row's dataset and so its domain and weights."""
    sets = np.array([g.split(":", 1)[0] for g in groups])
    experts = {}
    for domain, weights in EXPERT_WEIGHTS.items():
        sw = np.array([weights[n] for n in sets], np.float32)
        keep = sw > 0
        xd, yd, sw = x[keep], y[keep], sw[keep]
        ridge = fit_ridge(xd, yd, "quality", ["image"], prior, sw, **QUALITY_OUT)
        experts[domain] = ridge if not EXPERT_IOVQA[domain] else MeanHead("quality", [ridge, fit_expected(
            xd, yd, "quality", ["image"], None, EXPERT_DECAY, prior=prior, sample_weight=sw, **QUALITY_OUT)])
    onehot = np.array([[QUALITY_SETS[n][1] == d for d in DOMAINS] for n in sets], np.float32)
    gate = fit_distribution(x, onehot, "quality", ["image"], list(DOMAINS), c=GATE_C, prior=prior,
                            sample_weight=np.array([GATE_WEIGHTS[n] for n in sets], np.float32))
    return GatedHead("quality", gate, experts)


def _slice(cv, sl):
    return type(cv)(pred=cv.pred[sl], train_pred=cv.train_pred[sl])


def _kl_top1(pred: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {"top1": round(float((pred.argmax(1) == p.argmax(1)).mean()), 4), "kl": round(kl_divergence(pred, p), 4)}


def train_emotion(em: Featurized) -> tuple[dict[str, LinearHead], list[dict]]:
    x, groups, heads, reports = em.x(IMAGE_INPUTS), em.groups, {}, []
    prior = em.prior(IMAGE_INPUTS, POWER_SEMANTIC)
    for key in ("valence", "arousal"):
        fit = lambda a, b, key=key: fit_ridge(a, b, key, IMAGE_INPUTS, prior, **SCALE_SAM)  # noqa: E731
        reports.append(_report(key, "emotion6", cross_val_predict(fit, x, em.y(key), groups), em.y(key)))
        heads[key] = fit(x, em.y(key))
    dist = np.stack([s.emotions for s in em.samples])
    fit = lambda a, b, g: fit_distribution(a, b, "emotions", IMAGE_INPUTS, list(EMOTIONS), g, prior=prior)  # noqa: E731
    cv = cross_val_predict(fit, x, dist, groups, grouped=True)
    reports.append(_report("emotions", "emotion6", cv, dist, _kl_top1))
    heads["emotions"] = fit(x, dist, groups)
    pos = (em.y("valence") > 5).astype(np.float32)
    onehot = np.stack([1 - pos, pos], 1)
    fit = lambda a, b, g: fit_distribution(a, b, "sentiment", IMAGE_INPUTS, ["negative", "positive"], g,  # noqa: E731
                                           prior=prior)
    cv = cross_val_predict(fit, x, onehot, groups, grouped=True)
    reports.append(_report("sentiment", "emotion6", cv, onehot, _kl_top1))
    heads["sentiment"] = fit(x, onehot, groups)
    return heads, reports


def ridge_and_iovqa(name: str, inputs: list[str], prior: np.ndarray, **out):
    """fit(x, y, groups) -> the mean of a ridge head and an IOVQA head (which picks its weight decay on
    inner folds of the groups). In CV the pair beats either alone on AGIQA-3K quality and PARA aesthetics;
    see benchmarks/accuracy.py."""
    return lambda x, y, groups: MeanHead(name, [fit_ridge(x, y, name, inputs, prior, **out),
                                                fit_expected(x, y, name, inputs, groups, prior=prior, **out)])


def train_para(pa: Featurized) -> tuple[dict[str, Head], list[dict]]:
    heads, reports, x = {}, [], pa.x(IMAGE_INPUTS)
    prior = pa.prior(IMAGE_INPUTS, POWER_TECHNICAL)
    for head, key in PARA_HEADS.items():
        y = pa.y(key)
        fit = (ridge_and_iovqa(head, IMAGE_INPUTS, prior, **SCALE_1_5) if head == "aesthetics" else
               lambda a, b, _, head=head: fit_ridge(a, b, head, IMAGE_INPUTS, prior, **SCALE_1_5))
        reports.append(_report(head, "para", cross_val_predict(fit, x, y, pa.groups, grouped=True), y))
        heads[head] = fit(x, y, pa.groups)
    return heads, reports


def train_alignment(ag: Featurized) -> tuple[LinearHead, list[dict]]:
    prior = ag.prior(ALIGN_INPUTS, POWER_TECHNICAL)
    fit = lambda a, b: fit_ridge(a, b, "alignment", ALIGN_INPUTS, prior, out_a=20.0, clip=(0.0, 100.0))  # noqa: E731
    x, y = ag.x(ALIGN_INPUTS), ag.y("alignment")
    return fit(x, y), [_report("alignment", "agiqa3k", cross_val_predict(fit, x, y, ag.groups), y)]


def reference_scores(heads: dict[str, Head], data: dict[str, Featurized], per_set: int = 2) -> list[dict]:
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
    heads["quality"], rep = train_quality(data)
    reports += rep
    heads["alignment"], rep = train_alignment(data["agiqa3k"])
    reports += rep
    for part in (train_para(data["para"]), train_emotion(data["emotion6"])):
        heads.update(part[0])
        reports += part[1]
    q = heads["quality"]
    dist = [features.feature_distance(d.blocks["image"], q.mean, q.scale) for d in data.values()]
    q.info["distance_quantiles"] = [float(v) for v in np.quantile(np.concatenate(dist), np.linspace(0, 1, 21))]
    for h in heads.values():
        h.info["cv"] = [r for r in reports if r["head"].split(" ")[0] == h.name]
    save_heads(heads, args.out, encoder.image.config)
    heads = load_heads(args.out)  # the reference scores are those of the weights as shipped (float16)
    report = {"seconds": round(time.time() - t0, 1), "limit": args.limit, "encoder": encoder.image.version,
              "reports": reports,
              "reference": reference_scores(heads, data)}
    args.out.with_name(REPORT_FILE.name).write_text(json.dumps(report, indent=1))
    for r in reports:
        print(f"{r['head']:<22} {r['data']:<9} n={r['n']:<5} train {r['train']}  cv {r['cv']}")
    print(f"wrote {args.out} in {report['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
