"""Scale benchmark: the Ray Data engine against the local batch on the same images, in one run, and what a
cluster for 1 million images an hour would need.

    python -m benchmarks.scale [--n 40]

Measures, on this machine's CPU: the per-image CPU cost (one thread, one image at a time); the local batch's
images/s (its default threads), warm and including the model load; the Ray engine's images/s with 1 and 2
workers including start-up (Ray, actors loading the model), and every engine's time per image inside a
worker; the peak memory of one Ray worker. From the CPU cost it estimates the cores, nodes and memory for
1 million images an hour. Writes benchmarks/results/scale.json.
"""
from __future__ import annotations

import argparse
import math
import os
import threading
import time

import psutil

from benchmarks.common import table, write_json
from iqa_core.runtime import thread_budget
from iqa_core.training import datasets
from iqa_core.workflows import batch, ray_engine

TARGET_PER_HOUR = 1_000_000
NODE_CORES = 16  # a common cloud node size, for the estimate's node count
HEADROOM = 1.25  # the estimate's margin for stragglers, retries and larger images than the dev set's


def timed_rows(rows) -> tuple[list[dict], float, float]:
    """The rows, seconds to the first and to the last."""
    t0 = time.perf_counter()
    out, first = [], None
    for r in rows:
        out.append(r)
        first = first if first is not None else time.perf_counter() - t0
    return out, first or 0.0, time.perf_counter() - t0


class WorkerMemory:
    """Samples the resident memory of this process's Ray pool workers while a job runs; keeps the peak."""

    def __init__(self):
        self.peak_mb = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = psutil.Process()
        while not self.stop.wait(0.5):
            for p in me.children(recursive=True):
                try:
                    if "AssessBatch" in " ".join(p.cmdline()):
                        self.peak_mb = max(self.peak_mb, p.memory_info().rss / 2**20)
                except psutil.Error:
                    pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def in_worker_ms(rows: list[dict]) -> float:
    """Mean time of one assessment inside a worker (the pipeline's own stage timings), good rows only."""
    good = [r["timings_ms"]["total"] for r in rows if not r.get("error")]
    return sum(good) / len(good)


def strip(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "timings_ms"} for r in rows]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40)
    args = ap.parse_args(argv)
    folder = datasets.DEFAULT_ROOT / "livec-dev" / "images"
    files = batch.list_images(folder)[: args.n]
    load_before = os.getloadavg()

    from iqa_core.pipeline import Assessor

    t0 = time.perf_counter()
    assessor = Assessor()
    assessor.assess(files[0])  # warm-up: lazy parts, allocations
    local_load_s = time.perf_counter() - t0
    cpu0 = time.process_time()
    with thread_budget(1):
        _, _, serial_s = timed_rows(batch.run(assessor, folder, files=files, workers=1))
    cpu_per_image = (time.process_time() - cpu0) / len(files)
    local, _, local_s = timed_rows(batch.run(assessor, folder, files=files))

    ray_runs = {}
    t0 = time.perf_counter()
    with ray_engine.session(num_cpus=2):
        ray_init_s = time.perf_counter() - t0
        for workers in (1, 2):
            with WorkerMemory() as mem:
                rows, first, last = timed_rows(ray_engine.run(folder, files=files, workers=workers))
            ray_runs[workers] = {"rows_identical_to_local": strip(rows) == strip(local), "first_row_s": first,
                                 "total_s": last, "end_to_end_images_per_s": len(rows) / last,
                                 "in_worker_ms_per_image": in_worker_ms(rows),
                                 "worker_peak_rss_mb": mem.peak_mb}
    n = len(files)
    local_ips = n / local_s
    local_e2e = n / (local_s + local_load_s)
    rows = [["local, 1 thread (CPU cost)", 1, "-", n / serial_s, "-", "-"],
            [f"local, {batch.WORKERS} threads", batch.WORKERS, local_e2e, local_ips, in_worker_ms(local), "-"]]
    for w, r in ray_runs.items():
        rows.append([f"ray, {w} worker{'s' * (w > 1)}", w, r["end_to_end_images_per_s"], "-",
                     r["in_worker_ms_per_image"], r["rows_identical_to_local"]])
    print(table(rows, ["engine", "workers", "img/s incl. start", "img/s warm", "ms/img in worker", "rows = local"],
                f"{n} LIVE-C dev images on {os.cpu_count()} cores (shared machine; load {load_before[0]:.1f})"))

    e2e_ratio = ray_runs[2]["end_to_end_images_per_s"] / local_e2e
    per_image_ratio = ray_runs[2]["in_worker_ms_per_image"] / in_worker_ms(local)
    # A worker is one single-threaded actor on one core, so the cores needed follow from the per-image CPU
    # cost; the headroom covers Ray's per-batch traffic, retries and stragglers.
    target = TARGET_PER_HOUR / 3600
    cores = math.ceil(target * cpu_per_image * HEADROOM)
    nodes = math.ceil(cores / NODE_CORES)
    worker_gb = ray_runs[2]["worker_peak_rss_mb"] / 1024
    estimate = (f"1,000,000 images/hour = {target:.0f} images/s. At the measured {cpu_per_image:.3f} CPU-s per image "
                f"(one thread) that is {target * cpu_per_image:.0f} busy cores, {cores} with {HEADROOM - 1:.0%} "
                f"headroom: {nodes} nodes of {NODE_CORES} cores, one worker per core at about {worker_gb:.1f} GB "
                f"each ({cores * worker_gb:.0f} GB in all), the folder on a volume every node mounts at the same "
                f"path. Start-up (Ray, then every worker loading the model: {ray_runs[2]['first_row_s']:.0f} s "
                f"to the first row here) is paid once per job. Images larger than LIVE-C's 500x500 cost more to "
                f"decode; cores on a dedicated node run faster than on this shared one.")
    print(f"Ray (2 workers) against the local batch, same images, same run: {e2e_ratio:.2f}x the images/s "
          f"including start-up (Ray start {ray_init_s:.1f} s, each worker loads the model); per image in a "
          f"worker {per_image_ratio:.2f}x the local engine's time")
    print(estimate)
    path = write_json("scale.json", {
        "n": n, "images": "LIVE-C dev, first n by name", "cores": os.cpu_count(),
        "note": ("shared machine: the lead, other helpers and a background feature-extraction job ran at the same "
                 "time; ratios are from one run on the same images, absolute rates are low"),
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "cpu_s_per_image_one_thread": cpu_per_image, "local_serial_images_per_s": n / serial_s,
        "local": {"workers": batch.WORKERS, "images_per_s": local_ips, "model_load_s": local_load_s,
                  "end_to_end_images_per_s": local_e2e, "in_worker_ms_per_image": in_worker_ms(local)},
        "ray_init_s": ray_init_s, "ray": {str(w): r for w, r in ray_runs.items()},
        "ray_over_local_end_to_end": e2e_ratio, "ray_over_local_ms_per_image": per_image_ratio,
        "million_per_hour": {"images_per_s": target, "busy_cores": target * cpu_per_image, "cores": cores,
                             "headroom": HEADROOM, "nodes": nodes, "node_cores": NODE_CORES,
                             "memory_gb": cores * worker_gb, "estimate": estimate},
    })
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
