"""Native-resolution crops benchmark: does quality see damage that only shows at a large image's own pixels?

No labelled set here has images above 512 px, so large images are built from dev images at their native
pixels: four consecutive dev images (by sorted name; AGIQA-3K and LIVE-C) tiled 2x2 into a 1024 px mosaic,
each tile 512 px (LIVE-C's 500 px resized by 2%). Each mosaic is scored
- clean, and after damage applied at 1024 px: JPEG q=30, Gaussian noise sigma 5, Gaussian blur sigma 0.8
  (in the encoder's 448 px view of the whole mosaic these shrink 2.3x and mostly vanish);
- against its 512 px downscale (no crops: consistency between a large image and its small copy);
- against people: the mean MOS of its four tiles (SRCC within each dataset).
- after a soft backdrop (blur sigma 3 outside a central ellipse: a style, which should cost little).
For every crop weight W, rule ("mean": (1-W) whole + W crops' score; "penalty": only a lower crops' score
counts), the crops' score (the mean of all, or of the better half) and 2 (diagonal) or 4 crops, on the selection half of the mosaics: how often the clean mosaic
scores above each damaged one, the mean drop, SRCC with the tiles' MOS, |1024 - 512| consistency. The
setting is chosen on the selection half (highest detection rate whose MOS SRCC is within 0.02 of the whole
view's, whose mean consistency gap is at most 3 points and whose soft-backdrop drop is at most 3 points above
the whole view's) and reported on the other half. Scores are the
quality head's (before the subject blend, which W does not change).

    python -m benchmarks.native_crops
"""
from __future__ import annotations

import argparse
import io
import json
import time

import numpy as np
from PIL import Image, ImageFilter

try:
    from benchmarks.common import RESULTS, table, write_json
except ImportError:  # run as a script
    from common import RESULTS, table, write_json

from iqa_core.model import features, native_crops
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.model.heads import load_heads
from iqa_core.training import datasets
from iqa_core.training.fit import srcc

TILE = 512
SETS = ("agiqa3k", "livec")
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
RULES = ("mean", "penalty")  # as native_crops.RULE
AGGREGATES = ("all", "upper")  # as native_crops.AGGREGATE
LAYOUTS = {"2 crops": (0, 3), "4 crops": (0, 1, 2, 3)}
MAX_SRCC_LOSS, MAX_GAP = 0.02, 3.0


