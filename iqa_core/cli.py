"""Command line: `python -m iqa_core assess IMAGE ...` and `python -m iqa_core batch FOLDER ...`.

The two commands, their flags and the output field names are a contract that outside scripts rely on.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from iqa_core.inputs.load import ImageLoadError
from iqa_core.runtime import thread_budget
from iqa_core.workflows import batch


def _assessor():
    from iqa_core.pipeline import Assessor

    return Assessor()


def cmd_assess(args) -> int:
    assessor = _assessor()
    try:
        done = assessor.assess_with_image(args.image, prompt=args.prompt, tags=args.tags, caption=args.caption,
                                          negative_prompt=args.negative_prompt)
    except ImageLoadError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    result = done.assessment
    if args.overlay:
        from iqa_core.render.overlay import overlay

        overlay(done.image, result.regions).save(args.overlay)
    if args.json:
        print(result.to_json(indent=2))
        return 0
    print(f"{result.image}: quality {result.quality:.1f}  aesthetics {result.aesthetics:.1f}"
          + (f"  alignment {result.alignment:.1f}" if result.alignment is not None else "")
          + f"  valence {result.valence:.2f}  arousal {result.arousal:.2f}  {result.sentiment.label}")
    print("attributes: " + ", ".join(f"{k} {v.score:.0f}" for k, v in result.attributes.items()))
    print(result.explanation)
    return 0


def cmd_batch(args) -> int:
    folder = Path(args.folder)
    if args.address and args.engine != "ray":
        print("error: --address needs --engine ray", file=sys.stderr)
        return 2
    if args.workers is not None and args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        files = batch.list_images(folder)
        meta = batch.read_metadata_csv(Path(args.metadata)) if args.metadata else {}
        out = batch.ResultWriter(Path(args.out))  # before any model loads: a bad output path fails at once
    except (OSError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    with out:
        if args.engine == "ray":
            return _batch_on_ray(args, folder, files, meta, out)
        from tqdm import tqdm

        workers = args.workers or batch.WORKERS
        if args.engine == "processes":
            from iqa_core.workflows import process_engine

            rows = process_engine.run(folder, meta, files, workers=workers)
        else:
            with thread_budget(batch.worker_threads(workers)):
                assessor = _assessor()
            rows = batch.run(assessor, folder, meta, files, workers=workers)
        return _write_rows(out, len(files), tqdm(rows, total=len(files), unit="img", file=sys.stderr))


def _batch_on_ray(args, folder: Path, files: list[Path], meta: dict, out: batch.ResultWriter) -> int:
    try:
        import ray  # noqa: F401  (only to say plainly that it is missing)
    except ImportError:
        print("error: --engine ray needs Ray: pip install .[ray]", file=sys.stderr)
        return 2
    from iqa_core.workflows import ray_engine

    # Ray Data shows its own progress on the console.
    try:
        with ray_engine.session(args.address, num_cpus=args.workers):
            return _write_rows(out, len(files), ray_engine.run(folder, meta, files, workers=args.workers))
    except ConnectionError as err:
        print(f"error: cannot reach the Ray cluster at {args.address} ({err}); a cluster guarded by a token "
              "(Ray's default) needs RAY_AUTH_MODE=token and its token (`ray get-auth-token` on the head)",
              file=sys.stderr)
        return 2


def _write_rows(out: batch.ResultWriter, n_files: int, rows) -> int:
    n_err = 0
    for row in rows:
        out.write(row)
        n_err += bool(row.get("error"))
    print(f"{n_files - n_err} assessed, {n_err} unreadable -> {out.path}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m iqa_core", description="Explainable image assessment.")
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("assess", help="assess one image")
    a.add_argument("image")
    a.add_argument("--prompt")
    a.add_argument("--negative-prompt")
    a.add_argument("--tags", help="comma-separated")
    a.add_argument("--caption")
    a.add_argument("--json", action="store_true", help="print the whole assessment as JSON")
    a.add_argument("--overlay", help="also save the region overlay to this PNG")
    a.set_defaults(func=cmd_assess)
    b = sub.add_parser("batch", help="assess every image in a folder")
    b.add_argument("folder")
    b.add_argument("--out", required=True,
                   help="results.jsonl (one JSON object per line), results.csv or results.parquet (the CSV's columns)")
    b.add_argument("--metadata", help="CSV with a column 'image' and any of prompt, negative_prompt, tags, caption")
    b.add_argument("--engine", choices=("processes", "local", "ray"), default="processes",
                   help="processes: worker processes on this machine, each with its own models (default); local: "
                        "threads in this process, one set of models; ray: a Ray Data job (pip install .[ray])")
    b.add_argument("--address", help="with --engine ray: the Ray cluster to join (e.g. auto, ray://head:10001); "
                                     "without it a local Ray starts for the job")
    b.add_argument("--workers", type=int, help=f"threads for local, processes for processes (default {batch.WORKERS}), "
                                               "Ray actors for ray (default: one per CPU Ray sees)")
    b.set_defaults(func=cmd_batch)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
