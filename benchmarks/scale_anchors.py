"""What the cross-set anchor pairs (training.common_scale.ANCHOR_PAIRS: a best-rated clean image of one set above
a strongly distorted copy of another set's image) add to the quality head: the whole recipe's grouped 5-fold CV
(ranker, targets, experts, gate refitted inside every training part) at each anchor weight, the reported split,
per set and as common_scale.scale_checks. About 40 minutes per weight on one core.

`python -m benchmarks.scale_anchors [--weights 0 0.5 2]`; writes benchmarks/results/scale_anchors.json.
The anchor weight 0.5 was fixed before this ran; 2.0 is a sensitivity check, never a candidate chosen here.
"""
from __future__ import annotations

import argparse
import time

from benchmarks.common import table, write_json
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.training import common_scale, datasets
from iqa_core.training.distortions import distorted_features
from iqa_core.training.featurize import featurize
from iqa_core.training.quality import train_only_sets

SETS = ("agiqa3k", "livec", "para", "emotion6")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.5])
    args = ap.parse_args(argv)
    enc = LiteEncoder()
    data = {n: featurize(n, enc, datasets.DEFAULT_ROOT) for n in SETS}
    distorted = distorted_features(data, enc)
    rows, out = [], {}
    for w in args.weights:
        common_scale.ANCHOR_PAIRS, t0 = w, time.time()
        _, reports = common_scale.train_common(data | train_only_sets(enc, datasets.DEFAULT_ROOT, None), distorted)
        cv = reports[-1]["cv"]
        out[str(w)] = {"seconds": round(time.time() - t0), "cv": cv}
        best = cv["mean_of_best_rated"]
        rows.append([w, cv["agiqa3k"], cv["livec"], cv["para"], cv["good_photo_above_damaged_ai"],
                     cv["good_ai_above_damaged_photo"], best["agiqa3k"], best["livec"], best["para"]])
    print(table(rows, ["anchor weight", "AGIQA-3K", "LIVE-C", "PARA", "good photo > damaged AI",
                       "good AI > damaged photo", "best AGIQA", "best LIVE-C", "best PARA"],
                "Quality, grouped 5-fold CV of the whole recipe"))
    write_json("scale_anchors", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
