"""Explanation writer benchmark: SmolLM2-135M-Instruct on dev images.

    python -m benchmarks.explain [--n 20] [--threads 1]

Each image is assessed with the LLM writer (the faithfulness check runs as in the product). Reported: the
LLM's load time (the first start converts the GGUF file, later starts read the cached conversion), seconds
per paragraph p50/p95 (target <= 3 s on 2 cores), tokens per second, and how many LLM texts passed the
faithfulness check (the rest fell back to the template). Writes benchmarks/results/explain.json.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import table, write_json
from iqa_core.explain import writers
from iqa_core.pipeline import Assessor
from iqa_core.runtime import compute_threads
from iqa_core.training import datasets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None, help="torch threads while generating (default: the writer's)")
    args = ap.parse_args(argv)
    samples = datasets.load("agiqa3k")[: args.n // 2] + datasets.load("para")[: args.n - args.n // 2]
    llm = writers.get_writer("smollm2", **({"threads": args.threads} if args.threads else {}))
    t0 = time.perf_counter()
    llm.load()
    load_s = time.perf_counter() - t0
    assessor = Assessor(writer=llm)
    records = []
    for s in samples:
        a = assessor.assess(s.path, prompt=s.prompt)
        records.append({"image": s.path.name, "seconds": a.timings_ms["explanation"] / 1000.0,
                        "generate_seconds": llm.last["seconds"], "new_tokens": llm.last["new_tokens"],
                        "prompt_tokens": llm.last["prompt_tokens"], "tokens_per_s": llm.last["tokens_per_s"],
                        "final_writer": a.backends["explanation"], "check": a.models.get("explanation_check"),
                        "fallback": a.models.get("explanation_fallback"), "text": a.explanation})
    secs = np.array([r["seconds"] for r in records])
    passed = sum(r["final_writer"] == llm.name for r in records)
    threads = llm.threads or compute_threads()
    summary = {"n": len(records), "threads": threads, "dtype": llm.dtype, "load_s": round(load_s, 2), "load": llm.load_info,
               "p50_s": float(np.percentile(secs, 50)), "p95_s": float(np.percentile(secs, 95)),
               "max_s": float(secs.max()), "tokens_per_s_p50": float(np.median([r["tokens_per_s"] for r in records])),
               "new_tokens_p50": float(np.median([r["new_tokens"] for r in records])), "passed_check": passed}
    print(table([[f"smollm2 ({llm.dtype}, {threads} thread{'s' if threads > 1 else ''})", summary["load_s"],
                  summary["p50_s"], summary["p95_s"], summary["max_s"], summary["tokens_per_s_p50"],
                  f"{passed}/{len(records)}"]],
                ["writer", "load (s)", "p50 (s)", "p95 (s)", "max (s)", "tokens/s", "passed check"],
                f"One paragraph per image, {len(records)} dev images (target: <= 3 s per paragraph)"))
    path = write_json("explain.json", {**summary, "records": records})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
