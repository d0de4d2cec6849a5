"""Compare 2-6 assessments: a table with the best per score starred, and one or two sentences, from the
numbers only, on what separates the images most and what they agree on."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from iqa_core.render.html import as_dict, format_value
from iqa_core.scores import ATTRIBUTE_LABELS, ATTRIBUTES, SCORES

COMPARE_SCORES = tuple(SCORES)
STAR = "★"


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
    rows_d = [as_dict(a) for a in assessments]
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
    return f"the {ATTRIBUTE_LABELS[what]} attribute" if kind == "attribute" else what


def _num(what: str, kind: str, v: float) -> str:
    return format_value(what, v) if kind == "score" else f"{v:.0f}"


def _decimals(what: str, kind: str) -> int:
    return 1 if kind == "score" and SCORES[what].high - SCORES[what].low <= 10 else 0


def compare_summary(assessments: Sequence[Any], names: Sequence[str]) -> str:
    """One or two sentences, from the numbers only: the score (or attribute) with the largest gap between
    the best and the worst image, relative to its range, and the one they agree on most."""
    rows = [as_dict(a) for a in assessments]
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
        within = (f"all within {closest[0]:.0%} of its range" if round(closest[0] * 100) >= 1
                  else "practically the same")
        text += f" They are closest on {_label(closest[1], closest[2])} ({within})."
    return text
