"""What users hand the app: uploads checked for size, zips extracted safely (no absolute paths, '..', links,
encrypted or oversized members; counts and bytes capped), per-image metadata from an uploaded CSV, and the
per-request work folders (old ones removed on the way)."""
from __future__ import annotations

import csv
import json
import os
import shutil
import stat
import tempfile
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from iqa_core.inputs.load import MAX_FILE_BYTES, UserError
from iqa_core.render.html import as_dict
from iqa_core.workflows import batch

MB = 1024 * 1024
MAX_BATCH_FILES = 2000  # files per batch run (loose uploads and zip members together)
MAX_ZIP_BYTES = 500 * MB  # total uncompressed size of the zips in one batch run


@dataclass
class BatchInput:
    folder: Path
    files: list[Path] = field(default_factory=list)
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[dict] = field(default_factory=list)  # {"image", "error"} rows for the results


def _zip_member_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "refused: absolute path inside the zip"
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if ".." in parts:
        return "refused: '..' in the path inside the zip"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "refused: symbolic link inside the zip"
    if info.flag_bits & 0x1:
        return "refused: the member is encrypted"
    if info.file_size > MAX_FILE_BYTES:
        return f"refused: larger than {MAX_FILE_BYTES // MB} MB"
    return None


def _unique(path: Path) -> Path:
    if not path.exists():
        return path
    for i in range(2, 100_000):
        cand = path.with_name(f"{path.stem}_{i}{path.suffix}")
        if not cand.exists():
            return cand
    raise UserError("Too many files with the same name.")


def _skip_member(name: str) -> bool:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return any((p.startswith(".") and p not in (".", "..")) or p == "__MACOSX" for p in parts)


def extract_zip(zip_path: Path, dest: Path, budget: dict[str, int]) -> tuple[list[Path], list[dict]]:
    """Extract a zip's regular files into dest, refusing absolute paths, '..', links, encrypted and
    oversized members; budget['files'] and budget['bytes'] are decremented and enforced across zips."""
    files, problems = [], []
    label = Path(zip_path).name
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        return [], [batch.error_row(label, f"The zip file cannot be read ({exc}).")]
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir() and not _skip_member(i.filename)]
        if len(infos) > budget["files"]:
            return [], [batch.error_row(label, f"The zip has {len(infos)} files; the limit is {MAX_BATCH_FILES} "
                                               "per run.")]
        declared = sum(i.file_size for i in infos)
        if declared > budget["bytes"]:
            return [], [batch.error_row(label, f"The zip would unpack to {declared / MB:.0f} MB; the limit is "
                                               f"{MAX_ZIP_BYTES // MB} MB per run.")]
        root = dest.resolve()
        for info in infos:
            member = f"{label}:{info.filename}"
            problem = _zip_member_problem(info)
            if problem:
                problems.append(batch.error_row(member, problem))
                continue
            target = _unique(root.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts))
            if not target.resolve().is_relative_to(root):
                problems.append(batch.error_row(member, "refused: the path leaves the extraction folder"))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            written, limit = 0, min(info.file_size, budget["bytes"])
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > limit:  # the header lied about the size
                            raise UserError("refused: the member is larger than its header says")
                        out.write(chunk)
            except (UserError, zipfile.BadZipFile, OSError, RuntimeError, EOFError, NotImplementedError) as exc:
                target.unlink(missing_ok=True)
                msg = str(exc) if isinstance(exc, UserError) else f"cannot be extracted ({type(exc).__name__})"
                problems.append(batch.error_row(member, msg))
                continue
            budget["bytes"] -= written
            budget["files"] -= 1
            files.append(target)
    return files, problems


def collect_batch_inputs(paths: Iterable[str | os.PathLike], workdir: Path) -> BatchInput:
    """Copy uploaded files (and the contents of uploaded zips) into workdir; a CSV with an `image` column
    becomes per-image prompts/tags/captions. Problems become error rows, never exceptions."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    out = BatchInput(folder=workdir)
    budget = {"files": MAX_BATCH_FILES, "bytes": MAX_ZIP_BYTES}
    csvs: list[Path] = []
    for raw in paths or []:
        src = Path(raw)
        if not src.is_file():
            out.problems.append(batch.error_row(src.name, "The upload is missing or not a regular file."))
            continue
        if src.suffix.lower() == ".zip":
            files, problems = extract_zip(src, workdir, budget)
            out.files += files
            out.problems += problems
            continue
        if src.suffix.lower() == ".csv":
            csvs.append(src)
            continue
        if budget["files"] <= 0:
            out.problems.append(batch.error_row(src.name, f"skipped: more than {MAX_BATCH_FILES} files in one run"))
            continue
        if src.stat().st_size > MAX_FILE_BYTES:
            out.problems.append(batch.error_row(src.name, f"The file is larger than {MAX_FILE_BYTES // MB} MB, "
                                                          "the limit."))
            continue
        target = _unique(workdir / src.name)
        shutil.copyfile(src, target)
        budget["files"] -= 1
        out.files.append(target)
    csvs += [f for f in out.files if f.suffix.lower() == ".csv"]
    out.files = [f for f in out.files if f.suffix.lower() != ".csv"]
    meta: dict[str, dict[str, str]] = {}
    for c in csvs:
        try:
            meta.update(batch.read_metadata_csv(c))
        except (ValueError, OSError, csv.Error) as exc:
            out.problems.append(batch.error_row(c.name, f"not used as metadata: {exc}".replace(str(c), c.name)))
    if meta:
        for f in out.files:
            rel = f.relative_to(workdir).as_posix()
            found = meta.get(rel) or meta.get(f.name)
            if found:
                out.metadata[rel] = found
    out.files.sort()
    return out


def write_results(rows: Sequence[Mapping], workdir: Path, stem: str = "results") -> tuple[Path, Path]:
    """CSV and JSONL files through batch.ResultWriter."""
    paths = Path(workdir) / f"{stem}.csv", Path(workdir) / f"{stem}.jsonl"
    for p in paths:
        with batch.ResultWriter(p) as w:
            for r in rows:
                w.write(dict(r))
    return paths


def new_workdir(root: Path, max_age_s: float = 2 * 3600) -> Path:
    """A fresh folder under root; folders older than max_age_s are removed on the way."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in root.iterdir():
        try:
            if old.is_dir() and now - old.stat().st_mtime > max_age_s:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return Path(tempfile.mkdtemp(dir=root))


def write_json(assessment: Any, workdir: Path) -> Path:
    a = assessment if hasattr(assessment, "to_json") else None
    name = Path(str(as_dict(assessment).get("image") or "image")).stem or "image"
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80] or "image"
    path = Path(workdir) / f"{safe}.assessment.json"

    path.write_text(a.to_json(indent=2) if a else json.dumps(as_dict(assessment), indent=2, ensure_ascii=False),
                    encoding="utf-8")
    return path
