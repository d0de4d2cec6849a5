"""The alignment head's mismatch drop: how many points a prompt the gate doubts loses (training.alignment).

Each training part chooses its drop on 3 inner grouped folds: the largest of MISMATCH_DROPS whose matching
pairs' SRCC is within DROP_TOLERANCE of the best drop's. A larger drop parts an image's own prompt from a
wrong one by more points (issue 15 asks for 15 on average; a person rates an unrelated prompt near 0) and
costs the matching pairs' SRCC where the gate doubts a true pair. One grouped CV gives every tolerance's
figures: each part's inner SRCC per drop is kept, and every drop's head is scored on the outer fold.

The criterion, fixed before any tolerance was measured: on the selection split (fold seed 1), the smallest
tolerance whose own-vs-random margin reaches 15 points while the matching pairs' SRCC stays within 0.01 of the
shipped tolerance's; if none does, the shipped tolerance stays. The reported fold seed is then read once.

`python -m benchmarks.mismatch_drop [--seeds 1 0]` (about 6 min a seed); writes
benchmarks/results/mismatch_drop.json.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import table, write_json
from iqa_core.model.encoders.lite import LiteEncoder
from iqa_core.model.heads import GatedHead
from iqa_core.training import datasets
from iqa_core.training.alignment import (
    DROP_TOLERANCE,
    MISMATCH_DROPS,
    check_contrasts,
    check_pairs,
    cv_parts,
    dropped_head,
    largest_within,
    pick_negatives,
)
from iqa_core.training.featurize import featurize
from iqa_core.training.fit import correlations

TOLERANCES = (0.0, 0.005, DROP_TOLERANCE, 0.02, 0.03, 0.05)


def figures(ag, own: np.ndarray, other: np.ndarray, check: list) -> dict:
    out = correlations(own, ag.y("alignment"))
    for kind, c in check_contrasts(own, other, check).items():
        out |= {f"{kind}_wins": c["own_wins"], f"{kind}_margin": c["margin"]}
    return out


def run(ag, name_emb: np.ndarray, seed: int) -> dict:
    """Out-of-fold figures with each drop fixed in every part, and with each tolerance's per-part choice."""
    neg, check = pick_negatives(ag), check_pairs(ag)
    image_of = np.array([i for i, _, _ in check])
    own = {d: np.zeros(len(ag.samples), np.float32) for d in MISMATCH_DROPS}
    other = {d: np.zeros(len(check), np.float32) for d in MISMATCH_DROPS}
    parts = []  # (test rows, check rows, inner SRCC per drop)
    for te, head, x_own, x_check in cv_parts(ag, name_emb, neg, check, seed):
        graded = head.experts["match"]
        test = np.isin(image_of, te)
        for d in MISMATCH_DROPS:
            h = GatedHead("alignment", head.gate, {"match": graded, "mismatch": dropped_head(graded, d)})
            own[d][te], other[d][test] = h.predict(x_own[te]), h.predict(x_check[test])
        parts.append((te, test, {float(k): v for k, v in head.info["drop_srcc"].items()}))
    fixed = {f"drop {d:g}": figures(ag, own[d], other[d], check) for d in MISMATCH_DROPS}
    chosen = {}
    for tol in TOLERANCES:
        o, c, drops = np.zeros_like(own[MISMATCH_DROPS[0]]), np.zeros_like(other[MISMATCH_DROPS[0]]), []
        for te, test, rho in parts:
            d = largest_within(rho, tol)
            o[te], c[test] = own[d][te], other[d][test]
            drops.append(d)
        chosen[f"tolerance {tol:g}"] = figures(ag, o, c, check) | {"drops": drops}
    return {"fixed": fixed, "chosen": chosen}


def choose(selection: dict) -> float:
    """The criterion above, on the selection split's per-tolerance figures."""
    shipped = selection[f"tolerance {DROP_TOLERANCE:g}"]["srcc"]
    ok = [t for t in TOLERANCES if selection[f"tolerance {t:g}"]["random_margin"] >= 15.0
          and selection[f"tolerance {t:g}"]["srcc"] >= shipped - 0.01]
    return min(ok) if ok else DROP_TOLERANCE


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 0], help="fold seeds; 1 is the selection split")
    args = ap.parse_args(argv)
    t0 = time.time()
    encoder = LiteEncoder()
    ag = featurize("agiqa3k", encoder, datasets.DEFAULT_ROOT)
    out = {"seeds": {}}
    for seed in args.seeds:
        res = run(ag, encoder.name_embeddings, seed)
        out["seeds"][str(seed)] = res
        rows = [[k, *(v[f] for f in ("srcc", "plcc", "random_wins", "random_margin", "hard_wins", "hard_margin")),
                 " ".join(f"{d:g}" for d in v.get("drops", []))] for part in ("chosen", "fixed")
                for k, v in res[part].items()]
        print(table(rows, ["rule", "SRCC", "PLCC", "own > random", "margin", "own > hard", "margin", "drops"],
                      f"Alignment by mismatch drop, fold seed {seed}"), flush=True)
    if "1" in out["seeds"]:
        out["chosen_tolerance"] = choose(out["seeds"]["1"]["chosen"])
        print("tolerance the criterion chooses on the selection split:", out["chosen_tolerance"])
    out["seconds"] = round(time.time() - t0, 1)
    print(f"wrote {write_json('mismatch_drop.json', out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
