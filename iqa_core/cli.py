"""Command line: `python -m iqa_core assess IMAGE ...` and `python -m iqa_core batch FOLDER ...`.

The two commands, their flags and the output field names are a contract that outside scripts rely on.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from iqa_core.inputs.load import ImageLoadError
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
    try:
        files = batch.list_images(folder)
        meta = batch.read_metadata_csv(Path(args.metadata)) if args.metadata else {}
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    assessor = _assessor()
    n_err = 0
    with batch.ResultWriter(Path(args.out)) as out, tqdm(total=len(files), unit="img", file=sys.stderr) as bar:
        for row in batch.run(assessor, folder, meta, files):
            out.write(row)
            n_err += bool(row.get("error"))
            bar.update(1)
    print(f"{len(files) - n_err} assessed, {n_err} unreadable -> {args.out}", file=sys.stderr)
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
    b.add_argument("--out", required=True, help="results.jsonl (one JSON object per line) or results.csv")
    b.add_argument("--metadata", help="CSV with a column 'image' and any of prompt, negative_prompt, tags, caption")
    b.set_defaults(func=cmd_batch)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
