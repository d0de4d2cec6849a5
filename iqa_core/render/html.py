"""What the app shows, as plain values: score cards, tables, sentences, messages, and the small workflows
behind each tab (safe zip extraction, label files, the explore run). No Gradio here: app.py only wires
these to components, so everything in this module can be tested without a server.

Ranges, directions and meanings come from ``scores.py``; nothing here restates them.
"""
from __future__ import annotations

import csv
import html
import logging
import os
import random
import shutil
import stat
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from iqa_core.workflows import batch
from iqa_core.inputs.load import MAX_FILE_BYTES, ImageLoadError, load_image
from iqa_core.scores import ATTRIBUTES, SCORES

log = logging.getLogger("iqa_core.app")

MB = 1024 * 1024
MAX_BATCH_FILES = 2000  # files per batch run (loose uploads and zip members together)
MAX_ZIP_BYTES = 500 * MB  # total uncompressed size of the zips in one batch run
MAX_EXPLORE = 300  # images per explore run
SENTIMENT_MEANING = "Overall feeling of the image; the percentage is the model's confidence in that label."
STAR = "★"


# ================================================================================== messages and errors
def user_message(exc: BaseException) -> str:
    """One sentence for a person. Unexpected errors are logged with their traceback, never shown."""
    if isinstance(exc, ImageLoadError):
        return str(exc)
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, FileNotFoundError) and "heads" in str(exc):
        return "The assessment models are not installed on this server (the trained heads file is missing)."
    log.exception("unexpected error in the app", exc_info=exc)
    return "Something went wrong while processing this input; the error has been logged. Please try another file."


class UserError(ValueError):
    """A problem with what the user gave (a path, a CSV, a zip); the message is meant for them."""


def message_html(text: str, kind: str = "error") -> str:
    """A small coloured box; kind is error, warning or info."""
    if not text:
        return ""
    colours = {"error": ("#b91c1c", "rgba(220, 38, 38, 0.10)"), "warning": ("#b45309", "rgba(245, 158, 11, 0.12)"),
               "info": ("#1d4ed8", "rgba(59, 130, 246, 0.10)")}
    fg, bg = colours.get(kind, colours["error"])
    return (f'<div class="iqa-msg iqa-msg-{kind}" role="alert" style="border-left:4px solid {fg};background:{bg};'
            f'padding:10px 14px;border-radius:8px;margin:4px 0;overflow-wrap:anywhere">{html.escape(text)}</div>')


def check_file_size(path: str | os.PathLike | None) -> None:
    """Refuse a missing or too-large upload before anything reads it."""
    if not path:
        raise UserError("Upload an image first.")
    p = Path(path)
    if not p.is_file():
        raise ImageLoadError(f"There is no file at {p.name}.")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImageLoadError(f"The file is {size / MB:.0f} MB; the limit is {MAX_FILE_BYTES // MB} MB.")


# ============================================================================================ score cards
def format_value(name: str, value: float | None) -> str:
    if value is None:
        return "—"
    spec = SCORES[name]
    return f"{value:.1f}" if spec.high - spec.low <= 10 else f"{value:.0f}"


def range_text(name: str) -> str:
    spec = SCORES[name]
    direction = "higher is better" if spec.higher_is_better else "lower is better"
    return f"{spec.low:g}–{spec.high:g}, {direction}"


def _card(title: str, value: str, range_label: str, meaning: str, fraction: float | None,
          aside: str = "") -> str:
    bar = ""
    if fraction is not None:
        pct = max(0.0, min(1.0, fraction)) * 100
        bar = ('<div class="iqa-bar" style="height:6px;border-radius:3px;background:rgba(128,128,128,.22);'
               'margin:6px 0 8px;overflow:hidden"><div style="height:100%;width:{:.1f}%;border-radius:3px;'
               'background:var(--color-accent, #6366f1)"></div></div>').format(pct)
    else:
        bar = '<div style="height:6px;margin:6px 0 8px"></div>'
    return (
        '<div class="iqa-card" style="border:1px solid var(--border-color-primary, rgba(128,128,128,.3));'
        'border-radius:12px;padding:12px 14px;background:var(--block-background-fill, transparent);min-width:0">'
        '<div style="display:flex;justify-content:space-between;gap:6px;align-items:baseline;flex-wrap:wrap">'
        f'<span class="iqa-card-title" style="font-weight:600">{html.escape(title)}</span>'
        f'<span class="iqa-card-range" style="font-size:.75em;opacity:.7">{html.escape(range_label)}</span></div>'
        f'<div class="iqa-card-value" style="font-size:1.9em;font-weight:700;line-height:1.15;margin-top:2px">'
        f'{html.escape(value)}{aside}</div>{bar}'
        f'<div class="iqa-card-meaning" style="font-size:.8em;opacity:.8;line-height:1.35">{html.escape(meaning)}</div>'
        '</div>'
    )