def _jpeg(img: Image.Image, q: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _noise(img: Image.Image, sigma: float, seed: int) -> Image.Image:
    a = np.asarray(img, np.float32) + np.random.default_rng(seed).normal(0, sigma, (img.height, img.width, 3))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _soft_backdrop(img: Image.Image) -> Image.Image:
    """Depth of field: blur sigma 3 outside the central ellipse of benchmarks.subject (a style, not damage)."""
    from benchmarks.subject import versions

    return versions(img, 3.0)[0]


DAMAGE = {"jpeg q30": lambda im, i: _jpeg(im, 30), "noise 5": lambda im, i: _noise(im, 5.0, i),
          "blur 0.8": lambda im, i: im.filter(ImageFilter.GaussianBlur(0.8))}


def mosaics(name: str) -> list[tuple[Image.Image, float]]:
    samples = sorted(datasets.load(name), key=lambda s: s.path.name)
    out = []
    for k in range(0, len(samples) - 3, 4):
        group = samples[k:k + 4]
        canvas = Image.new("RGB", (2 * TILE, 2 * TILE))
        for i, s in enumerate(group):
            tile = Image.open(s.path).convert("RGB").resize((TILE, TILE), Image.BICUBIC)
            canvas.paste(tile, ((i % 2) * TILE, (i // 2) * TILE))
        out.append((canvas, float(np.mean([s.targets["quality"] for s in group]))))
    return out


class Scorer:
    def __init__(self):
        self.encoder = LiteEncoder()
        self.head = load_heads()["quality"]
        self.names = self.encoder.name_embeddings

    def __call__(self, images: list[Image.Image]) -> np.ndarray:
        fms = self.encoder.encode_images(images)
        x = np.stack([features.stack(features.image_blocks(fm, self.names), self.head.inputs) for fm in fms])
        return self.head.predict(x)

    def with_crops(self, img: Image.Image) -> tuple[float, list[float]]:
        """The whole view's score and each crop's (in native_crops.boxes order)."""
        s = self([img] + [c for _, c in native_crops.crops(img)])
        return float(s[0]), [float(v) for v in s[1:]]


def score_all(scorer: Scorer, limit: int | None) -> list[dict]:
    rows = []
    for name in SETS:
        for k, (img, mos) in enumerate(mosaics(name)[:limit]):
            row = {"set": name, "index": k, "mos": mos, "clean": scorer.with_crops(img),
                   "small": float(scorer([img.resize((TILE, TILE), Image.LANCZOS)])[0])}
            for kind, damage in (DAMAGE | {"soft backdrop": lambda im, i: _soft_backdrop(im)}).items():
                row[kind] = scorer.with_crops(damage(img, k))
            rows.append(row)
    return rows


def evaluate(rows: list[dict], w: float, rule: str, aggregate: str, layout: tuple[int, ...]) -> dict:
    q = lambda v: native_crops.blend(v[0], [v[1][i] for i in layout], w, rule, aggregate)  # noqa: E731
    out = {}
    for kind in DAMAGE:
        out[f"{kind} detected"] = float(np.mean([q(r["clean"]) > q(r[kind]) for r in rows]))
        out[f"{kind} drop"] = float(np.mean([q(r["clean"]) - q(r[kind]) for r in rows]))
    out["detected"] = float(np.mean([out[f"{k} detected"] for k in DAMAGE]))
    for name in SETS:
        sub = [r for r in rows if r["set"] == name]
        out[f"{name} SRCC"] = srcc(np.array([q(r["clean"]) for r in sub]), np.array([r["mos"] for r in sub]))
    out["soft backdrop drop"] = float(np.mean([q(r["clean"]) - q(r["soft backdrop"]) for r in rows]))
    out["gap 1024-512"] = float(np.mean([abs(q(r["clean"]) - r["small"]) for r in rows]))
    out["mean 1024-512"] = float(np.mean([q(r["clean"]) - r["small"] for r in rows]))
    return out


def choose(rows: list[dict]) -> tuple[float, str, str, str]:
    """(W, rule, aggregate, layout): the highest detection rate among the settings that keep MOS SRCC, the
    1024/512 gap and the soft backdrop's drop within bounds; ties go to the smaller W."""
    base = evaluate(rows, 0.0, "mean", "all", LAYOUTS["4 crops"])
    ok = []
    for layout in LAYOUTS:
        for rule in RULES:
            for aggregate in AGGREGATES:
                for w in WEIGHTS:
                    e = evaluate(rows, w, rule, aggregate, LAYOUTS[layout])
                    if (all(e[f"{n} SRCC"] >= base[f"{n} SRCC"] - MAX_SRCC_LOSS for n in SETS)
                            and e["gap 1024-512"] <= MAX_GAP
                            and e["soft backdrop drop"] <= base["soft backdrop drop"] + MAX_GAP):
                        ok.append((round(e["detected"], 3), -w, w, rule, aggregate, layout))
    return max(ok)[2:]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="mosaics per set (default: all)")
    ap.add_argument("--rescore", action="store_true",
                    help="select and report again from the scores in results/native_crops.json (no encoding)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    previous = json.loads((RESULTS / "native_crops.json").read_text()) if args.rescore else {}
    rows = previous["rows"] if args.rescore else score_all(Scorer(), args.limit)
    select = [r for r in rows if r["index"] % 2 == 0]
    report = [r for r in rows if r["index"] % 2 == 1]
    chosen = choose(select)
    settings = [("whole view only", (0.0, "mean", "all", "4 crops")),
                ("shipped", (native_crops.W_NATIVE, native_crops.RULE, native_crops.AGGREGATE, "4 crops")),
                ("chosen on selection", chosen)]
    results = {label: evaluate(report, w, rule, agg, LAYOUTS[layout])
               for label, (w, rule, agg, layout) in settings}
    keys = list(next(iter(results.values())))
    print(table([[k] + [results[label][k] for label, _ in settings] for k in keys],
                ["report half"] + [f"{label} ({', '.join(map(str, c))})" for label, c in settings],
                title=f"{len(report)} report mosaics (1024 px), {len(select)} selection mosaics"))
    out = {"mosaics": {"selection": len(select), "report": len(report)}, "chosen": dict(zip(("w", "rule", "aggregate",
           "layout"), chosen)), "settings": dict(settings), "report": results,
           "seconds": previous.get("seconds", round(time.perf_counter() - t0, 1)), "rows": rows}
    write_json("native_crops.json", out)
    return out


if __name__ == "__main__":
    main()
