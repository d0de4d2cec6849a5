"""Accuracy benchmark: task x method, train and 5-fold grouped CV side by side, the same folds for every method.

    python -m benchmarks.accuracy [--skip-brisque] [--skip-fusion]

Methods: BRISQUE (the PyPI SVR, zero-shot, sign flipped so higher is better), the ridge baseline on pooled
EfficientNet-Lite2 features trained per dataset (plain z-scores), the same ridge with every stage map
weighed alike (fit.block_scale), the IOVQA head (integer classes 10-50, expected value) and the mean of the
two, the joint quality head on per-dataset z-scores (an expert per domain and a gate; PARA's quality votes as
extra photos) and the shipped one on a common scale (training.common_scale), and for alignment the cross-modal
fusion (fuse.py) stacked on the image-only ridge. Then benchmarks.transfer's leave-one-dataset-out table.
Ridge alpha, IOVQA decay and softmax C are chosen inside each training fold; the fixed design constants say
in their comments how they were chosen. Writes benchmarks/results/accuracy.json.
"""
from __future__ import annotations

import argparse
import csv
import time

import numpy as np
import torch
from sklearn.linear_model import LinearRegression
from tqdm import tqdm

from benchmarks import transfer
from benchmarks.baselines import fuse
from benchmarks.baselines.classic import BrisqueScorer
from benchmarks.common import ROOT, SHIPPED_PARA_TRAIN, table, write_json
from iqa_core.inputs.load import load_image
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.training import datasets
from iqa_core.training.affect import train_emotion
from iqa_core.training.alignment import SHIP_GATE, train_alignment
from iqa_core.training.common_scale import train_common
from iqa_core.training.distortions import distorted_features
from iqa_core.training.featurize import IMAGE_INPUTS, POWER_SEMANTIC, POWER_TECHNICAL, Featurized, featurize
from iqa_core.training.fit import CVResult, correlations, cross_val_predict, fit_expected, fit_ridge, folds
from iqa_core.training.quality import train_only_sets, train_quality

CACHE = ROOT / "cache"


def brisque_scores(samples: list[datasets.Sample], name: str) -> np.ndarray:
    path = CACHE / f"brisque-{name}-{len(samples)}.npy"
    if path.exists():
        return np.load(path)
    scorer = BrisqueScorer()
    out = np.array([scorer.score(load_image(s.path).image) for s in tqdm(samples, desc=f"brisque {name}")])
    np.save(path, out)
    return out


def row(task: str, data: str, method: str, n: int, train_fig: dict | None, cv_fig: dict) -> dict:
    return {"task": task, "data": data, "method": method, "n": n, "train": train_fig, "cv": cv_fig}


def cv_row(task: str, data: str, method: str, cv: CVResult, y: np.ndarray) -> dict:
    return row(task, data, method, len(y), correlations(cv.train_pred, y), correlations(cv.pred, y))


def ridge_rows(task: str, d: Featurized, key: str, data: str, inputs: list[str]) -> dict:
    """The baseline: ridge on plain z-scores."""
    y = d.y(key)
    cv = cross_val_predict(lambda a, b: fit_ridge(a, b, key, inputs), d.x(inputs), y, d.groups)
    return cv_row(task, data, f"ridge on {'+'.join(inputs)} (baseline)", cv, y)


def head_variants(task: str, d: Featurized, key: str, data: str, inputs: list[str], power: float) -> list[dict]:
    """The baseline, then with the shipped block prior: plain regression against IOVQA (integer classes
    10-50, expected value) and their mean (what a MeanHead of the two predicts), on the same folds."""
    x, y, name, prior = d.x(inputs), d.y(key), "+".join(inputs), d.prior(inputs, power)
    tag = ", blocks alike" if power else ""
    ridge = cross_val_predict(lambda a, b: fit_ridge(a, b, key, inputs, prior), x, y, d.groups)
    iovqa = cross_val_predict(lambda a, b, g: fit_expected(a, b, key, inputs, g, prior=prior), x, y, d.groups,
                              grouped=True)
    pair = CVResult(pred=(ridge.pred + iovqa.pred) / 2, train_pred=(ridge.train_pred + iovqa.train_pred) / 2)
    baseline = [ridge_rows(task, d, key, data, inputs)] if power else []  # power 0: the ridge below is it
    return baseline + [
        cv_row(task, data, f"ridge on {name}{tag}", ridge, y), cv_row(task, data, f"IOVQA on {name}{tag}", iovqa, y),
        cv_row(task, data, f"mean of ridge and IOVQA{tag}", pair, y)]