def score_cards_html(assessment: Any) -> str:
    """Quality, aesthetics, alignment (— without text), valence, arousal and sentiment, each with its
    range and one-line meaning from scores.SCORES."""
    a = _as_dict(assessment)
    cards = []
    for name, spec in SCORES.items():
        value = a.get(name)
        meaning = spec.meaning
        if name == "alignment" and value is None:
            meaning += " Add a prompt, caption or tags to measure it."
        fraction = None if value is None else (value - spec.low) / (spec.high - spec.low)
        cards.append(_card(name.capitalize(), format_value(name, value), range_text(name), meaning, fraction))
    sentiment = a.get("sentiment")
    if sentiment:
        label, prob = sentiment["label"], float(sentiment["probability"])
        aside = f' <span style="font-size:.5em;font-weight:500;opacity:.75">{prob:.0%}</span>'
        cards.append(_card("Sentiment", label, "positive / negative", SENTIMENT_MEANING, None, aside))
    return ('<div class="iqa-cards" style="display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));'
            f'gap:10px;width:100%;box-sizing:border-box">{"".join(cards)}</div>')


def _regions_weakest_first(assessment: Any) -> list[dict]:
    regions = _as_dict(assessment).get("regions") or []
    return sorted(regions, key=lambda r: (r["quality"], r.get("id", 0)))


def region_rows(assessment: Any) -> list[list[Any]]:
    """[#, region, quality, share] per region, weakest first; # is the number drawn on the region map."""
    return [[i, r["label"], round(float(r["quality"]), 1), f"{float(r['share']):.0%}"]
            for i, r in enumerate(_regions_weakest_first(assessment), 1)]


REGION_HEADERS = ["#", "region", "quality", "share"]


