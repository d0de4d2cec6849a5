"""Region map benchmark: does the worst-scored region point at the one part of the image we degraded?

Each trial takes a dev image at its native size (agiqa3k, livec and para in turn), degrades ONE area of it
(blur, noise, JPEG blocks, over-exposure, in turn; the area is a random rectangle or a random group of
superpixels, in turn, covering 10-25% of the image), runs the real Assessor (preprocess -> forward), then
splits and scores the image with every region method on the same feature maps:
  grid        3x3 cells
  superpixel  SLIC on a small copy, merged to regions
  features    k-means on the backbone's 28x28 stage features + coordinates
each scored two ways: "head" (the quality head on features pooled inside the region's mask) and
"head+evidence" (the shipped formula in iqa_core/regions.py). The shipped configuration is also read back
from the Assessment that postprocess returns.

Hit (pointing game): the worst region's point - its centroid, or the mask pixel nearest to it when the
centroid falls outside a non-convex region - lies inside the degraded area.
Chance: the same hit rate if the worst region were picked uniformly at random among the image's regions
(= the share of the image's regions whose point lies inside the degraded area, averaged over trials).
Also reported: "overlap" (the worst region's mask overlaps the degraded area at all, IoU > 0) with its own
chance, and "iou" (mean IoU of the worst region with the degraded area).

A degradation that changes nothing visible (mean absolute change inside the area below 3 grey levels, e.g.
blur on a flat sky) cannot be localised by anyone: such an area is redrawn (up to 20 times) and the redraws
are counted in the JSON.

    python -m benchmarks.regions --trials 200
"""
from __future__ import annotations

import argparse
import io
import time
from collections import defaultdict

import numpy as np
from PIL import Image, ImageFilter
from skimage.segmentation import slic

try:
    from benchmarks.common import table, write_json
except ImportError:  # run as a script
    from common import table, write_json

from iqa_core import datasets, regions
from iqa_core.load import load_image

DEGRADATIONS = ("blur", "noise", "jpeg", "overexposure")
AREAS = ("rectangle", "superpixel")
SETS = ("agiqa3k", "livec", "para")
MIN_CHANGE = 3.0  # grey levels: below this mean absolute change the degradation is invisible
HIT_DEFINITION = ("hit = the worst region's centroid (or its mask pixel nearest the centroid) lies inside the "
                  "degraded area; chance = the share of the image's regions whose point lies inside it")


# --------------------------------------------------------------------------------------- degraded areas
def rectangle_area(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    share = rng.uniform(0.10, 0.25)
    aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))
    rh = int(round(min(h, np.sqrt(share * h * w / aspect))))
    rw = int(round(min(w, share * h * w / max(rh, 1))))
    y0, x0 = rng.integers(0, h - rh + 1), rng.integers(0, w - rw + 1)
    mask = np.zeros((h, w), bool)
    mask[y0:y0 + rh, x0:x0 + rw] = True
    return mask