def fusion_inputs(d: Featurized, encoder: LiteEncoder) -> tuple[np.ndarray, list[fuse.TextTokens]]:
    """Concept tokens from the 224-px head map; text tokens for the prompt and, as "tags", its parts."""
    from iqa_core.model.encoders.lite_torch import load_model

    model = load_model(encoder.image.variant)  # the classifier's weights, whichever engine encodes
    fc_w, fc_b = model._fc.weight.detach().numpy(), model._fc.bias.detach().numpy()
    tokens = []
    for i in tqdm(range(0, len(d.samples), 16), desc="concept tokens"):
        fms = encoder.encode_images([load_image(s.path).image for s in d.samples[i:i + 16]])
        tokens += [fuse.concept_tokens(fm.maps[224][-1], fc_w, fc_b, encoder.name_embeddings) for fm in fms]
    with open(datasets.DEFAULT_ROOT / "agiqa3k-dev" / "labels.csv", newline="", encoding="utf-8") as fh:
        parts = {r["image"]: [r["adj1"], r["adj2"], r["style"]] for r in csv.DictReader(fh)}
    texts = []
    for s in d.samples:
        src = {"prompt": s.prompt, "tags": ", ".join(p for p in parts[s.path.name] if p)}
        texts.append(fuse.TextTokens({k: _unit(encoder.text.tokens(v)) for k, v in src.items() if v}))
    return np.stack(tokens), texts


def _unit(t: np.ndarray) -> np.ndarray:
    return t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-8)


def fusion_alignment(d: Featurized, encoder: LiteEncoder) -> tuple[dict, dict]:
    """Outer grouped folds; inside each, the image ridge's inner out-of-fold score is the base the fusion
    and the stacking learn on, so the test fold is never seen."""
    image_tokens, texts = fusion_inputs(d, encoder)
    x, y, groups = d.x(IMAGE_INPUTS), d.y("alignment"), d.groups
    fit = lambda a, b: fit_ridge(a, b, "alignment_image", IMAGE_INPUTS)  # noqa: E731
    pred, relevance = np.zeros(len(y)), []
    for tr, te in folds(groups):
        base_tr = cross_val_predict(fit, x[tr], y[tr], groups[tr]).pred
        base_te = fit(x[tr], y[tr]).predict(x[te])
        model = fuse.train(image_tokens[tr], [texts[i] for i in tr], y[tr], base_tr)
        f_tr, f_te = (_fused(model, image_tokens[idx], [texts[i] for i in idx]) for idx in (tr, te))
        stack = LinearRegression().fit(np.column_stack([base_tr, f_tr]), y[tr])
        pred[te] = stack.predict(np.column_stack([base_te, f_te]))
        relevance.append(torch.softmax(model.source_logit.detach()[:2], 0).numpy().tolist())
    rel = np.mean(relevance, 0)
    return (row("alignment", "agiqa3k", "image ridge + cross-modal fusion (stacked)", len(y), None,
                correlations(pred, y)), {"prompt": round(float(rel[0]), 3), "tags": round(float(rel[1]), 3)})


