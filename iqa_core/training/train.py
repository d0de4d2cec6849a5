"""Train the shipped heads on ../shared/data: `python -m iqa_core.training.train`.

Features are computed with the same loader and encoder as the app (training.featurize, cached), and every
head is reported with train and held-out figures side by side (training_report.json). The heads come from:
quality (training.common_scale: AGIQA-3K, LIVE-C, PARA's quality votes (dev, and 2,000 of para-train's) and
synthetic distortions, on one scale), alignment (training.alignment: AGIQA-3K with mismatched prompts), aesthetics and attributes (training.aesthetics: para-train, para-dev), emotion and
sentiment (training.affect: Emotion6, PARA's emotion votes). Writes iqa_core/weights/heads.safetensors with
the encoder's configuration, and training_report.json beside it.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from iqa_core.model import features
from iqa_core.model.encoders.lite import CONCEPTS_FILE, LiteEncoder
from iqa_core.model.heads import HEADS_FILE, Head, load_heads, save_heads
from iqa_core.training import datasets
from iqa_core.training.aesthetics import train_para
from iqa_core.training.affect import train_emotion
from iqa_core.training.alignment import SHIP_GATE, train_alignment
from iqa_core.training.common_scale import train_common
from iqa_core.training.distortions import distorted_features
from iqa_core.training.featurize import Featurized, featurize
from iqa_core.training.quality import train_only_sets

REPORT_FILE = HEADS_FILE.parent / "training_report.json"
DEV_SETS = ("agiqa3k", "livec", "para", "emotion6")


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


def attach_cv(heads: dict[str, Head], reports: list[dict]) -> None:
    for h in heads.values():
        h.info["cv"] = [r for r in reports if r["head"].split(" ")[0] == h.name]


def refit_part(args: argparse.Namespace, encoder: LiteEncoder, part: str) -> int:
    """Refit only one part's heads ("para": aesthetics and attributes; "alignment": alignment and its text
    projection; "emotion": valence, arousal, emotions, sentiment) into the heads file at --out, every other head
    and report row as it was: minutes instead of the full run's hour. The reference scores are those of the
    refitted heads file, as a full run's."""
    t0 = time.time()
    report_file = args.out.with_name(REPORT_FILE.name)
    report = json.loads(report_file.read_text())
    if part in ("para", "emotion"):  # both read para-train (aesthetics, sentiment)
        n_train = report["para_train"] if args.para_train is None else args.para_train
        pt = featurize("para_train", encoder, args.data, n_train) if n_train else None
        fit, dev = (train_para, "para") if part == "para" else (train_emotion, "emotion6")
        heads, rows = fit(featurize(dev, encoder, args.data, args.limit), pt)
        report["para_train"] = n_train
    else:
        heads, rows = train_alignment(featurize("agiqa3k", encoder, args.data, args.limit),
                                      encoder.name_embeddings, negatives=SHIP_GATE)
    attach_cv(heads, rows)
    old = report["reports"]
    at = next(i for i, r in enumerate(old) if r["head"].split(" ")[0] in heads)  # keep the rows' place
    kept = [r for r in old if r["head"].split(" ")[0] not in heads]
    report["reports"] = kept[:at] + rows + kept[at:]
    report[f"{part}_refit_seconds"] = round(time.time() - t0, 1)
    save_heads(load_heads(args.out) | heads, args.out, encoder.image.config)
    report["reference"] = reference_scores(load_heads(args.out),
                                           {n: featurize(n, encoder, args.data, args.limit) for n in DEV_SETS})
    report_file.write_text(json.dumps(report, indent=1))
    for r in rows:
        print(f"{r['head']:<18} {r['data']:<36} n={r['n']:<5} train {r['train']}  held out {r['cv']}")
    print(f"refitted the {part} heads into {args.out} in {report[f'{part}_refit_seconds']} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=datasets.DEFAULT_ROOT)
    ap.add_argument("--limit", type=int, default=None, help="use the first N images of each set (smoke runs)")
    ap.add_argument("--out", type=Path, default=HEADS_FILE)
    ap.add_argument("--para-train", type=int, default=None, metavar="N",
                    help="use the first N images of PARA's train split (whole sessions first; 0 leaves it out)")
    ap.add_argument("--keep-quality", action="store_true",
                    help="reuse the quality head (and its report rows) of the heads file at --out: the gated "
                         "quality head's CV is most of the training time, and the region detector is fitted to it")
    ap.add_argument("--para-only", action="store_true",
                    help="refit only PARA's heads (aesthetics, attributes) into the heads file at --out")
    ap.add_argument("--alignment-only", action="store_true",
                    help="refit only the alignment head and its text projection into the heads file at --out")
    ap.add_argument("--emotion-only", action="store_true",
                    help="refit only the emotion heads (valence, arousal, emotions, sentiment) into the heads "
                         "file at --out")
    args = ap.parse_args(argv)
    t0 = time.time()
    encoder = LiteEncoder()
    part = next((p for p in ("para", "alignment", "emotion") if getattr(args, f"{p}_only")), None)
    if part:
        return refit_part(args, encoder, part)
    if args.out == HEADS_FILE or not CONCEPTS_FILE.exists():
        encoder.write_name_embeddings()
    data = {n: featurize(n, encoder, args.data, args.limit) for n in DEV_SETS}
    # para-train only on full runs: a smoke run's handful of images would say nothing about it.
    pt = featurize("para_train", encoder, args.data, args.para_train) if args.limit is None and args.para_train != 0 \
        else None
    heads, reports = {}, []
    if args.keep_quality:
        heads["quality"] = load_heads(args.out)["quality"]
        reports += [r for r in json.loads(args.out.with_name(REPORT_FILE.name).read_text())["reports"]
                    if r["head"].startswith("quality")]
    else:
        heads["quality"], rep = train_common(data | train_only_sets(encoder, args.data, args.limit),
                                             distorted_features(data, encoder, args.limit and 3))
        reports += rep
    part, rep = train_alignment(data["agiqa3k"], encoder.name_embeddings, negatives=SHIP_GATE)
    heads.update(part)
    reports += rep
    for part in (train_para(data["para"], pt), train_emotion(data["emotion6"], pt)):
        heads.update(part[0])
        reports += part[1]
    q = heads["quality"]
    dist = [features.feature_distance(d.blocks["image"], q.mean, q.scale) for d in data.values()]
    q.info["distance_quantiles"] = [float(v) for v in np.quantile(np.concatenate(dist), np.linspace(0, 1, 21))]
    attach_cv(heads, reports)
    save_heads(heads, args.out, encoder.image.config)
    heads = load_heads(args.out)  # the reference scores are those of the weights as shipped (float16)
    report = {"seconds": round(time.time() - t0, 1), "limit": args.limit, "encoder": encoder.image.version,
              "para_train": None if pt is None else len(pt.samples), "quality_kept": args.keep_quality,
              "reports": reports,
              "reference": reference_scores(heads, data)}
    args.out.with_name(REPORT_FILE.name).write_text(json.dumps(report, indent=1))
    for r in reports:
        extra = {k: v for k, v in r.items() if k.startswith("own_vs")}
        print(f"{r['head']:<18} {r['data']:<36} n={r['n']:<5} train {r['train']}  held out {r['cv']} {extra or ''}")
    print(f"wrote {args.out} in {report['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
