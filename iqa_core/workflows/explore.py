"""Explore: assess a labelled server folder and set the predicted score beside the human one (agreement,
largest disagreements), flagging folders the head was trained on."""
from __future__ import annotations

import csv
import os
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iqa_core.inputs.load import ImageLoadError, load_image
from iqa_core.render.html import as_float
from iqa_core.scores import SCORES
from iqa_core.workflows import batch
from iqa_core.workflows.uploads import UserError

MAX_EXPLORE = 300  # images per explore run


def resolve_allowed(path: str | os.PathLike, roots: Sequence[Path], what: str) -> Path:
    """The resolved path if it lies under one of the roots; else a UserError naming the roots."""
    if not str(path or "").strip():
        raise UserError(f"Enter a {what} on the server.")
    p = Path(str(path).strip()).expanduser()
    p = p.resolve()
    for root in roots:
        if p.is_relative_to(Path(root).resolve()):
            return p
    shown = ", ".join(str(r) for r in roots) or "(none configured)"
    raise UserError(f"The {what} must lie under one of the allowed folders: {shown}.")


def read_labels(csv_path: Path) -> tuple[list[dict[str, str]], list[str]]:
    """Rows of a labels CSV (needs an `image` column) and its numeric columns, in file order."""
    try:
        with open(csv_path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            if "image" not in fields:
                raise UserError(f"{Path(csv_path).name} needs a column named 'image'.")
            rows = [row for _, row in zip(range(100_000), reader)]
    except OSError as exc:
        raise UserError(f"The labels file {Path(csv_path).name} cannot be read ({exc.strerror or exc}).") from exc
    except csv.Error as exc:
        raise UserError(f"{Path(csv_path).name} is not a readable CSV file ({exc}).") from exc
    numeric = []
    for col in fields:
        if col == "image" or not col:
            continue
        vals = [row.get(col) for row in rows[:500]]
        ok = sum(as_float(v) is not None for v in vals)
        if vals and ok >= 0.9 * len(vals):
            numeric.append(col)
    return rows, numeric


_HINTS = {"quality": ("mos_quality", "quality", "mos", "score"), "aesthetics": ("aesthetic", "mos", "score"),
          "alignment": ("align",), "valence": ("valence",), "arousal": ("arousal",)}


def guess_human_column(columns: Sequence[str], score: str) -> str | None:
    """The numeric column most likely to hold the human version of `score` (never a std column)."""
    cands = [c for c in columns if "std" not in c.lower()] or list(columns)
    for hint in _HINTS.get(score, ()):
        for c in cands:
            if hint in c.lower():
                return c
    return cands[0] if cands else None


def default_labels_path(folder: Path) -> Path | None:
    for cand in (folder / "labels.csv", folder.parent / "labels.csv"):
        if cand.is_file():
            return cand
    return None


def training_overlap(folder: Path, score: str) -> str | None:
    """The training set named in SCORES[score].trained_on that this folder belongs to, if any."""

    parts = {p.lower() for p in Path(folder).resolve().parts}
    for name in re.findall(r"[\w.]+-(?:dev|train)\b", SCORES[score].trained_on):
        if name.lower() in parts:
            return name
    return None


@dataclass
class ExploreResult:
    names: list[str]
    predicted: list[float]
    human: list[float]
    paths: list[Path]
    score: str
    human_column: str
    note: str
    errors: list[dict]
    disagreements: list[int]  # indices into names, largest rank difference first
    in_sample: str | None = None  # the training set these images belong to, if any

    @property
    def n(self) -> int:
        return len(self.names)


def _ranks(values: Sequence[float]) -> list[float]:
    from scipy.stats import rankdata

    return list(rankdata(values))


def largest_disagreements(predicted: Sequence[float], human: Sequence[float], k: int = 8) -> list[int]:
    """Indices with the largest absolute rank difference between predicted and human scores."""
    if not predicted:
        return []
    rp, rh = _ranks(predicted), _ranks(human)
    order = sorted(range(len(predicted)), key=lambda i: -abs(rp[i] - rh[i]))
    return order[:k]


def run_explore(assessor, folder: str, labels: str | None, human_column: str | None, score: str,
                limit: int, roots: Sequence[Path],
                progress: Callable[[int, int], None] | None = None) -> ExploreResult:
    """Assess up to `limit` (<= MAX_EXPLORE) labelled images of a server folder and pair each predicted
    `score` with the human column."""
    if score not in SCORES:
        raise UserError(f"Unknown score {score!r}; choose one of {', '.join(SCORES)}.")
    root = resolve_allowed(folder, roots, "folder")
    if not root.is_dir():
        raise UserError(f"There is no folder at {folder}.")
    if labels and str(labels).strip():
        csv_path = resolve_allowed(labels, roots, "labels CSV")
    else:
        csv_path = default_labels_path(root)
        if csv_path is None:
            raise UserError("No labels.csv found in the folder or next to it; enter the path of the CSV.")
    if not csv_path.is_file():
        raise UserError(f"There is no labels CSV at {labels}.")
    rows, numeric = read_labels(csv_path)
    if not numeric:
        raise UserError(f"{csv_path.name} has no numeric column to compare with.")
    column = human_column if human_column in numeric else guess_human_column(numeric, score)
    usable = []
    for row in rows:
        value = as_float(row.get(column))
        name = (row.get("image") or "").strip()
        if value is None or not name:
            continue
        path = root / name
        if path.is_file() and batch.inside(path, root):
            usable.append((name, value))
    if not usable:
        raise UserError(f"None of the images named in {csv_path.name} are in {root.name}.")
    limit = max(3, min(int(limit or MAX_EXPLORE), MAX_EXPLORE))
    note = f"Assessed all {len(usable)} labelled images found."
    if len(usable) > limit:
        usable = sorted(random.Random(0).sample(usable, limit))
        note = (f"Assessed a random sample of {limit} of the {len(rows)} labelled images (seed 0); "
                f"the cap is {MAX_EXPLORE} per run.")
    human_by_name = dict(usable)
    try:
        meta = batch.read_metadata_csv(csv_path)
    except (ValueError, OSError):
        meta = {}
    files = [root / n for n, _ in usable]
    names, pred, hum, paths, errors = [], [], [], [], []
    for i, row in enumerate(batch.run(assessor, root, meta, files), 1):
        if progress:
            progress(i, len(files))
        if row.get("error"):
            errors.append(row)
            continue
        if row.get(score) is None:
            errors.append(batch.error_row(row["image"], f"no {score} score (alignment needs a prompt column)"))
            continue
        names.append(row["image"])
        pred.append(float(row[score]))
        hum.append(human_by_name[row["image"]])
        paths.append(root / row["image"])
    if errors:
        note += f" {len(errors)} could not be scored."
    overlap = training_overlap(root, score)
    if overlap:
        note += (f"\n\n**In-sample:** the {score} head was trained on {overlap}, which includes these images, so "
                 "this agreement overstates accuracy on new images (cross-validated figures are in "
                 "`iqa_core/weights/training_report.json`).")
    return ExploreResult(names, pred, hum, paths, score, column, note, errors, largest_disagreements(pred, hum),
                         overlap)


def disagreement_gallery(result: ExploreResult, max_side: int = 384) -> list[tuple[Any, str]]:
    """(thumbnail, caption) for the largest disagreements; captions give each image's rank by the human
    score and by the prediction (1 = highest). Thumbnails are PIL images, so the server's data folders
    are never handed to the browser as files."""
    n = result.n
    if not n:
        return []
    rp, rh = _ranks(result.predicted), _ranks(result.human)
    out = []
    for i in result.disagreements:
        try:
            thumb = load_image(result.paths[i]).image
        except ImageLoadError:
            continue
        thumb.thumbnail((max_side, max_side))
        out.append((thumb, f"{result.names[i]}: human #{n + 1 - rh[i]:.0f}, model #{n + 1 - rp[i]:.0f}"))
    return out
