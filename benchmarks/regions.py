"""Region map benchmark: does the worst-scored region point at the one part of the image we degraded?

Each trial takes a dev image at its native size (agiqa3k, livec and para in turn, from the half of the dev
images that the region detector never trained on: iqa_core.training.degrade.split), degrades ONE area of it
(blur, noise, JPEG blocks, over-exposure, in turn; the area is a random rectangle or a random group of
superpixels, in turn, covering 10-25% of the image), runs the real Assessor (preprocess -> forward), then
splits and scores the image with every region method on the same feature maps:
  grid        3x3 cells
  superpixel  SLIC on a small copy, merged to regions
  features    k-means on the backbone's 28x28 stage features + coordinates
each scored three ways: "head" (the quality head on features pooled inside the region's mask),
"head+evidence" (a hand-weighted formula over measured local statistics) and "head+detector" (the shipped
default: the head times the learned detector's P(clean); see iqa_core/analysis/regions). The shipped
configuration is also read back from the Assessment that postprocess returns.

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
import time
from collections import defaultdict

import numpy as np
from PIL import Image

try:
    from benchmarks.common import table, write_json
except ImportError:  # run as a script
    from common import table, write_json

from iqa_core.analysis import regions
from iqa_core.inputs.load import load_image
from iqa_core.training.degrade import AREAS, DEGRADATIONS, SETS, images, make_trial

HIT_DEFINITION = ("hit = the worst region's centroid (or its mask pixel nearest the centroid) lies inside the "
                  "degraded area; chance = the share of the image's regions whose point lies inside it")


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
        trial = make_trial(img, kind, area, rng)
        bad, degraded = trial.image, trial.area
        redraws += trial.redraws
        prep = assessor.preprocess(bad, name=sample.path.name)
        out = assessor.forward([prep])[0]
        for method in regions.METHODS:
            for scoring in regions.SCORINGS:
                t0 = time.perf_counter()
                segs, scores, _ = regions.compute(out.maps, quality.predict, bad, method, scoring)
                times[(method, scoring)].append((time.perf_counter() - t0) * 1000)
                rows[(method, scoring)].append(dict(judge([s.mask for s in segs], scores, degraded),
                                                    kind=kind, area=area, set=SETS[i % 3]))
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
          f"{s['hit_from_assessment']:.3f}; regions stage (what is left after the heads it runs beside) "
          f"{s['regions_ms_median']} ms median, "
          f"{s['regions_ms_p90']} ms p90; {redraws} invisible areas redrawn")
    print(f"wrote {write_json('regions.json', result)} in {time.time() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
