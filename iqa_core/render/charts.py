"""Plotly figures for the UI: every chart the app shows is built here from plain assessment data.

All figures share one style (``_style``): transparent backgrounds, a mid-grey font and translucent grid
lines, so they read on a light and on a dark page alike (the app's CSS brightens the text in dark mode),
and no fixed width, so they shrink to a phone's screen. Ranges and names come from ``scores.py``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from iqa_core.render.html import as_dict
from iqa_core.scores import ATTRIBUTE_LABELS, ATTRIBUTES, EMOTIONS, SCORES

FONT = dict(family="Inter, ui-sans-serif, system-ui, -apple-system, 'Segoe UI', sans-serif", size=13,
            color="#4b5563")
GRID = "rgba(128, 128, 128, 0.28)"
TRANSPARENT = "rgba(0, 0, 0, 0)"
# Colour-blind-safe categorical palette (Okabe-Ito, without black), readable on light and dark.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
EMOTION_COLOURS = {"anger": "#D55E00", "disgust": "#8c6d31", "fear": "#7b4fa0", "joy": "#E69F00",
                   "sadness": "#0072B2", "surprise": "#CC79A7", "neutral": "#9ca3af"}


def attribute_label(name: str, wrap: bool = False) -> str:
    """'focus_detail' -> 'focus & detail'; wrap breaks two-word names over two lines (radar ticks)."""
    text = ATTRIBUTE_LABELS.get(name, name.replace("_", " "))
    return text.replace(" ", "<br>", 1) if wrap and " " in text else text


def _style(fig: go.Figure, title: str | None = None, height: int = 340, legend: bool = False) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, x=0.5, xanchor="center", font=dict(size=15)) if title else None,
        height=height,
        margin=dict(l=48, r=24, t=56 if title else 24, b=44),
        paper_bgcolor=TRANSPARENT,
        plot_bgcolor=TRANSPARENT,
        font=FONT,
        showlegend=legend,
        legend=dict(orientation="h", yanchor="top", y=-0.12, x=0.5, xanchor="center", bgcolor=TRANSPARENT),
        hoverlabel=dict(font=dict(family=FONT["family"], size=12)),
    )
    fig.update_xaxes(gridcolor=GRID, zerolinecolor=GRID, linecolor=GRID, automargin=True)
    fig.update_yaxes(gridcolor=GRID, zerolinecolor=GRID, linecolor=GRID, automargin=True)
    return fig


def empty(message: str = "No data yet", height: int = 300) -> go.Figure:
    """A blank figure with a centred note, for outputs before the first run or after an error."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=14))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _style(fig, height=height)


# -------------------------------------------------------------------------------------------- one image
def radar(assessments: Sequence[Any] | Any, names: Sequence[str] | None = None,
          title: str | None = "Attributes (0-100)") -> go.Figure:
    """The eight attributes as a radar; several assessments are overlaid, one trace each."""
    items = [assessments] if hasattr(assessments, "to_dict") or isinstance(assessments, Mapping) else list(assessments)
    rows = [as_dict(a) for a in items]
    names = list(names) if names else [r.get("image") or f"image {i + 1}" for i, r in enumerate(rows)]
    keys = list(ATTRIBUTES)
    theta = [attribute_label(k, wrap=True) for k in keys]
    fig = go.Figure()
    for i, (row, name) in enumerate(zip(rows, names)):
        attrs = row.get("attributes") or {}
        r = [float(_attr_score(attrs.get(k))) for k in keys]
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatterpolar(
            r=r + r[:1], theta=theta + theta[:1], name=_short(name), mode="lines+markers",
            fill="toself", opacity=0.85, line=dict(color=colour, width=2), marker=dict(size=5),
            fillcolor=_rgba(colour, 0.18 if len(rows) > 1 else 0.3),
            customdata=[[attribute_label(k), ATTRIBUTES[k]] for k in keys + keys[:1]],
            hovertemplate="<b>%{customdata[0]}: %{r:.0f}</b><br>%{customdata[1]}<extra>" + _short(name, 30) + "</extra>",
        ))
    # Heuristic attributes (not checked against people: attributes.KINDS) are drawn as hollow markers on
    # dashed spokes, with a legend entry that says so.
    heuristic = [k for k in keys if any(_is_heuristic(r, k) for r in rows)]
    for k in heuristic:
        fig.add_trace(go.Scatterpolar(r=[0, 100], theta=[attribute_label(k, wrap=True)] * 2, mode="lines",
                                      line=dict(color=GRID, dash="dash", width=1), hoverinfo="skip",
                                      showlegend=False))
    if heuristic:
        for i, row in enumerate(rows):
            attrs = row.get("attributes") or {}
            fig.add_trace(go.Scatterpolar(
                r=[float(_attr_score(attrs.get(k))) for k in heuristic],
                theta=[attribute_label(k, wrap=True) for k in heuristic], mode="markers",
                marker=dict(size=11, symbol="circle-open", color=PALETTE[i % len(PALETTE)], line=dict(width=2)),
                name="heuristic (not checked against people)", showlegend=i == 0, hoverinfo="skip"))
    fig.update_layout(polar=dict(
        bgcolor=TRANSPARENT,
        radialaxis=dict(range=[0, 100], tickvals=[25, 50, 75, 100], gridcolor=GRID, linecolor=GRID,
                        tickfont=dict(size=9), angle=67.5, tickangle=67.5),
        angularaxis=dict(gridcolor=GRID, linecolor=GRID, tickfont=dict(size=12), rotation=90,
                         direction="clockwise"),
    ))
    fig = _style(fig, title, height=380 if len(rows) == 1 else 440, legend=len(rows) > 1 or bool(heuristic))
    fig.update_layout(margin=dict(l=64, r=64, t=64 if title else 34, b=34 if len(rows) == 1 else 64))
    return fig


