"""Hostile-file benchmark: every file of tests/hostile_files.py's corpus through the core assessment, with its
outcome (a result or a clear refusal), wall time and memory, checked against per-file bounds.

    python -m benchmarks.hostile [--max-seconds 10] [--max-rss-mb 2048] [--timeout 120] [--threads N]

Builds the corpus in a temporary folder, then runs ONE child process (multiprocessing, spawn) that loads
iqa_core.pipeline.Assessor once, warms it up on an ordinary image and assesses each file in turn. Per file:
the wall time of `assessor.assess(path, prompt=...)`, the outcome, the child's RSS afterwards (psutil) and
how far the file pushed the child's peak RSS (getrusage's ru_maxrss, a high-water mark: a file that stays under
an earlier peak shows 0). A file unanswered after --timeout seconds counts as a failure and ends the run.
Bounds: every file within --max-seconds, the child's peak RSS within --max-rss-mb. Exits non-zero if a bound
fails or a file raised anything but ImageLoadError. --threads sets torch's thread count in the child (default:
torch's own, one per core); on a CPU shared with other work, fewer threads than cores avoids oversubscription.
Writes benchmarks/results/hostile.json.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import queue
import resource
import tempfile
import time
from pathlib import Path

from benchmarks.common import table, write_json

PROMPT = "a photo of a red bicycle in the snow"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def _child(paths: list[str], prompt: str, threads: int, out: mp.Queue) -> None:
    """In the spawned process: load once, then one message per file."""
    import psutil
    from PIL import Image

    from iqa_core.inputs.load import ImageLoadError
    from iqa_core.pipeline import Assessor
    from iqa_core.runtime import compute_threads, set_thread_budget

    if threads > 0:
        set_thread_budget(threads)
    proc = psutil.Process()
    t0 = time.perf_counter()
    assessor = Assessor()
    load_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:  # warm-up: lazy text model, first allocations
        warm = Path(tmp) / "warm.png"
        Image.new("RGB", (256, 192), (90, 120, 200)).save(warm)
        assessor.assess(warm, prompt=prompt)
    out.put({"kind": "ready", "load_s": load_s, "threads": compute_threads(),
             "rss_mb": proc.memory_info().rss / 2**20, "peak_mb": _peak_mb()})
    for path in paths:
        before = _peak_mb()
        t0 = time.perf_counter()
        try:
            a = assessor.assess(path, prompt=prompt)
            outcome, ok = f"result: quality {a.quality:.1f}", True
        except ImageLoadError as err:
            outcome, ok = f"refused: {str(err)[:60]}", True
        except BaseException as err:  # noqa: BLE001 - anything else is what this benchmark looks for
            outcome, ok = f"CRASH {type(err).__name__}: {str(err)[:60]}", False
        seconds = time.perf_counter() - t0
        after = _peak_mb()
        out.put({"kind": "file", "path": path, "outcome": outcome, "ok": ok, "seconds": seconds,
                 "rss_mb": proc.memory_info().rss / 2**20, "peak_mb": after, "peak_increase_mb": after - before})
    out.put({"kind": "done"})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-seconds", type=float, default=10.0, help="bound on each file's assessment")
    ap.add_argument("--max-rss-mb", type=float, default=2048.0, help="bound on the child's peak RSS")
    ap.add_argument("--timeout", type=float, default=120.0, help="give up on a file (and the run) after this")
    ap.add_argument("--threads", type=int, default=0, help="torch threads in the child (0: torch's default)")
    args = ap.parse_args(argv)
    from tests.hostile_files import build_corpus

    with tempfile.TemporaryDirectory(prefix="iqa-hostile-") as tmp:
        corpus = build_corpus(tmp)
        names = {str(p): p.name for p in corpus.values()}
        cases = {str(p): n for n, p in corpus.items()}  # the builder's name: what is hostile about the file
        sizes = {str(p): p.stat().st_size for p in corpus.values()}
        ctx = mp.get_context("spawn")
        messages = ctx.Queue()
        child = ctx.Process(target=_child, args=(list(names), PROMPT, args.threads, messages), daemon=True)
        child.start()
        try:
            ready = messages.get(timeout=600)  # imports and model loading, slower on a busy CPU
            files, stuck = [], None
            for path in names:
                try:
                    msg = messages.get(timeout=args.timeout)
                except queue.Empty:
                    stuck = path
                    break
                files.append(msg)
            if stuck is None:
                messages.get(timeout=30)  # "done"
        finally:
            if child.is_alive():
                child.terminate()
            child.join(30)
            messages.close()
            messages.join_thread()

    rows = [[names[f["path"]], sizes[f["path"]] / 1024, f["outcome"], f["seconds"], f["rss_mb"],
             f["peak_increase_mb"]] for f in files]
    if stuck is not None:
        rows.append([names[stuck], sizes[stuck] / 1024, f"TIMEOUT after {args.timeout:g} s", args.timeout, "", ""])
    print(f"child ({ready['threads']} torch threads): models loaded in {ready['load_s']:.1f} s; "
          f"after warm-up RSS {ready['rss_mb']:.0f} MB, "
          f"peak {ready['peak_mb']:.0f} MB")
    print(table(rows, ["file", "size (KB)", "outcome", "seconds", "RSS after (MB)", "peak-RSS increase (MB)"],
                f"Hostile corpus: {len(corpus)} files, prompt {PROMPT!r}"))

    max_s = max([f["seconds"] for f in files] + ([args.timeout] if stuck else []), default=0.0)
    slowest = max(files, key=lambda f: f["seconds"], default=None)
    peak = max([ready["peak_mb"]] + [f["peak_mb"] for f in files])
    max_rss_after = max((f["rss_mb"] for f in files), default=0.0)
    crashes = [names[f["path"]] for f in files if not f["ok"]]
    checks = {
        "every file answered": stuck is None and len(files) == len(corpus),
        f"every file <= {args.max_seconds:g} s": stuck is None and max_s <= args.max_seconds,
        f"peak RSS <= {args.max_rss_mb:g} MB": peak <= args.max_rss_mb,
        "only results or clear refusals": not crashes,
    }
    print(f"max seconds per file: {max_s:.2f}" + (f" ({names[slowest['path']]})" if slowest else ""))
    print(f"max RSS after a file: {max_rss_after:.0f} MB; peak RSS of the child: {peak:.0f} MB")
    for check, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {check}")
    path = write_json("hostile.json", {
        "prompt": PROMPT, "torch_threads": ready["threads"], "load_s": ready["load_s"], "warm_rss_mb": ready["rss_mb"],
        "files": {names[f["path"]]: {"case": cases[f["path"]], "size_kb": sizes[f["path"]] / 1024,
                                     "outcome": f["outcome"], "seconds": f["seconds"], "rss_after_mb": f["rss_mb"],
                                     "peak_rss_increase_mb": f["peak_increase_mb"]} for f in files},
        "timed_out": names[stuck] if stuck else None, "crashes": crashes,
        "max_seconds": max_s, "peak_rss_mb": peak, "max_rss_after_mb": max_rss_after,
        "bounds": {"max_seconds": args.max_seconds, "max_rss_mb": args.max_rss_mb},
        "checks": checks, "pass": all(checks.values())})
    print(f"wrote {path}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
