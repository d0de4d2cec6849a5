"""What the app shows, as plain values: score cards, region and batch tables, notes, messages. No Gradio
here: app.py only wires these to components, so everything in this module can be tested without a server.

Ranges, directions and meanings come from ``scores.py``; nothing here restates them.
"""
from __future__ import annotations

import html
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from iqa_core.inputs.load import ImageLoadError, UserError, check_file_size, load_image
from iqa_core.scores import SCORES

log = logging.getLogger("iqa_core.app")

SENTIMENT_MEANING = "Overall feeling of the image; the percentage is the model's confidence in that label."
REGION_HEADERS = ["#", "region", "quality", "share"]
BATCH_COLUMNS = ["image", "quality", "aesthetics", "alignment", "valence", "arousal", "sentiment", "weakest"]


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


def message_html(text: str, kind: str = "error") -> str:
    """A small coloured box; kind is error, warning or info."""
    if not text:
        return ""
    colours = {"error": ("#b91c1c", "rgba(220, 38, 38, 0.10)"), "warning": ("#b45309", "rgba(245, 158, 11, 0.12)"),
               "info": ("#1d4ed8", "rgba(59, 130, 246, 0.10)")}
    fg, bg = colours.get(kind, colours["error"])
    return (f'<div class="iqa-msg iqa-msg-{kind}" role="alert" style="border-left:4px solid {fg};background:{bg};'
            f'padding:10px 14px;border-radius:8px;margin:4px 0;overflow-wrap:anywhere">{html.escape(text)}</div>')


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


def _ordinal(pct: float) -> str:
    n = int(round(pct))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _reference_name(a: dict) -> str:
    ref = a.get("percentile_reference") or ""
    return "AI images" if ref.startswith("AGIQA") else "photos"


def score_cards_html(assessment: Any) -> str:
    """Quality, aesthetics, alignment (— without text), valence, arousal and sentiment, each with its
    range and one-line meaning from scores.SCORES."""
    a = as_dict(assessment)
    cards = []
    for name, spec in SCORES.items():
        value = a.get(name)
        meaning = spec.meaning
        if name == "alignment" and value is None:
            meaning += " Add a prompt, caption or tags to measure it."
        fraction = None if value is None else (value - spec.low) / (spec.high - spec.low)
        backend = (a.get("backends") or {}).get(name)
        if backend and backend != "lite":  # the default backend goes unsaid on the cards (the notes list all)
            meaning += f" By {backend}."
        pct = (a.get("percentiles") or {}).get(name)
        aside = ("" if pct is None or value is None else
                 f' <span class="iqa-card-percentile" style="font-size:.45em;font-weight:500;opacity:.75">'
                 f'{_ordinal(pct)} percentile of {html.escape(_reference_name(a))}</span>')
        cards.append(_card(name.capitalize(), format_value(name, value), range_text(name), meaning, fraction, aside))
    sentiment = a.get("sentiment")
    if sentiment:
        label, prob = sentiment["label"], float(sentiment["probability"])
        aside = f' <span style="font-size:.5em;font-weight:500;opacity:.75">{prob:.0%}</span>'
        cards.append(_card("Sentiment", label, "positive / negative", SENTIMENT_MEANING, None, aside))
    return ('<div class="iqa-cards" style="display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));'
            f'gap:10px;width:100%;box-sizing:border-box">{"".join(cards)}</div>')


def regions_weakest_first(assessment: Any) -> list[dict]:
    regions = as_dict(assessment).get("regions") or []
    return sorted(regions, key=lambda r: (r["quality"], r.get("id", 0)))


def region_rows(assessment: Any) -> list[list[Any]]:
    """[#, region, quality, share] per region, weakest first; # is the number drawn on the region map."""
    return [[i, r["label"], round(float(r["quality"]), 1), f"{float(r['share']):.0%}"]
            for i, r in enumerate(regions_weakest_first(assessment), 1)]


def explanation_markdown(assessment: Any) -> str:
    a = as_dict(assessment)
    return a.get("explanation") or ""


def backend_notes(a: dict) -> list[str]:
    """Which backend produced each field (grouped), and why a requested backend or writer was not used."""
    by_backend: dict[str, list[str]] = {}
    for name, backend in (a.get("backends") or {}).items():
        by_backend.setdefault(backend, []).append(name)
    items = []
    if by_backend:
        items.append("Backends: " + "; ".join(f"{', '.join(fields)}: {backend}" for backend, fields in by_backend.items())
                     + ".")
    models = a.get("models") or {}
    items += [f"Fallback: {models[k]}" for k in ("backend_fallback", "explanation_fallback") if models.get(k)]
    return items


def notes_html(assessment: Any) -> str:
    """What the loader changed (e.g. 'converted CMYK to RGB'), metadata warnings and which text the
    alignment used; small print."""
    a = as_dict(assessment)
    meta = a.get("metadata") or {}
    items = [f"Loader: {n}" for n in a.get("notes") or []]
    items += [f"Metadata: {w}" for w in meta.get("warnings") or []]
    crops = a.get("native_crops") or []
    if crops:
        mean = sum(c["quality"] for c in crops) / len(crops)
        items.append(f"Quality also read {len(crops)} crops at the image's own pixels (their mean {mean:.1f}).")
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
    items += backend_notes(a)
    timings = a.get("timings_ms") or {}
    if timings.get("total"):
        items.append(f"{a.get('width')}×{a.get('height')} px, assessed in {timings['total'] / 1000:.2f} s.")
    if not items:
        return ""
    return ('<div class="iqa-notes" style="font-size:var(--text-sm, .8em);opacity:.75;line-height:1.5;overflow-wrap:anywhere">'
            + "<br>".join(html.escape(i) for i in items) + "</div>")


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


def as_dict(item: Any) -> dict:
    return item.to_dict() if hasattr(item, "to_dict") else dict(item or {})


def as_float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and abs(f) != float("inf") else None


def _md_escape(text: str) -> str:
    return str(text).replace("`", "'").replace("\n", " ")
