"""Speed benchmark, an engine against a reference in one run: per-stage p50/p95 of single-image assessments,
batch throughput, the whole `python -m iqa_core batch` process against BRISQUE alone, cold start of
`assess --prompt` against a cold `import torch`, and peak RSS.

    python -m benchmarks.speed [--n 50] [--engine onnx] [--reference torch|none] [--rounds 3] [--threads N]

The machine is shared, so absolute times move between runs: every comparison alternates engine and
reference (ABBA) in the same run and is reported as a ratio. Writes benchmarks/results/speed.json
(speed-threadsN.json with --threads).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, table, write_json
from iqa_core.model.encoders.lite import ENGINE_ENV, ENGINES
from iqa_core.runtime import torch_threads
from iqa_core.training import datasets
from iqa_core.workflows import batch

STAGES = ("decode", "metadata", "encode", "heads", "attributes", "regions", "explanation", "total")
BRISQUE_SCRIPT = """
import sys
from pathlib import Path
from PIL import Image
from benchmarks.baselines.classic import BrisqueScorer
scorer = BrisqueScorer()
for p in sorted(Path(sys.argv[1]).iterdir()):
    print(p.name, scorer.score(Image.open(p)))
"""


@contextmanager
def engine_env(engine: str):
    before = os.environ.get(ENGINE_ENV)
    os.environ[ENGINE_ENV] = engine
    try:
        yield
    finally:
        os.environ.pop(ENGINE_ENV) if before is None else os.environ.__setitem__(ENGINE_ENV, before)


def child(cmd: list[str], engine: str | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one fresh process (wait4 reports that child's own peak)."""
    env = dict(os.environ, **({ENGINE_ENV: engine} if engine else {}))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-2000:]}")
    proc.stderr.close()
    return wall, usage.ru_maxrss / 1024


def abba(engines: list[str], rounds: int):
    """Engine order for alternated measurements: A B B A A B ..."""
    for r in range(rounds):
        yield from (engines if r % 2 == 0 else engines[::-1])


def p(values, q) -> float:
    return float(np.percentile(values, q))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--engine", choices=ENGINES, default="onnx")
    ap.add_argument("--reference", choices=(*ENGINES, "none"), default="torch")
    ap.add_argument("--rounds", type=int, default=3, help="alternated rounds of each whole-process measurement")
    ap.add_argument("--threads", type=int, default=0,
                    help="thread budget of the in-process measurements (default: the process's own)")
    args = ap.parse_args(argv)
    return measure(args)