def number_regions(overlay: Any, assessment: Any) -> Any:
    """The region map with each region's number (as in region_rows) in a small badge at its centre."""
    from PIL import ImageDraw, ImageFont

    img = overlay.convert("RGB").copy()
    w, h = img.size
    draw = ImageDraw.Draw(img)
    size = max(12, round(max(w, h) / 32))
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    for i, r in enumerate(_regions_weakest_first(assessment), 1):
        if r.get("centre"):
            cx, cy = r["centre"]
        else:
            x0, y0, x1, y1 = r["bbox"]
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        x, y = cx * w, cy * h
        rad = size * 0.8
        draw.ellipse((x - rad, y - rad, x + rad, y + rad), fill=(17, 24, 39), outline=(255, 255, 255),
                     width=max(1, size // 8))
        draw.text((x, y), str(i), fill=(255, 255, 255), font=font, anchor="mm")
    return img


def explanation_markdown(assessment: Any) -> str:
    a = _as_dict(assessment)
    return a.get("explanation") or ""


def notes_html(assessment: Any) -> str:
    """What the loader changed (e.g. 'converted CMYK to RGB'), metadata warnings and which text the
    alignment used; small print."""
    a = _as_dict(assessment)
    meta = a.get("metadata") or {}
    items = [f"Loader: {n}" for n in a.get("notes") or []]
    items += [f"Metadata: {w}" for w in meta.get("warnings") or []]
    sources = meta.get("sources") or {}
    for key in ("prompt", "caption", "tags"):
        if meta.get(key):
            items.append(f"Alignment measured against the {key} (from {sources.get(key, 'input')}).")
            break
    if meta.get("auto_tags"):
        items.append("Seen as: " + ", ".join(map(str, meta["auto_tags"][:5])) + ".")
    if a.get("ai_generated") is not None:
        share = float(a["ai_generated"])
        items.append(f"Quality read {share:.0%} by the AI-image expert, {1 - share:.0%} by the photo expert "
                     "(a routing weight, not an AI detector).")
    timings = a.get("timings_ms") or {}
    if timings.get("total"):
        items.append(f"{a.get('width')}×{a.get('height')} px, assessed in {timings['total'] / 1000:.2f} s.")
    if not items:
        return ""
    return ('<div class="iqa-notes" style="font-size:var(--text-sm, .8em);opacity:.75;line-height:1.5;overflow-wrap:anywhere">'
            + "<br>".join(html.escape(i) for i in items) + "</div>")


# ====================================================================================== metadata prefill
def prefill_fields(path: str | os.PathLike | None) -> tuple[str | None, str | None, str | None, str | None, str]:
    """(prompt, negative prompt, tags, caption, note) from the file's embedded metadata. A field the file
    does not carry is None, meaning "leave what the user typed"; the note (small HTML) says what was filled."""
    if not path:
        return None, None, None, None, ""
    try:
        check_file_size(path)
        meta = load_image(path).embedded
    except (ImageLoadError, UserError) as exc:
        return None, None, None, None, message_html(user_message(exc), "warning")
    values = {"prompt": meta.prompt or None, "negative_prompt": meta.negative_prompt or None,
              "tags": ", ".join(meta.tags) or None, "caption": meta.caption or None}
    found = [k for k, v in values.items() if v]
    if found:
        src = sorted({meta.sources.get(k, "") for k in found} - {""})
        note = message_html(f"Filled {', '.join(k.replace('_', ' ') for k in found)} from the file's metadata"
                            + (f" ({', '.join(src)})" if src else "") + "; edit freely.", "info")
    else:
        note = ""
    return values["prompt"], values["negative_prompt"], values["tags"], values["caption"], note


# ============================================================================================== compare
COMPARE_SCORES = tuple(SCORES)


def compare_names(paths: Sequence[str]) -> list[str]:
    """Display names: file names, made unique."""
    names, seen = [], {}
    for p in paths:
        base = Path(p).name
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base} ({seen[base]})")
    return names


def best_indices(values: Sequence[float | None], higher_is_better: bool) -> set[int]:
    present = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(present) < 2:
        return set()
    target = (max if higher_is_better else min)(v for _, v in present)
    return {i for i, v in present if abs(v - target) < 1e-9}


def compare_table(assessments: Sequence[Any], names: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): one row per image, one column per score; the best per score marked with ★."""
    rows_d = [_as_dict(a) for a in assessments]
    headers = ["image"] + [n for n in COMPARE_SCORES] + ["sentiment"]
    table = [[name] for name in names]
    for score in COMPARE_SCORES:
        values = [r.get(score) for r in rows_d]
        best = best_indices(values, SCORES[score].higher_is_better)
        for i, v in enumerate(values):
            table[i].append(format_value(score, v) + (f" {STAR}" if i in best else ""))
    for i, r in enumerate(rows_d):
        s = r.get("sentiment")
        table[i].append(f"{s['label']} {float(s['probability']):.0%}" if s else "—")
    return headers, table


def _shown(what: str, kind: str, v: float) -> float:
    """The value as the table shows it, so the sentence's numbers add up."""
    return float(format_value(what, v)) if kind == "score" else float(f"{v:.0f}")


def _gaps(rows: Sequence[Mapping]) -> list[tuple[float, str, str, int, int, float, float, str]]:
    """(normalised gap, what, kind, best index, worst index, best value, worst value, range) per score
    and attribute present in every row, largest gap first; values as displayed."""
    out = []
    candidates: list[tuple[str, str, list[float], bool, float, float]] = []
    for score, spec in SCORES.items():
        values = [r.get(score) for r in rows]
        if all(v is not None for v in values):
            candidates.append((score, "score", [_shown(score, "score", v) for v in values], spec.higher_is_better,
                               spec.low, spec.high))
    for attr in ATTRIBUTES:
        try:
            values = [_shown(attr, "attribute", float(r["attributes"][attr]["score"])) for r in rows]
        except (KeyError, TypeError):
            continue
        candidates.append((attr, "attribute", values, True, 0.0, 100.0))
    for what, kind, values, higher, low, high in candidates:
        key = (lambda i: values[i]) if higher else (lambda i: -values[i])
        hi, lo = max(range(len(values)), key=key), min(range(len(values)), key=key)
        out.append((abs(values[hi] - values[lo]) / (high - low), what, kind, hi, lo, values[hi], values[lo],
                    f"{low:g}-{high:g}"))
    return sorted(out, key=lambda g: -g[0])


def _label(what: str, kind: str) -> str:
    return f"the {what.replace('_', ' & ' if what == 'focus_detail' else ' ')} attribute" if kind == "attribute" else what


def _num(what: str, kind: str, v: float) -> str:
    return format_value(what, v) if kind == "score" else f"{v:.0f}"


def _decimals(what: str, kind: str) -> int:
    return 1 if kind == "score" and SCORES[what].high - SCORES[what].low <= 10 else 0


def compare_summary(assessments: Sequence[Any], names: Sequence[str]) -> str:
    """One or two sentences, from the numbers only: the score (or attribute) with the largest gap between
    the best and the worst image, relative to its range, and the one they agree on most."""
    rows = [_as_dict(a) for a in assessments]
    if len(rows) < 2:
        return "Add at least two images to compare them."
    gaps = _gaps(rows)
    if not gaps:
        return "These images have no score in common to compare."
    g, what, kind, hi, lo, vhi, vlo, rng = gaps[0]
    if g < 0.03:
        return f"These images score almost the same everywhere: no score differs by more than {g:.0%} of its range."
    text = (f"What separates them most is {_label(what, kind)}: {names[hi]} has {_num(what, kind, vhi)} and "
            f"{names[lo]} {_num(what, kind, vlo)}, a gap of {abs(vhi - vlo):.{_decimals(what, kind)}f} "
            f"on the {rng} scale.")
    closest = gaps[-1]
    if len(gaps) > 1 and closest[1] != what:
        text += (f" They are closest on {_label(closest[1], closest[2])} "
                 f"(all within {closest[0]:.0%} of its range).")
    return text


# ================================================================================================ batch
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


BATCH_COLUMNS = ["image", "quality", "aesthetics", "alignment", "valence", "arousal", "sentiment", "weakest"]


def batch_table_value(rows: Sequence[Mapping]) -> dict[str, list]:
    """{"headers", "data"} for gr.Dataframe; the alignment column is left out when no image had text."""
    data = batch_table(rows)
    headers = list(BATCH_COLUMNS)
    if data and all(r[3] is None for r in data):
        col = headers.index("alignment")
        headers.pop(col)
        data = [r[:col] + r[col + 1:] for r in data]
    return {"headers": headers, "data": data}


def batch_table(rows: Sequence[Mapping]) -> list[list[Any]]:
    """One row per assessed image, best quality first; numbers stay numbers so the table sorts."""
    out = []
    for r in rows:
        if r.get("error"):
            continue
        attrs = r.get("attributes") or {}
        weakest = min(attrs.items(), key=lambda kv: kv[1]["score"])[0].replace("_", " ") if attrs else ""
        out.append([r["image"]] + [None if r.get(k) is None else round(float(r[k]), 1 if k in ("quality",
                    "aesthetics", "alignment") else 2) for k in ("quality", "aesthetics", "alignment", "valence",
                                                                 "arousal")]
                   + [r["sentiment"]["label"] if r.get("sentiment") else "", weakest])
    return sorted(out, key=lambda row: -(row[1] if row[1] is not None else -1))


def batch_summary(rows: Sequence[Mapping]) -> str:
    ok = [r for r in rows if not r.get("error")]
    bad = [r for r in rows if r.get("error")]
    if not rows:
        return "No files were given."
    text = f"**{len(ok)} assessed**, {len(bad)} could not be used."
    if ok:
        q = sorted(float(r["quality"]) for r in ok)
        a = sorted(float(r["aesthetics"]) for r in ok)
        text += f" Median quality {q[len(q) // 2]:.0f}, median aesthetics {a[len(a) // 2]:.0f}."
    return text


def errors_markdown(rows: Sequence[Mapping]) -> str:
    bad = [r for r in rows if r.get("error")]
    if not bad:
        return ""
    lines = [f"- `{_md_escape(r['image'])}`: {_md_escape(r['error'])}" for r in bad[:200]]
    if len(bad) > 200:
        lines.append(f"- … and {len(bad) - 200} more (see the CSV/JSONL downloads)")
    return "**Not assessed:**\n" + "\n".join(lines)


def write_results(rows: Sequence[Mapping], workdir: Path, stem: str = "results") -> tuple[Path, Path]:
    """CSV and JSONL files through batch.ResultWriter."""
    paths = Path(workdir) / f"{stem}.csv", Path(workdir) / f"{stem}.jsonl"
    for p in paths:
        with batch.ResultWriter(p) as w:
            for r in rows:
                w.write(dict(r))
    return paths


# ============================================================================================== explore
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
        ok = sum(_float(v) is not None for v in vals)
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
    import re

    parts = {p.lower() for p in Path(folder).resolve().parts}
    for name in re.findall(r"[\w.]+-dev\b", SCORES[score].trained_on):
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
        value = _float(row.get(column))
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


# ============================================================================================== helpers
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
    name = Path(str(_as_dict(assessment).get("image") or "image")).stem or "image"
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80] or "image"
    path = Path(workdir) / f"{safe}.assessment.json"
    import json

    path.write_text(a.to_json(indent=2) if a else json.dumps(_as_dict(assessment), indent=2, ensure_ascii=False),
                    encoding="utf-8")
    return path


def _as_dict(item: Any) -> dict:
    return item.to_dict() if hasattr(item, "to_dict") else dict(item or {})


def _float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and abs(f) != float("inf") else None


def _md_escape(text: str) -> str:
    return str(text).replace("`", "'").replace("\n", " ")