def emotions_bar(emotions: Mapping[str, float], title: str | None = "Emotion distribution") -> go.Figure:
    """Probability of each emotion, in the fixed order of scores.EMOTIONS."""
    keys = [e for e in EMOTIONS if e in emotions] or list(EMOTIONS)
    values = [float(emotions.get(e, 0.0)) for e in keys]
    fig = go.Figure(go.Bar(
        x=values, y=keys, orientation="h", marker=dict(color=[EMOTION_COLOURS.get(e, PALETTE[0]) for e in keys]),
        text=[f"{v:.0%}" for v in values], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.1%}<extra></extra>",
    ))
    fig = _style(fig, title, height=320)
    top = max(values) if values else 1.0
    fig.update_xaxes(range=[0, min(1.0, top * 1.25 + 0.05)], tickformat=".0%", title=None)
    fig.update_yaxes(autorange="reversed", gridcolor=TRANSPARENT)
    fig.update_layout(bargap=0.3)
    return fig


def valence_arousal(valence: float | None, arousal: float | None,
                    title: str | None = "Valence and arousal") -> go.Figure:
    """The image as a point on the valence-arousal plane, with the neutral cross and quadrant names."""
    v, a = SCORES["valence"], SCORES["arousal"]
    vm, am = (v.low + v.high) / 2, (a.low + a.high) / 2
    fig = go.Figure()
    fig.add_shape(type="line", x0=vm, x1=vm, y0=a.low, y1=a.high, line=dict(color=GRID, dash="dot"))
    fig.add_shape(type="line", x0=v.low, x1=v.high, y0=am, y1=am, line=dict(color=GRID, dash="dot"))
    pad_v, pad_a = (v.high - v.low) * 0.04, (a.high - a.low) * 0.04
    for text, x, y, xa, ya in (("tense", v.low + pad_v, a.high - pad_a, "left", "top"),
                               ("excited", v.high - pad_v, a.high - pad_a, "right", "top"),
                               ("sad", v.low + pad_v, a.low + pad_a, "left", "bottom"),
                               ("calm", v.high - pad_v, a.low + pad_a, "right", "bottom")):
        fig.add_annotation(text=text, x=x, y=y, xanchor=xa, yanchor=ya, showarrow=False,
                           font=dict(size=12), opacity=0.7)
    if valence is not None and arousal is not None:
        fig.add_trace(go.Scatter(
            x=[valence], y=[arousal], mode="markers+text", text=[f"{valence:.1f}, {arousal:.1f}"],
            textposition="top center", marker=dict(size=16, color=PALETTE[1], line=dict(width=2, color="white")),
            hovertemplate="valence %{x:.2f}<br>arousal %{y:.2f}<extra></extra>",
        ))
    fig = _style(fig, title, height=320)
    fig.update_xaxes(range=[v.low, v.high], title=f"valence ({v.low:g} negative - {v.high:g} positive)",
                     dtick=1, showgrid=False, zeroline=False)
    fig.update_yaxes(range=[a.low, a.high], title=f"arousal ({a.low:g} calm - {a.high:g} excited)",
                     dtick=1, showgrid=False, zeroline=False, scaleanchor=None)
    return fig


# ---------------------------------------------------------------------------------------------- batches
def _ok_rows(rows: Sequence[Mapping]) -> list[Mapping]:
    return [r for r in rows if not r.get("error")]