def _fused(model: fuse.CrossModalFusion, image_tokens: np.ndarray, texts: list[fuse.TextTokens]) -> np.ndarray:
    tokens, mask, present = fuse.pack(texts)
    with torch.inference_mode():
        return model(torch.from_numpy(image_tokens), tokens, mask, present)["fused"].numpy()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-brisque", action="store_true")
    ap.add_argument("--skip-fusion", action="store_true")
    ap.add_argument("--skip-transfer", action="store_true", help="leave out the leave-one-dataset-out table")
    args = ap.parse_args(argv)
    t0 = time.time()
    encoder = LiteEncoder()
    data = {n: featurize(n, encoder, datasets.DEFAULT_ROOT) for n in ("agiqa3k", "livec", "para", "emotion6")}
    rows, extra = [], {}
    if not args.skip_brisque:
        for name in ("agiqa3k", "livec"):
            d = data[name]
            score = -brisque_scores(d.samples, name)
            ok = np.isfinite(score)  # BRISQUE's fit fails (NaN) on some flat, noise-free AI images
            rows.append(row("quality", name, f"BRISQUE (zero-shot; {int((~ok).sum())} NaN dropped)", int(ok.sum()),
                            None, correlations(score[ok], d.y("quality")[ok])))
    tech, sem = POWER_TECHNICAL, POWER_SEMANTIC
    for name in ("agiqa3k", "livec"):
        rows += head_variants("quality", data[name], "quality", name, ["image"], tech)
    _, joint = train_quality(data, alone=False)  # alone: head_variants above
    rows += [row("quality", r["data"], "joint: expert per domain + gate, per-dataset scale (before)", r["n"],
                 r["train"], r["cv"]) for r in joint if "joint" in r["head"]]
    _, common = train_common(data | train_only_sets(encoder, datasets.DEFAULT_ROOT), distorted_features(data, encoder))
    rows += [row("quality", r["data"], "joint on one scale: ranker + synthetic distortions (shipped)", r["n"],
                 r["train"], r["cv"]) for r in common if r["head"] == "quality (common scale)"]
    # para-dev's own CV; the shipped aesthetics head (para-train only) is in the leave-one-dataset-out table
    rows += head_variants("aesthetics", data["para"], "aesthetics", "para", IMAGE_INPUTS, tech)
    rows.append(ridge_rows("alignment", data["agiqa3k"], "alignment", "agiqa3k", ["image"]))
    _, align = train_alignment(data["agiqa3k"], encoder.name_embeddings, negatives=SHIP_GATE)
    rows.append(row("alignment", "agiqa3k", "concept/text/projection blocks (shipped)", align[0]["n"],
                    align[0]["train"], align[0]["cv"]))
    if not args.skip_fusion:
        fused_row, extra["fusion_relevance"] = fusion_alignment(data["agiqa3k"], encoder)
        rows.append(fused_row)
    for key in ("valence", "arousal"):
        rows += head_variants(key, data["emotion6"], key, "emotion6", IMAGE_INPUTS, sem)
    # The shipped recipe: sentiment also learns from para-train's votes (always in the training part)
    pt = featurize("para_train", encoder, datasets.DEFAULT_ROOT, SHIPPED_PARA_TRAIN)
    _, emo = train_emotion(data["emotion6"], pt)
    rows += [row(r["head"], r["data"], "softmax on image+concept (shipped)", r["n"], r["train"], r["cv"])
             for r in emo if r["head"] in ("emotions", "sentiment")]
    fmt = lambda f: " / ".join(f"{v:.3f}" for v in f.values()) if f else "-"  # noqa: E731
    print(table([[r["task"], r["data"], r["method"], r["n"], fmt(r["train"]), fmt(r["cv"])] for r in rows],
                ["task", "data", "method", "n", "train (SRCC/PLCC | top1/KL)", "5-fold CV"],
                "Accuracy on the dev splits (folds grouped by prompt / session)"))
    if extra:
        print("learned source relevance (mean over folds):", extra["fusion_relevance"])
    path = write_json("accuracy.json", {"seconds": round(time.time() - t0, 1), "rows": rows, **extra})
    print(f"wrote {path}")
    # The headline beside in-domain CV: train without a dataset, test on it.
    return 0 if args.skip_transfer else transfer.main([])


if __name__ == "__main__":
    raise SystemExit(main())