def superpixel_area(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Adjacent SLIC superpixels (native size, ~40 segments: not the region map's own segmentation)
    grown from a random seed until they cover 10-25% of the image."""
    seg = slic(rgb, n_segments=40, compactness=20, start_label=0)
    n = seg.max() + 1
    sizes = np.bincount(seg.ravel(), minlength=n) / seg.size
    adj = np.zeros((n, n), bool)
    for a, b in ((seg[:, :-1], seg[:, 1:]), (seg[:-1, :], seg[1:, :])):
        adj[a.ravel(), b.ravel()] = True
    adj |= adj.T
    target = rng.uniform(0.10, 0.25)
    chosen = {int(rng.integers(n))}
    while sizes[list(chosen)].sum() < target:
        frontier = [j for j in np.flatnonzero(adj[list(chosen)].any(0)) if j not in chosen]
        if not frontier:
            break
        nxt = int(rng.choice(frontier))
        if sizes[list(chosen)].sum() + sizes[nxt] > 0.25 and sizes[list(chosen)].sum() >= 0.10:
            break
        chosen.add(nxt)
    return np.isin(seg, list(chosen))


# ---------------------------------------------------------------------------------------- degradations
def degrade(img: Image.Image, kind: str, rng: np.random.Generator) -> np.ndarray:
    """The whole image degraded one way (the caller pastes the degraded area only)."""
    arr = np.asarray(img, np.float32)
    if kind == "blur":
        return np.asarray(img.filter(ImageFilter.GaussianBlur(max(2.5, 0.009 * max(img.size)))), np.float32)
    if kind == "noise":
        return arr + rng.normal(0.0, 30.0, arr.shape)
    if kind == "jpeg":
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=6)
        return np.asarray(Image.open(buf).convert("RGB"), np.float32)
    if kind == "overexposure":
        return arr * 1.9 + 60.0
    raise ValueError(kind)


def make_trial(img: Image.Image, kind: str, area: str, rng: np.random.Generator):
    rgb = np.asarray(img, np.float32)
    bad = degrade(img, kind, rng)
    for redraw in range(20):
        mask = (rectangle_area(*rgb.shape[:2], rng) if area == "rectangle"
                else superpixel_area(rgb.astype(np.uint8), rng))
        out = np.where(mask[..., None], bad, rgb)
        out = np.clip(out, 0, 255).astype(np.uint8)
        change = float(np.abs(out.astype(np.float32) - rgb)[mask].mean())
        if change >= MIN_CHANGE:
            break
    return Image.fromarray(out), mask, redraw, change


# ------------------------------------------------------------------------------------------- scoring
def judge(masks: list[np.ndarray], scores: np.ndarray, degraded: np.ndarray) -> dict[str, float]:
    h, w = degraded.shape
    inside, overlap, ious = [], [], []
    for m in masks:
        big = np.asarray(Image.fromarray((m > 0.5).astype(np.uint8) * 255).resize((w, h), Image.NEAREST)) > 0
        x, y = regions.centre_point(m > 0.5)  # as Region.centre
        inside.append(bool(degraded[min(int(y * h), h - 1), min(int(x * w), w - 1)]))
        inter = (big & degraded).sum()
        overlap.append(bool(inter > 0))
        ious.append(inter / max((big | degraded).sum(), 1))
    worst = int(np.argmin(scores))
    return {"hit": float(inside[worst]), "chance": float(np.mean(inside)), "overlap": float(overlap[worst]),
            "overlap_chance": float(np.mean(overlap)), "iou": float(ious[worst]), "n_regions": len(masks)}


def images(n: int, seed: int) -> list[datasets.Sample]:
    rng = np.random.default_rng(seed)
    pools = {s: datasets.load(s) for s in SETS}
    picks = {s: rng.permutation(len(p)) for s, p in pools.items()}
    return [pools[SETS[i % 3]][picks[SETS[i % 3]][i // 3]] for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from iqa_core.pipeline import Assessor

    assessor = Assessor()
    quality = assessor.heads["quality"]
    rng = np.random.default_rng(args.seed)
    rows = defaultdict(list)  # (method, scoring) -> per-trial dicts
    shipped, redraws, times = [], 0, defaultdict(list)
    t_start = time.time()
    for i, sample in enumerate(images(args.trials, args.seed)):
        kind, area = DEGRADATIONS[i % 4], AREAS[(i // 4) % 2]
        img = load_image(sample.path).image
        bad, degraded, redraw, change = make_trial(img, kind, area, rng)
        redraws += redraw
        prep = assessor.preprocess(bad, name=sample.path.name)
        out = assessor.forward([prep])[0]
        for method in regions.METHODS:
            for scoring in regions.SCORINGS:
                t0 = time.perf_counter()
                segs, scores = regions.compute(out["fm"], quality.predict, bad, method, scoring)
                times[(method, scoring)].append((time.perf_counter() - t0) * 1000)
                rows[(method, scoring)].append(dict(judge([s.mask for s in segs], scores, degraded),
                                                    kind=kind, area=area, set=sample.path.parent.parent.name))
        # the shipped path, as the app gets it: Assessment.regions
        assessment = assessor.postprocess(prep, out)
        worst = min(assessment.regions, key=lambda r: r.quality)
        x, y = worst.centre
        h, w = degraded.shape
        shipped.append({"hit": float(degraded[min(int(y * h), h - 1), min(int(x * w), w - 1)]), "kind": kind,
                        "regions_ms": assessment.timings_ms["regions"]})
        if (i + 1) % 20 == 0:
            hits = np.mean([r["hit"] for r in rows[(regions.DEFAULT_METHOD, regions.DEFAULT_SCORING)]])
            print(f"{i + 1}/{args.trials} trials, {time.time() - t_start:.0f} s, shipped hit rate {hits:.3f}",
                  flush=True)

    def summary(trials: list[dict]) -> dict:
        if not trials:
            return {"n": 0}
        return {k: round(float(np.mean([t[k] for t in trials])), 4)
                for k in ("hit", "chance", "overlap", "overlap_chance", "iou", "n_regions")} | {"n": len(trials)}

    result = {"definition": HIT_DEFINITION, "trials": args.trials, "seed": args.seed, "redraws": redraws,
              "shipped": {"method": regions.DEFAULT_METHOD, "scoring": regions.DEFAULT_SCORING,
                          "hit_from_assessment": round(float(np.mean([s["hit"] for s in shipped])), 4),
                          "regions_ms_median": round(float(np.median([s["regions_ms"] for s in shipped])), 2),
                          "regions_ms_p90": round(float(np.percentile([s["regions_ms"] for s in shipped], 90)), 2)},
              "methods": {}}
    print("\n" + HIT_DEFINITION)
    for (method, scoring), trials in rows.items():
        key = f"{method}/{scoring}"
        entry = {"all": summary(trials), "ms_median": round(float(np.median(times[(method, scoring)])), 2),
                 "ms_p90": round(float(np.percentile(times[(method, scoring)], 90)), 2)}
        for kind in DEGRADATIONS:
            entry[kind] = summary([t for t in trials if t["kind"] == kind])
        for area in AREAS:
            entry[area] = summary([t for t in trials if t["area"] == area])
        for s in SETS:
            entry[s] = summary([t for t in trials if t["set"] == s])
        result["methods"][key] = entry
    cols = list(DEGRADATIONS) + list(AREAS) + ["all"]
    print(table([[f"{k}", *[f"{e[c]['hit']:.3f} ({e[c]['chance']:.2f})" for c in cols], e["ms_median"]]
                 for k, e in result["methods"].items()], ["method/scoring", *cols, "ms"],
                "\nPointing accuracy: hit rate (chance in brackets)"))
    print(table([[f"{k}", *[f"{e[c]['overlap']:.3f} ({e[c]['overlap_chance']:.2f})" for c in cols],
                  e["all"]["iou"]] for k, e in result["methods"].items()], ["method/scoring", *cols, "iou"],
                "\nLenient: the worst region overlaps the degraded area at all (chance in brackets)"))
    s = result["shipped"]
    print(f"\nShipped ({s['method']}/{s['scoring']}), read back from Assessment.regions: hit rate "
          f"{s['hit_from_assessment']:.3f}; regions stage {s['regions_ms_median']} ms median, "
          f"{s['regions_ms_p90']} ms p90; {redraws} invisible areas redrawn")
    print(f"wrote {write_json('regions.json', result)} in {time.time() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
