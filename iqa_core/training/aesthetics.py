"""PARA's heads: aesthetics from PARA's train split (the shipped heads: its first 8,250 of 11,664 photos;
para-dev stays the held-out check) as a ridge with a kernel part (training.kernel), and the five learned
attributes from para-dev (the train split has no attribute scores), each stacked on the aesthetics head
(`fit_attribute`)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from iqa_core.model.heads import Head, LinearHead
from iqa_core.training.featurize import IMAGE_INPUTS, POWER_TECHNICAL, Featurized, report
from iqa_core.training.fit import (
    SEED,
    CVResult,
    correlations,
    cross_val_predict,
    fit_ridge,
    folds,
    ridge_and_iovqa,
    ridge_columns,
    srcc,
)
from iqa_core.training.kernel import fit_kernel_ridge

ATTRIBUTE_HEADS = {"attr_composition": "composition", "attr_colour": "colour", "attr_focus_detail": "focus_detail",
                   "attr_lighting": "lighting", "attr_subject": "subject"}
SCALE_1_5 = {"out_a": 25.0, "out_c": -25.0, "clip": (0.0, 100.0)}  # 1-5 -> 0-100
# Candidate shares of the aesthetics score in an attribute (both on PARA's 1-5 scale; the ridge's aesthetics
# is shrunk towards the mean, so a share above 1 is possible).
AESTHETICS_SHARES = np.arange(0.0, 1.51, 0.25)


def aesthetics_share(x: np.ndarray, y: np.ndarray, a: np.ndarray, groups: np.ndarray,
                     prior: np.ndarray | None) -> float:
    """The share s of the aesthetics score a with the best SRCC of s a + ridge(y - s a), on 3 inner grouped
    folds of the data given (so inside a CV fold it never sees the fold's test part)."""
    pred = np.zeros((len(y), len(AESTHETICS_SHARES)))
    for tr, te in folds(groups, 3):
        residual = y[tr, None] - a[tr, None] * AESTHETICS_SHARES
        pred[te] = ridge_columns(x[tr], residual, x[te], prior) + a[te, None] * AESTHETICS_SHARES
    return float(AESTHETICS_SHARES[int(np.argmax([srcc(p, y) for p in pred.T]))])


def fold_in(head: LinearHead, other: LinearHead, share: float) -> LinearHead:
    """head + share * other's raw score, as one LinearHead in head's standardisation (no runtime change):
    other's z-scores are (x - m_o) / s_o = z_h s_h / s_o + (m_h - m_o) / s_o. Other's kernel part comes
    along, its basis and landmarks restated in head's z-scores (the same arrays for every head fitted on
    the same rows, which the heads file stores once)."""
    assert other.inputs == head.inputs and other.kind == head.kind == "regression" and not other.basis.size
    assert not head.landmarks.size
    ratio = (head.scale / other.scale)[:, None]
    offset = (head.mean - other.mean) / other.scale
    head.weight = (head.weight + share * other.weight * ratio).astype(np.float32)
    head.bias = (head.bias + share * (other.bias + offset @ other.weight)).astype(np.float32)
    if other.landmarks.size:  # |z_o B - l| = |z_h (ratio B) - (l - offset B)|
        head.kernel_basis = (other.kernel_basis * ratio).astype(np.float32)
        head.landmarks = (other.landmarks - offset @ other.kernel_basis).astype(np.float32)
        head.kernel_weight = (share * other.kernel_weight).astype(np.float32)
        head.gamma = other.gamma
    return head


def fit_aesthetics(pt: Featurized, prior: np.ndarray) -> LinearHead:
    """The shipped aesthetics head on para-train's photos."""
    return fit_kernel_ridge(pt.x(IMAGE_INPUTS), pt.y("aesthetics"), "aesthetics", IMAGE_INPUTS, prior, **SCALE_1_5)


def fit_attribute(name: str, prior: np.ndarray, aesthetics: LinearHead | None) -> Callable[..., LinearHead]:
    """fit(x, y, groups) -> an attribute head. PARA's attributes follow its aesthetic mean closely (Pearson
    0.93-0.96 on para-dev's means), and the aesthetics head's direction is learned from 8x as many photos, so the attribute is
    share * aesthetics + a ridge on the rest, the share chosen on inner folds. aesthetics must never have seen
    the rows fitted (para-train's head, for para-dev); None: a plain ridge."""
    def fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> LinearHead:
        if aesthetics is None:
            return fit_ridge(x, y, name, IMAGE_INPUTS, prior, **SCALE_1_5)
        a = aesthetics.raw(x)[:, 0]
        share = aesthetics_share(x, y, a, groups, prior)
        head = fold_in(fit_ridge(x, y - share * a, name, IMAGE_INPUTS, prior, **SCALE_1_5), aesthetics, share)
        head.info["aesthetics_share"] = share
        return head
    return fit


def train_para(pa: Featurized, pt: Featurized | None = None, seed: int = SEED) -> tuple[dict[str, Head], list[dict]]:
    """pa: para-dev; pt: para-train. With pt, aesthetics is a ridge on para-train alone (IOVQA's inner-fold
    search does not fit in the time on para-train, and with this much data ridge needs no partner), reported
    on para-dev, which it never saw, and the attributes are stacked on it; without pt (smoke runs) aesthetics
    is the mean of ridge and IOVQA on para-dev and the attributes are plain ridges (a head fitted on para-dev
    would leak into their CV)."""
    heads, reports, x = {}, [], pa.x(IMAGE_INPUTS)
    prior = pa.prior(IMAGE_INPUTS, POWER_TECHNICAL)
    y = pa.y("aesthetics")
    if pt is None:
        fit = ridge_and_iovqa("aesthetics", IMAGE_INPUTS, prior, **SCALE_1_5)
        aesthetics_report = report("aesthetics", "para", cross_val_predict(fit, x, y, pa.groups, grouped=True,
                                                                           seed=seed), y)
        heads["aesthetics"], stack_on = fit(x, y, pa.groups), None
    else:
        xt, yt = pt.x(IMAGE_INPUTS), pt.y("aesthetics")
        head = fit_aesthetics(pt, prior)
        aesthetics_report = report("aesthetics", "para-train -> para-dev", CVResult(head.predict(x), head.predict(x)), y)
        aesthetics_report["train"] = correlations(head.predict(xt), yt)  # in-sample on para-train, beside para-dev
        aesthetics_report["n_train"] = int(len(yt))
        linear = fit_ridge(xt, yt, "aesthetics", IMAGE_INPUTS, prior, **SCALE_1_5)
        aesthetics_report["linear"] = correlations(linear.predict(x), y)  # without the kernel part
        heads["aesthetics"], stack_on = head, head
    for name, key in ATTRIBUTE_HEADS.items():
        y = pa.y(key)
        fit = fit_attribute(name, prior, stack_on)
        reports.append(report(name, "para", cross_val_predict(fit, x, y, pa.groups, grouped=True, seed=seed), y))
        heads[name] = fit(x, y, pa.groups)
    return heads, reports + [aesthetics_report]
