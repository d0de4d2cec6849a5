"""Speed benchmark, this code against a reference in one run: per-stage p50/p95 of single-image assessments,
batch throughput, the whole `python -m iqa_core batch` process against BRISQUE alone, cold start of
`assess --prompt` against a cold `import torch`, and peak RSS.

    python -m benchmarks.speed [--n 50] [--engine onnx] [--reference torch|none|COMMIT] [--rounds 2] [--threads N]

The reference is another encoder engine of this code, or an older commit (checked out in a temporary git
worktree, run with its own weights and its default engine): `--reference ef2103e` is the code as it was when
issue 17 was filed. Every measurement runs in child processes (each variant's PYTHONPATH its own tree), the
variants alternated (ABBA), because the machine is shared and absolute times move between runs: compare
the ratios. Writes benchmarks/results/speed.json (speed-<reference>[-threadsN].json for other references).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from benchmarks.common import ROOT, table, tree_rss_mb, write_json
from iqa_core.model.encoders.lite import ENGINE_ENV, ENGINES
from iqa_core.training import datasets
from iqa_core.workflows import batch

STAGES = ("decode", "metadata", "encode", "heads", "measure", "subject", "attributes", "regions", "explanation",
          "total")
INPROCESS = Path(__file__).with_name("speed_inprocess.py")
BRISQUE_SCRIPT = """
import sys
from pathlib import Path
from PIL import Image
from benchmarks.baselines.classic import BrisqueScorer
scorer = BrisqueScorer()
for p in sorted(Path(sys.argv[1]).iterdir()):
    print(p.name, scorer.score(Image.open(p)))
