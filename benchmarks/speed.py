"""Speed benchmark: per-stage p50/p95 over dev images, warm single-image latency, batch throughput, cold start
to first result and peak RSS, on this machine's CPU.

    python -m benchmarks.speed [--n 50]

Cold start runs in a fresh process (`python -m iqa_core assess`), so it counts imports and model loading.
Writes benchmarks/results/speed.json.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import numpy as np

from benchmarks.common import ROOT, table, write_json
from iqa_core.pipeline import Assessor
from iqa_core.training import datasets
from iqa_core.workflows import batch

STAGES = ("decode", "metadata", "encode", "heads", "attributes", "regions", "explanation", "total")


def cold_start(path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "iqa_core", "assess", str(path)], cwd=ROOT, check=True,
                   capture_output=True)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    args = ap.parse_args(argv)
    samples = (datasets.load("agiqa3k")[: args.n // 2] + datasets.load("livec")[: args.n - args.n // 2])
    cold = cold_start(samples[0].path)
    assessor = Assessor()
    assessor.assess(samples[0].path, prompt=samples[0].prompt)  # warm-up: lazy text model, allocations
    timings, walls = [], []
    for s in samples:
        t0 = time.perf_counter()
        a = assessor.assess(s.path, prompt=s.prompt)
        walls.append(time.perf_counter() - t0)
        timings.append(a.timings_ms)
    rows = [[st, float(np.percentile([t.get(st, 0.0) for t in timings], 50)),
             float(np.percentile([t.get(st, 0.0) for t in timings], 95))] for st in STAGES]
    rows.append(["wall, single image (s->ms)", 1000 * float(np.percentile(walls, 50)),
                 1000 * float(np.percentile(walls, 95))])
    folder = datasets.DEFAULT_ROOT / "livec-dev" / "images"
    files = batch.list_images(folder)[: args.n]
    t0 = time.perf_counter()
    n_ok = sum(1 for r in batch.run(assessor, folder, files=files) if not r.get("error"))
    throughput = n_ok / (time.perf_counter() - t0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(table(rows, ["stage (ms)", "p50", "p95"], f"Per-stage times over {len(samples)} dev images"))
    print(f"batch throughput: {throughput:.2f} images/s ({n_ok} images, {batch.WORKERS} workers)")
    print(f"cold start to first result: {cold:.1f} s; peak RSS of this process: {peak_mb:.0f} MB")
    path = write_json("speed.json", {"n": len(samples), "stages_ms": {r[0]: {"p50": r[1], "p95": r[2]} for r in rows},
                                     "batch_images_per_s": throughput, "cold_start_s": cold, "peak_rss_mb": peak_mb})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
