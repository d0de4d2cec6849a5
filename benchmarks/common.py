"""Shared by the benchmarks: a plain-text table, a JSON writer (results land in benchmarks/results/) and the
memory of a process tree."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
# How many of para-train's photos the shipped heads trained on (its first N; the rest is never read), so a
# benchmark compares like with like and does not encode all 11,664 photos.
SHIPPED_PARA_TRAIN = json.loads((ROOT / "iqa_core" / "weights" / "training_report.json").read_text())["para_train"]
if str(ROOT) not in sys.path:  # runnable as `python benchmarks/x.py` as well as `python -m benchmarks.x`
    sys.path.insert(0, str(ROOT))


def table(rows: list[list], headers: list[str], title: str | None = None) -> str:
    """Left-aligned first column, right-aligned numbers; floats with 3 significant decimals."""
    cells = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    lines = ([title] if title else []) + [fmt(headers), "  ".join("-" * w for w in widths)] + [fmt(r) for r in cells]
    return "\n".join(lines)


def write_json(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=1))
    return path


def read_json(name: str) -> dict:
    """An earlier run's results (empty when there is none), for benchmarks that run their variants in parts."""
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else {}


def tree_rss_mb(proc: psutil.Process) -> float:
    """Resident memory of a process and all its descendants (worker processes count too), in MB."""
    total = 0
    for q in [proc, *proc.children(recursive=True)]:
        try:
            total += q.memory_info().rss
        except psutil.Error:  # exited between the listing and the reading
            pass
    return total / 2**20
