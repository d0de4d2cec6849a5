"""Batch assessment over a folder: one result per file, unreadable files reported and skipped over.

Only regular files that really lie inside the folder are read: a symlink or name that resolves outside
it is reported, never opened.
"""
from __future__ import annotations

import csv
import json
import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from iqa_core.inputs.load import ImageLoadError
from iqa_core.runtime import compute_threads, thread_budget
from iqa_core.scores import EMOTIONS

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
# Parallel images, not batched tensors: on CPU a batched forward pass is slower per image (see
# encoders.lite), while one image per core keeps every core busy through decode and postprocessing too.
WORKERS = max(1, min(4, os.cpu_count() or 1))
META_FIELDS = ("prompt", "negative_prompt", "tags", "caption")


def list_images(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir())


def inside(path: Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


def read_metadata_csv(path: Path) -> dict[str, dict[str, str]]:
    """meta.csv: a column `image` (file name relative to the folder) and any of prompt, tags, caption."""
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "image" not in reader.fieldnames:
            raise ValueError(f"{path} needs a column named 'image'")
        return {row["image"]: {k: row[k] for k in META_FIELDS if row.get(k)} for row in reader}


def error_row(name: str, message: str) -> dict:
    return {"image": name, "error": message}


def prepare_file(assessor, path: Path, folder: Path, metadata: Mapping[str, dict[str, str]]):
    """The first half of assess_file: the file decoded and its metadata merged (Assessor.preprocess), or
    the error row of a file that cannot be used."""
    path, folder = Path(path), Path(folder)
    if not inside(path, folder):
        return error_row(path.name, "refused: the file lies outside the folder (symlink or '..')")
    name = path.relative_to(folder).as_posix()
    try:
        return assessor.preprocess(path, name=name, **metadata.get(name, {}))
    except ImageLoadError as err:
        return error_row(name, str(err))


def finish_file(assessor, prepared) -> dict:
    """The second half of assess_file: the row of prepare_file's result (encoded and assessed, as
    Assessor.assess does after preprocess; an error row passes through)."""
    if isinstance(prepared, dict):
        return prepared
    try:
        return assessor.postprocess(prepared, assessor.forward([prepared])[0]).to_dict()
    except ImageLoadError as err:
        return error_row(prepared.loaded.name, str(err))


def assess_file(assessor, path: Path, folder: Path, metadata: Mapping[str, dict[str, str]]) -> dict:
    """The one per-file step of every engine (local threads, Ray actors), so their rows are identical: the
    assessment's fields, or `image` and `error` for a file that cannot be used."""
    return finish_file(assessor, prepare_file(assessor, path, folder, metadata))


def worker_threads(workers: int) -> int:
    """The thread budget (torch's and ONNX Runtime's intra-op threads) split between the workers: two workers
    of one thread each beat two of two threads each by about 10% on 2 cores. The decoder is not counted: it
    waits on the file and on libjpeg, a small share of a core. An Assessor made under this budget makes its
    ONNX sessions for it once, instead of a second set when the batch starts (about 100 MB)."""
    return max(1, compute_threads() // max(1, workers))


def run(assessor, folder: Path, metadata: dict[str, dict[str, str]] | None = None,
        files: Iterable[Path] | None = None, workers: int = WORKERS) -> Iterator[dict]:
    """Yield one dict per image, in file order: the assessment's fields, or `image` and `error`.

    One thread decodes ahead (prepare_file: decoding, orientation and metadata release the GIL for much of
    their time) while `workers` threads encode and assess (finish_file; ONNX Runtime releases the GIL while
    it runs). At most 2 x workers images are in flight, so memory stays flat over any folder size."""
    folder = Path(folder)
    metadata = metadata or {}
    paths = list(files) if files is not None else list_images(folder)
    workers = max(1, workers)
    with (thread_budget(worker_threads(workers)), ThreadPoolExecutor(1, thread_name_prefix="iqa-decode") as decoder,
          ThreadPoolExecutor(workers, thread_name_prefix="iqa-batch") as pool):
        pending: deque = deque()
        for path in paths:
            decoded = decoder.submit(prepare_file, assessor, path, folder, metadata)
            pending.append(pool.submit(lambda d=decoded: finish_file(assessor, d.result())))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def flat_row(row: dict) -> dict:
    """One CSV row: scores, emotions, sentiment and attributes as columns (no regions or metadata)."""
    if row.get("error"):
        return {"image": row["image"], "error": row["error"]}
    flat = {k: row.get(k) for k in ("image", "width", "height", "quality", "aesthetics", "alignment", "valence",
                                     "arousal", "ai_generated")}
    flat.update({f"emotion_{e}": row["emotions"][e] for e in EMOTIONS})
    flat["sentiment"] = row["sentiment"]["label"]
    flat["sentiment_probability"] = row["sentiment"]["probability"]
    flat.update({f"attr_{k}": v["score"] for k, v in row["attributes"].items()})
    flat["explanation"] = row["explanation"]
    flat["error"] = ""
    return flat


def csv_columns() -> list[str]:
    from iqa_core.scores import ATTRIBUTES

    return (["image", "width", "height", "quality", "aesthetics", "alignment", "valence", "arousal", "ai_generated"]
            + [f"emotion_{e}" for e in EMOTIONS] + ["sentiment", "sentiment_probability"]
            + [f"attr_{a}" for a in ATTRIBUTES] + ["explanation", "error"])


class JsonLinesSink:
    """The whole assessment, one JSON object per line."""

    def __init__(self, path: Path):
        self.fh = open(path, "w", encoding="utf-8")

    def write(self, row: dict) -> None:
        self.fh.write(json.dumps(row, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.fh.close()


class CsvSink:
    """flat_row's columns."""

    def __init__(self, path: Path):
        self.fh = open(path, "w", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.fh, fieldnames=csv_columns())
        self.writer.writeheader()

    def write(self, row: dict) -> None:
        self.writer.writerow(flat_row(row))

    def close(self) -> None:
        self.fh.close()


class ParquetSink:
    """flat_row's columns, typed (sizes int64, scores float64, the rest strings; null where a row has no
    value), written in row groups so memory stays flat over any number of rows."""
    GROUP = 1024
    TEXT = frozenset({"image", "sentiment", "explanation", "error"})
    INTEGER = frozenset({"width", "height"})

    def __init__(self, path: Path):
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as err:
            raise RuntimeError("parquet output needs pyarrow: pip install .[parquet]") from err
        self.pa = pa
        kind = lambda c: pa.string() if c in self.TEXT else pa.int64() if c in self.INTEGER else pa.float64()  # noqa: E731
        self.schema = pa.schema([(c, kind(c)) for c in csv_columns()])
        self.writer = pq.ParquetWriter(path, self.schema)
        self.rows: list[dict] = []

    def write(self, row: dict) -> None:
        self.rows.append(flat_row(row))
        if len(self.rows) >= self.GROUP:
            self._flush()

    def _flush(self) -> None:
        if self.rows:
            self.writer.write_table(self.pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self._flush()
        self.writer.close()


SINKS = {".jsonl": JsonLinesSink, ".json": JsonLinesSink, ".csv": CsvSink, ".parquet": ParquetSink}


class ResultWriter:
    """Writes rows to the sink that the output's suffix names (SINKS); JSON lines for any other suffix."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.sink = SINKS.get(self.path.suffix.lower(), JsonLinesSink)(self.path)

    def write(self, row: dict) -> None:
        self.sink.write(row)

    def close(self) -> None:
        self.sink.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
