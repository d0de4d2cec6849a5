"""PARA's heads: aesthetics from PARA's train split (11,664 photos; para-dev stays the held-out check), and
the five learned attributes from para-dev (the train split has no attribute scores)."""
from __future__ import annotations

from iqa_core.model.heads import Head
from iqa_core.training.featurize import IMAGE_INPUTS, POWER_TECHNICAL, Featurized, report
from iqa_core.training.fit import SEED, CVResult, correlations, cross_val_predict, fit_ridge, ridge_and_iovqa

ATTRIBUTE_HEADS = {"attr_composition": "composition", "attr_colour": "colour", "attr_focus_detail": "focus_detail",
                   "attr_lighting": "lighting", "attr_subject": "subject"}
SCALE_1_5 = {"out_a": 25.0, "out_c": -25.0, "clip": (0.0, 100.0)}  # 1-5 -> 0-100


def train_para(pa: Featurized, pt: Featurized | None = None, seed: int = SEED) -> tuple[dict[str, Head], list[dict]]:
    """pa: para-dev; pt: para-train. With pt, aesthetics is a ridge on para-train alone (IOVQA's inner-fold
    search does not fit in the time on 11,664 images, and with this much data ridge needs no partner), reported
    on para-dev, which it never saw; without pt (smoke runs) the mean of ridge and IOVQA on para-dev."""
    heads, reports, x = {}, [], pa.x(IMAGE_INPUTS)
    prior = pa.prior(IMAGE_INPUTS, POWER_TECHNICAL)
    for head, key in ATTRIBUTE_HEADS.items():
        y = pa.y(key)
        fit = lambda a, b, head=head: fit_ridge(a, b, head, IMAGE_INPUTS, prior, **SCALE_1_5)  # noqa: E731
        reports.append(report(head, "para", cross_val_predict(fit, x, y, pa.groups, seed=seed), y))
        heads[head] = fit(x, y)
    y = pa.y("aesthetics")
    if pt is None:
        fit = ridge_and_iovqa("aesthetics", IMAGE_INPUTS, prior, **SCALE_1_5)
        reports.append(report("aesthetics", "para", cross_val_predict(fit, x, y, pa.groups, grouped=True, seed=seed), y))
        heads["aesthetics"] = fit(x, y, pa.groups)
        return heads, reports
    xt, yt = pt.x(IMAGE_INPUTS), pt.y("aesthetics")
    head = fit_ridge(xt, yt, "aesthetics", IMAGE_INPUTS, prior, **SCALE_1_5)
    reports.append(report("aesthetics", "para-train -> para-dev", CVResult(head.predict(x), head.predict(x)), y))
    reports[-1]["train"] = correlations(head.predict(xt), yt)  # in-sample on para-train, beside the held-out figure
    reports[-1]["n_train"] = int(len(yt))
    heads["aesthetics"] = head
    return heads, reports
