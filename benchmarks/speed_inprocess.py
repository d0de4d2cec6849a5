"""One variant's in-process measurements for benchmarks/speed.py, run as a child process whose PYTHONPATH is that
variant's tree (this checkout, or an older commit's worktree), so that two versions of iqa_core are timed in
one run. Reads a JSON job on stdin, writes a JSON result on stdout:

    job:    {"samples": [[path, prompt or null], ...], "folder": str, "files": [str, ...], "threads": int}
    result: {"timings": [{stage: ms}, ...], "walls": [s, ...], "batch_images_per_s": float,
             "process_batch_images_per_s": float or null}

It uses only the calls every version since the stage packages has (Assessor.assess, timings_ms,
workflows.batch.run), and sets the thread budget by the name each version gives it.
"""
from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path


def process_rate(job: dict) -> float | None:
    """Images per second of the process engine, where this version has one: from its first row to its last,
    so that the workers' start (each loads the models, as the Assessor above did before its clock) is left
    out, as it is for the thread batch."""
    try:
        from iqa_core.workflows import process_engine
    except ImportError:
        return None
    stamps = [time.perf_counter() for r in process_engine.run(Path(job["folder"]), {}, [Path(f) for f in job["files"]])
              if not r.get("error")]
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def main() -> int:
    job = json.load(sys.stdin)
    from iqa_core import runtime
    from iqa_core.pipeline import Assessor
    from iqa_core.workflows import batch

    # thread_budget since the ONNX path stopped importing torch; torch_threads before.
    set_budget = getattr(runtime, "thread_budget", None) or runtime.torch_threads
    with set_budget(job["threads"]) if job["threads"] else nullcontext():
        assessor = Assessor()
        first, prompt = job["samples"][0]
        assessor.assess(first, prompt=prompt)  # warm-up: allocations, first calls, the text model
        timings, walls = [], []
        for path, prompt in job["samples"]:
            t0 = time.perf_counter()
            a = assessor.assess(path, prompt=prompt)
            walls.append(time.perf_counter() - t0)
            timings.append(a.timings_ms)
        t0 = time.perf_counter()
        n_ok = sum(1 for r in batch.run(assessor, Path(job["folder"]), files=[Path(f) for f in job["files"]])
                   if not r.get("error"))
        rate = n_ok / (time.perf_counter() - t0)
    json.dump({"timings": timings, "walls": walls, "batch_images_per_s": rate,
               "process_batch_images_per_s": process_rate(job)}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