"""


@dataclass(frozen=True)
class Variant:
    """What one column measures: a tree of the code and the encoder engine it runs (None: its default)."""
    label: str
    root: Path
    engine: str | None = None
    batch_args: tuple[str, ...] = ()  # extra flags of its batch command

    def env(self) -> dict[str, str]:
        env = dict(os.environ, PYTHONPATH=str(self.root))
        env.pop(ENGINE_ENV, None)
        return env | ({ENGINE_ENV: self.engine} if self.engine else {})


def child(cmd: list[str], variant: Variant | None = None, stdin: str | None = None,
          watch_rss: bool = False) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB or nan, stdout) of one fresh process run in the variant's tree. With
    watch_rss the peak is of the whole process tree, sampled every 50 ms (wait4's own peak would miss worker
    processes); without, nothing runs beside the child (sampling stalls a child that uses both cores). Output
    goes to files, so a chatty child never blocks on a full pipe."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=variant.root if variant else ROOT, env=variant.env() if variant else None,
                                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE, stdout=out,
                                stderr=err, text=True)
        if stdin is not None:
            proc.stdin.write(stdin)
            proc.stdin.close()
        watched, peak = psutil.Process(proc.pid), (0.0 if watch_rss else float("nan"))
        while watch_rss and proc.poll() is None:
            peak = max(peak, tree_rss_mb(watched))
            time.sleep(0.05)
        proc.wait()
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed: {err.read()[-2000:]}")
        out.seek(0)
        return wall, peak, out.read()


def abba(items: list, rounds: int):
    """Order of alternated measurements: A B B A A B ..."""
    for r in range(rounds):
        yield from (items if r % 2 == 0 else items[::-1])


def p(values, q) -> float:
    return float(np.percentile(values, q))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--engine", choices=ENGINES, default="onnx")
    ap.add_argument("--reference", default="torch",
                    help="an engine of this code (torch, onnx), none, or a commit to check out and run")
    ap.add_argument("--rounds", type=int, default=2, help="alternated rounds of each measurement")
    ap.add_argument("--batch-engines", nargs="*", default=["local"], metavar="ENGINE",
                    help="other engines of this code's batch command to time too (default: local, the threads)")
    ap.add_argument("--threads", type=int, default=0,
                    help="thread budget of the in-process measurements (default: the process's own)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        return measure(args, variants(args, Path(tmp)))


def variants(args: argparse.Namespace, tmp: Path) -> list[Variant]:
    """This code on --engine, then the reference: another engine, or an older commit in a detached worktree."""
    new = Variant(args.engine, ROOT, args.engine)
    if args.reference in ("none", args.engine):
        return [new]
    if args.reference in ENGINES:
        return [new, Variant(args.reference, ROOT, args.reference)]
    tree = tmp / "reference"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.reference], check=True,
                   capture_output=True)
    return [Variant(f"new ({args.engine})", ROOT, args.engine), Variant(f"{args.reference} (its default)", tree)]


def measure(args: argparse.Namespace, runs: list[Variant]) -> int:
    try:
        return _measure(args, runs)
    finally:
        for v in runs:
            if v.root != ROOT:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(v.root)], check=False)


def _measure(args: argparse.Namespace, runs: list[Variant]) -> int:
    labels = [v.label for v in runs]
    samples = datasets.load("agiqa3k")[: args.n // 2] + datasets.load("livec")[: args.n - args.n // 2]
    folder = datasets.DEFAULT_ROOT / "livec-dev" / "images"
    files = batch.list_images(folder)[: args.n]
    py = sys.executable
    brisque = Variant("brisque", ROOT)
    # This code's batch command also with its other local engine (worker processes): only whole-process figures.
    other = [Variant(f"{runs[0].label}, {e} batch", ROOT, runs[0].engine, ("--engine", e)) for e in args.batch_engines]
    whole, peak = {lab: [] for lab in (*labels, *(v.label for v in other), "brisque")}, {}
    cold = {lab: [] for lab in (*labels, "import torch")}
    timings, walls, rate = ({lab: [] for lab in labels} for _ in range(3))
    process_rate: dict[str, list[float]] = {}  # the process engine's, where a variant's code has it
    with tempfile.TemporaryDirectory() as tmp:
        imgs = Path(tmp) / "images"
        imgs.mkdir()
        for f in files:  # a real folder: the batch command refuses links that leave it
            shutil.copy(f, imgs / f.name)
        out = Path(tmp) / "out.jsonl"
        # Whole processes: the batch command against BRISQUE alone over the same files.
        for v in abba([*runs, *other, brisque], args.rounds):
            cmd = ([py, "-c", BRISQUE_SCRIPT, str(imgs)] if v is brisque
                   else [py, "-m", "iqa_core", "batch", str(imgs), "--out", str(out), *v.batch_args])
            wall, rss, _ = child(cmd, v, watch_rss=True)
            whole[v.label].append(wall)
            peak[v.label] = max(peak.get(v.label, 0.0), rss)
        # Cold start of one prompted assessment against a cold `import torch`.
        torch_only = Variant("import torch", ROOT)
        for v in abba([*runs, torch_only], args.rounds):
            cmd = ([py, "-c", "import torch"] if v is torch_only
                   else [py, "-m", "iqa_core", "assess", str(samples[0].path), "--json", "--prompt",
                         samples[0].prompt or "a photo"])
            cold[v.label].append(child(cmd, v)[0])
        # In process: single images (per-stage timings), then the batch over the LIVE-C files.
        job = json.dumps({"samples": [[str(s.path), s.prompt] for s in samples], "folder": str(folder),
                          "files": [str(f) for f in files], "threads": args.threads})
        for v in abba(runs, args.rounds):
            got = json.loads(child([py, str(INPROCESS)], v, stdin=job)[2])
            timings[v.label] += got["timings"]
            walls[v.label] += got["walls"]
            rate[v.label].append(got["batch_images_per_s"])
            if got.get("process_batch_images_per_s"):
                process_rate.setdefault(v.label, []).append(got["process_batch_images_per_s"])

    med = lambda v: float(np.median(v))  # noqa: E731
    results = {"n": len(samples), "variants": {v.label: {"engine": v.engine, "tree": "this" if v.root == ROOT
                                                          else args.reference} for v in runs},
               "threads": args.threads or "default", "rounds": args.rounds, "stages_ms": {}, "wall_single_ms": {},
               "batch_images_per_s": {}, "whole_batch_s": {}, "whole_batch_over_brisque": {},
               "cold_start_s": {}, "cold_over_import_torch": {}, "peak_rss_mb": {}}
    for lab in labels:
        results["stages_ms"][lab] = {st: {"p50": p([t.get(st, 0.0) for t in timings[lab]], 50),
                                          "p95": p([t.get(st, 0.0) for t in timings[lab]], 95)} for st in STAGES}
        results["wall_single_ms"][lab] = {"p50": 1000 * p(walls[lab], 50), "p95": 1000 * p(walls[lab], 95)}
        results["batch_images_per_s"][lab] = med(rate[lab])
        results["whole_batch_s"][lab] = med(whole[lab])
        results["whole_batch_over_brisque"][lab] = med(whole[lab]) / med(whole["brisque"])
        results["cold_start_s"][lab] = med(cold[lab])
        results["cold_over_import_torch"][lab] = med(cold[lab]) / med(cold["import torch"])
        results["peak_rss_mb"][lab] = peak[lab]
    results["whole_batch_s"]["brisque"] = med(whole["brisque"])
    results["cold_start_s"]["import torch"] = med(cold["import torch"])
    results["peak_rss_mb"]["brisque"] = peak["brisque"]
    results["process_batch_images_per_s"] = {lab: med(r) for lab, r in process_rate.items()}
    for v in other:
        results["whole_batch_s"][v.label] = med(whole[v.label])
        results["whole_batch_over_brisque"][v.label] = med(whole[v.label]) / med(whole["brisque"])
        results["peak_rss_mb"][v.label] = peak[v.label]

    new, ref = labels[0], labels[-1]
    ratio = len(labels) > 1
    head = ["stage (ms)"] + [f"{lab} {q}" for lab in labels for q in ("p50", "p95")] + (["p50 ratio"] if ratio else [])
    rows = []
    for st in STAGES:
        s = results["stages_ms"]
        rows.append([st] + [s[lab][st][q] for lab in labels for q in ("p50", "p95")]
                    + ([s[new][st]["p50"] / s[ref][st]["p50"] if s[ref][st]["p50"] else float("nan")] if ratio else []))
    w = results["wall_single_ms"]
    rows.append(["wall, single image"] + [w[lab][q] for lab in labels for q in ("p50", "p95")]
                + ([w[new]["p50"] / w[ref]["p50"]] if ratio else []))
    print(table(rows, head, f"Single image, {len(samples)} dev images, {args.rounds} alternated rounds"))
    measures = [("batch, in process (images/s)", "batch_images_per_s"),
                ("batch command, whole process (s)", "whole_batch_s"),
                ("  / BRISQUE alone, whole process", "whole_batch_over_brisque"),
                ("cold assess --prompt (s)", "cold_start_s"), ("  / cold import torch", "cold_over_import_torch"),
                ("peak RSS, batch command, process tree (MB)", "peak_rss_mb")]
    summary = [[label, *[results[key][lab] for lab in labels]]
               + ([results[key][new] / results[key][ref]] if ratio else []) for label, key in measures]
    if ratio:
        results["ratios"] = {"single_p50": w[new]["p50"] / w[ref]["p50"],
                             **{key: results[key][new] / results[key][ref] for _, key in measures}}
    print(table(summary, ["measure"] + labels + (["new / reference"] if ratio else []),
                f"Throughput and start ({len(files)} LIVE-C images; BRISQUE alone {results['whole_batch_s']['brisque']:.1f} s, "
                f"cold import torch {results['cold_start_s']['import torch']:.1f} s; medians of {args.rounds} alternated rounds)"))
    if other:
        print(table([[v.label, results["whole_batch_s"][v.label], results["whole_batch_over_brisque"][v.label],
                      results["peak_rss_mb"][v.label]] for v in other],
                    ["batch command", "whole process (s)", "/ BRISQUE alone", "peak RSS, process tree (MB)"],
                    "This code's batch command with its other engine, alternated with the runs above"))
    for lab, r in results["process_batch_images_per_s"].items():
        print(f"process engine, {lab}: {r:.2f} images/s from first row to last "
              f"({r / results['batch_images_per_s'][ref]:.2f}x {ref}'s thread batch)")
    name = "speed" if args.reference in ("torch", "none") else f"speed-{args.reference}"
    print(f"wrote {write_json(name + (f'-threads{args.threads}' if args.threads else '') + '.json', results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
