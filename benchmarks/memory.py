"""Memory over a long batch: RSS every --every images of a batch engine over --n images (the dev images of
every set in ../shared/data, taken in turn and cycled), the slope in MB per 1,000 images after the first
--warm images (allocator and caches settling) and the peak. With --engine processes the RSS is the whole
process tree's (the workers hold the models).

    python -m benchmarks.memory [--n 2000] [--every 100] [--warm 200] [--workers 2] [--engine local|processes]

Writes benchmarks/results/memory.json.
"""
from __future__ import annotations

import argparse
import itertools
import resource
import time

import numpy as np
import psutil

from benchmarks.common import table, tree_rss_mb, write_json
from iqa_core.training import datasets
from iqa_core.workflows import batch


def dev_images() -> list:
    """Every set's dev images, interleaved set by set, so each stretch of the batch mixes sizes and kinds."""
    sets = [batch.list_images(d / "images") for d in sorted(datasets.DEFAULT_ROOT.glob("*-dev"))]
    return [p for group in itertools.zip_longest(*sets) for p in group if p is not None]


def slope_mb_per_1000(counts: list[int], rss_mb: list[float]) -> float:
    """Least-squares slope of RSS against images done, per 1,000 images."""
    return float(np.polyfit(np.asarray(counts, float), np.asarray(rss_mb, float), 1)[0] * 1000.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--warm", type=int, default=200)
    ap.add_argument("--workers", type=int, default=batch.WORKERS)
    ap.add_argument("--engine", choices=("local", "processes"), default="local")
    args = ap.parse_args(argv)

    pool = dev_images()
    files = [pool[i % len(pool)] for i in range(args.n)]
    me = psutil.Process()
    if args.engine == "processes":
        from iqa_core.workflows import process_engine

        rows = process_engine.run(datasets.DEFAULT_ROOT, {}, files, workers=args.workers)
    else:
        from iqa_core.pipeline import Assessor

        rows = batch.run(Assessor(), datasets.DEFAULT_ROOT, files=files, workers=args.workers)
    start_mb = tree_rss_mb(me)  # processes: the parent alone, before its workers start
    points, errors, t0 = [], 0, time.perf_counter()
    for done, row in enumerate(rows, 1):
        errors += bool(row.get("error"))
        if done % args.every == 0:
            points.append((done, tree_rss_mb(me), time.perf_counter() - t0))
            print(f"{done:5d} images  RSS {points[-1][1]:7.1f} MB  {done / points[-1][2]:.2f} images/s", flush=True)
    counts, rss = [c for c, _, _ in points], [r for _, r, _ in points]
    settled = [(c, r) for c, r in zip(counts, rss) if c > args.warm]
    results = {
        "n": args.n, "engine": args.engine, "distinct_images": len(pool), "workers": args.workers, "errors": errors,
        "rss_after_load_mb": start_mb,
        # local: this process's own peak; processes: the largest sampled tree total (workers included)
        "peak_rss_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if args.engine == "local"
                        else max(r for _, r, _ in points)),
        "slope_mb_per_1000_images": slope_mb_per_1000(*zip(*settled)) if len(settled) >= 2 else None,
        "rss_first_last_settled_mb": [settled[0][1], settled[-1][1]] if settled else None,
        "images_per_s": args.n / (time.perf_counter() - t0),
        "points": [{"images": c, "rss_mb": round(r, 1), "elapsed_s": round(t, 1)} for c, r, t in points],
    }
    print(table([[c, r] for c, r in zip(counts, rss)], ["images", "RSS (MB)"],
                f"Batch ({args.engine}), {args.n} images ({len(pool)} distinct dev images cycled), {args.workers} workers"))
    print(f"slope after {args.warm} images: {results['slope_mb_per_1000_images']:.1f} MB per 1,000 images; "
          f"peak RSS {results['peak_rss_mb']:.0f} MB; after load {start_mb:.0f} MB")
    print(f"wrote {write_json('memory.json' if args.engine == 'local' else f'memory-{args.engine}.json', results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