def score_histograms(rows: Sequence[Mapping], scores: Sequence[str] = ("quality", "aesthetics"),
                     title: str | None = "Distribution of scores") -> go.Figure:
    """Overlaid histograms of a few scores (they must share a range; quality and aesthetics do)."""
    ok = _ok_rows(rows)
    if not ok:
        return empty("No assessed images")
    spec = SCORES[scores[0]]
    fig = go.Figure()
    for i, name in enumerate(scores):
        values = [float(r[name]) for r in ok if r.get(name) is not None]
        fig.add_trace(go.Histogram(
            x=values, name=name, opacity=0.6, marker=dict(color=PALETTE[i % len(PALETTE)]),
            xbins=dict(start=spec.low, end=spec.high, size=(spec.high - spec.low) / 20),
            hovertemplate=name + " %{x}: %{y} images<extra></extra>",
        ))
    fig = _style(fig, title, height=340, legend=True)
    fig.update_layout(barmode="overlay", bargap=0.05,
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"))
    counts = [np.histogram([float(r[n]) for r in ok if r.get(n) is not None], bins=20,
                           range=(spec.low, spec.high))[0].max(initial=0) for n in scores]
    fig.update_xaxes(range=[spec.low, spec.high], title=f"score ({spec.low:g}-{spec.high:g})")
    fig.update_yaxes(title="images", rangemode="tozero", dtick=max(1, int(np.ceil(max(counts) / 5))))
    return fig


def score_scatter(rows: Sequence[Mapping], x: str = "quality", y: str = "aesthetics",
                  title: str | None = None) -> go.Figure:
    """One point per image: score x against score y, the image name on hover."""
    ok = [r for r in _ok_rows(rows) if r.get(x) is not None and r.get(y) is not None]
    if not ok:
        return empty("No assessed images")
    sx, sy = SCORES[x], SCORES[y]
    fig = go.Figure(go.Scatter(
        x=[float(r[x]) for r in ok], y=[float(r[y]) for r in ok], mode="markers",
        text=[str(r.get("image", "")) for r in ok],
        marker=dict(size=9, color=PALETTE[0], opacity=0.75, line=dict(width=1, color="white")),
        hovertemplate="%{text}<br>" + x + " %{x:.1f}<br>" + y + " %{y:.1f}<extra></extra>",
    ))
    fig = _style(fig, title or f"{x.capitalize()} vs {y}", height=340)
    fig.update_xaxes(range=[sx.low, sx.high], title=x)
    fig.update_yaxes(range=[sy.low, sy.high], title=y)
    return fig


def correlations(predicted: Sequence[float], human: Sequence[float]) -> dict[str, float]:
    """SRCC and PLCC (scipy); NaN when fewer than three pairs or a constant series."""
    from scipy import stats

    p, h = np.asarray(predicted, float), np.asarray(human, float)
    if len(p) < 3 or np.ptp(p) == 0 or np.ptp(h) == 0:
        return {"srcc": float("nan"), "plcc": float("nan"), "n": int(len(p))}
    return {"srcc": float(stats.spearmanr(p, h).statistic), "plcc": float(stats.pearsonr(p, h).statistic),
            "n": int(len(p))}


def predicted_vs_human(predicted: Sequence[float], human: Sequence[float], names: Sequence[str],
                       score: str, human_label: str, highlight: Sequence[str] = (),
                       remark: str | None = None) -> go.Figure:
    """Predicted score against the human score, SRCC and PLCC in the title; `highlight` names are
    drawn in a second colour (the largest disagreements)."""
    c = correlations(predicted, human)
    fmt = lambda v: "n/a" if np.isnan(v) else f"{v:.3f}"  # noqa: E731
    title = f"SRCC {fmt(c['srcc'])} · PLCC {fmt(c['plcc'])} · n = {c['n']}" + (f" · {remark}" if remark else "")
    marks = set(highlight)
    colours = [PALETTE[5] if n in marks else PALETTE[0] for n in names]
    fig = go.Figure(go.Scatter(
        x=list(map(float, human)), y=list(map(float, predicted)), mode="markers", text=list(names),
        marker=dict(size=9, color=colours, opacity=0.8, line=dict(width=1, color="white")),
        hovertemplate="%{text}<br>human %{x:.2f}<br>" + score + " %{y:.1f}<extra></extra>",
    ))
    if c["n"] >= 2 and np.ptp(np.asarray(human, float)) > 0:
        slope, icpt = np.polyfit(np.asarray(human, float), np.asarray(predicted, float), 1)
        xs = np.array([min(human), max(human)], float)
        fig.add_trace(go.Scatter(x=xs, y=slope * xs + icpt, mode="lines", hoverinfo="skip",
                                 line=dict(color=GRID.replace("0.28", "0.7"), dash="dash")))
    spec = SCORES[score]
    fig = _style(fig, title, height=400)
    fig.update_xaxes(title=f"human: {human_label}")
    fig.update_yaxes(title=f"predicted {score} ({spec.low:g}-{spec.high:g})")
    return fig


# -------------------------------------------------------------------------------------------- helpers
def _is_heuristic(row: Mapping, key: str) -> bool:
    attr = (row.get("attributes") or {}).get(key)
    return isinstance(attr, Mapping) and str(attr.get("kind", "")).startswith("heuristic")


def _attr_score(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, Mapping):
        return float(value.get("score", 0.0))
    return float(getattr(value, "score", value))


def _short(name: str, n: int = 22) -> str:
    name = str(name)
    return name if len(name) <= n else name[: n - 1] + "…"


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r}, {g}, {b}, {alpha})"