def measure(args: argparse.Namespace) -> int:
    engines = [args.engine] + ([args.reference] if args.reference not in ("none", args.engine) else [])
    samples = datasets.load("agiqa3k")[: args.n // 2] + datasets.load("livec")[: args.n - args.n // 2]

    # Whole processes: the batch command per engine against BRISQUE alone over the same files; cold start of
    # one prompted assessment against a cold `import torch`.
    # Run first, while this process is small: on Linux a child's peak RSS starts from its parent's at fork.
    folder = datasets.DEFAULT_ROOT / "livec-dev" / "images"
    files = batch.list_images(folder)[: args.n]
    py = sys.executable
    whole, peak = {e: [] for e in (*engines, "brisque")}, {}
    cold = {e: [] for e in (*engines, "import torch")}
    with tempfile.TemporaryDirectory() as tmp:
        imgs = Path(tmp) / "images"
        imgs.mkdir()
        for f in files:  # a real folder: the batch command refuses links that leave it
            shutil.copy(f, imgs / f.name)
        out = Path(tmp) / "out.jsonl"
        for e in abba([*engines, "brisque"], args.rounds):
            cmd = ([py, "-c", BRISQUE_SCRIPT, str(imgs)] if e == "brisque"
                   else [py, "-m", "iqa_core", "batch", str(imgs), "--out", str(out)])
            wall, rss = child(cmd, None if e == "brisque" else e)
            whole[e].append(wall)
            peak[e] = max(peak.get(e, 0.0), rss)
        for e in abba([*engines, "import torch"], args.rounds):
            cmd = ([py, "-c", "import torch"] if e == "import torch"
                   else [py, "-m", "iqa_core", "assess", str(samples[0].path), "--json", "--prompt",
                         samples[0].prompt or "a photo"])
            cold[e].append(child(cmd, None if e == "import torch" else e)[0])

    # After the child processes, which must fork from a small parent; torch_threads imports torch.
    with torch_threads(args.threads) if args.threads else nullcontext():
        from iqa_core.pipeline import Assessor

        assessors = {}
        for e in engines:
            with engine_env(e):
                assessors[e] = Assessor()
            assessors[e].assess(samples[0].path, prompt=samples[0].prompt)  # warm-up: allocations, first calls

        # Single images, engines alternated image by image.
        timings = {e: [] for e in engines}
        walls = {e: [] for e in engines}
        for i, s in enumerate(samples):
            for e in (engines if i % 2 == 0 else engines[::-1]):
                t0 = time.perf_counter()
                a = assessors[e].assess(s.path, prompt=s.prompt)
                walls[e].append(time.perf_counter() - t0)
                timings[e].append(a.timings_ms)

        # In-process batch over the same LIVE-C files, alternated.
        rate = {e: [] for e in engines}
        for e in abba(engines, 2):
            t0 = time.perf_counter()
            n_ok = sum(1 for r in batch.run(assessors[e], folder, files=files) if not r.get("error"))
            rate[e].append(n_ok / (time.perf_counter() - t0))

    med = lambda v: float(np.median(v))  # noqa: E731
    results = {"n": len(samples), "engines": engines, "threads": args.threads or "default", "stages_ms": {}, "wall_single_ms": {},
               "batch_images_per_s": {}, "whole_batch_s": {}, "whole_batch_over_brisque": {},
               "cold_start_s": {}, "cold_over_import_torch": {}, "peak_rss_mb": {}}
    for e in engines:
        results["stages_ms"][e] = {st: {"p50": p([t.get(st, 0.0) for t in timings[e]], 50),
                                        "p95": p([t.get(st, 0.0) for t in timings[e]], 95)} for st in STAGES}
        results["wall_single_ms"][e] = {"p50": 1000 * p(walls[e], 50), "p95": 1000 * p(walls[e], 95)}
        results["batch_images_per_s"][e] = med(rate[e])
        results["whole_batch_s"][e] = med(whole[e])
        results["whole_batch_over_brisque"][e] = med(whole[e]) / med(whole["brisque"])
        results["cold_start_s"][e] = med(cold[e])
        results["cold_over_import_torch"][e] = med(cold[e]) / med(cold["import torch"])
        results["peak_rss_mb"][e] = peak[e]
    results["whole_batch_s"]["brisque"] = med(whole["brisque"])
    results["cold_start_s"]["import torch"] = med(cold["import torch"])
    results["peak_rss_mb"]["brisque"] = peak["brisque"]

    new, ref = engines[0], engines[-1]
    ratio = len(engines) > 1
    head = ["stage (ms)"] + [f"{e} {q}" for e in engines for q in ("p50", "p95")] + (["p50 ratio"] if ratio else [])
    rows = []
    for st in STAGES:
        s = results["stages_ms"]
        rows.append([st] + [s[e][st][q] for e in engines for q in ("p50", "p95")]
                    + ([s[new][st]["p50"] / max(s[ref][st]["p50"], 1e-9)] if ratio else []))
    w = results["wall_single_ms"]
    rows.append(["wall, single image"] + [w[e][q] for e in engines for q in ("p50", "p95")]
                + ([w[new]["p50"] / w[ref]["p50"]] if ratio else []))
    print(table(rows, head, f"Single image, {len(samples)} dev images, engines alternated"))
    measures = [("batch, in process (images/s)", "batch_images_per_s"),
                ("batch command, whole process (s)", "whole_batch_s"),
                ("  / BRISQUE alone, whole process", "whole_batch_over_brisque"),
                ("cold assess --prompt (s)", "cold_start_s"), ("  / cold import torch", "cold_over_import_torch"),
                ("peak RSS, batch command (MB)", "peak_rss_mb")]
    summary = [[label, *[results[key][e] for e in engines]]
               + ([results[key][new] / results[key][ref]] if ratio else []) for label, key in measures]
    if ratio:
        results["ratios"] = {"single_p50": w[new]["p50"] / w[ref]["p50"],
                             **{key: results[key][new] / results[key][ref] for _, key in measures}}
    print(table(summary, ["measure"] + engines + (["new / reference"] if ratio else []),
                f"Throughput and start ({len(files)} LIVE-C images; BRISQUE alone {results['whole_batch_s']['brisque']:.1f} s, "
                f"cold import torch {results['cold_start_s']['import torch']:.1f} s; medians of {args.rounds} alternated rounds)"))
    print(f"wrote {write_json('speed.json' if not args.threads else f'speed-threads{args.threads}.json', results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
