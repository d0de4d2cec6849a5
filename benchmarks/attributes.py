"""Attribute benchmark: do the eight attributes move the right way under controlled edits, and do the four
that PARA has human scores for agree with people?

1. Edits: for dev images (para, livec and agiqa3k in turn, native sizes) the real Assessor scores the
   original and seven edited copies; per edit and attribute: the share of images whose attribute went
   DOWN (by at least 0.5 points) against the original, the mean change, and the share of images where it
   fell the most of the eight (specificity). Expected: darken/brighten -> lighting, desaturate -> colour,
   blur -> focus_detail, noise/JPEG q=10 -> technical, off-centre crop -> composition.
2. PARA: 5-fold grouped CV SRCC (the training recipe, training.aesthetics.fit_attribute, on the cached
   training features) of composition, colour, focus_detail (dofScore), lighting and subject (contentScore)
   against PARA's human means, for the learned head alone and after the measured-evidence blend that
   attributes.py ships.

    python -m benchmarks.attributes --images 40
"""
from __future__ import annotations

import argparse
import io
import time

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

try:
    from benchmarks.common import table, write_json
except ImportError:  # run as a script
    from common import table, write_json

from iqa_core.analysis import attributes, measure
from iqa_core.inputs.load import load_image
from iqa_core.training import datasets

ATTRS = ("composition", "colour", "lighting", "focus_detail", "subject", "technical", "originality",
         "emotional_impact")
EXPECTED = {"darken": "lighting", "brighten": "lighting", "desaturate": "colour", "blur": "focus_detail",
            "noise": "technical", "jpeg_q10": "technical", "off_centre_crop": "composition"}
PARA_HUMAN = ("composition", "colour", "focus_detail", "lighting", "subject")
MIN_DROP = 0.5  # points: a smaller change counts as "did not move"


# ------------------------------------------------------------------------------------------------ edits
def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), np.float32)


def _img(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def off_centre_crop(img: Image.Image) -> Image.Image:
    """A window half the width (80% of the height) placed so that the subject - the centre of mass of the
    image's detail (measure.composition) - sits 8% from the window's left or right edge."""
    _, lum = measure.working_arrays(img)
    comp = measure.composition(measure.detail_map(lum))
    sx, sy = comp["subject_x"], comp["subject_y"]
    w, h = img.size
    cw, ch = 0.5, 0.8
    left_edge = sx - 0.08 * cw  # subject near the window's left edge
    right_edge = sx - 0.92 * cw  # ... or near its right edge: whichever window fits better
    x0 = left_edge if abs(np.clip(left_edge, 0, 1 - cw) - left_edge) <= abs(
        np.clip(right_edge, 0, 1 - cw) - right_edge) else right_edge
    x0 = float(np.clip(x0, 0, 1 - cw))
    y0 = float(np.clip(sy - ch / 2, 0, 1 - ch))
    return img.crop((round(x0 * w), round(y0 * h), round((x0 + cw) * w), round((y0 + ch) * h)))


def _jpeg(img: Image.Image, q: int) -> Image.Image:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


EDITS = {
    "darken": lambda im: _img(_arr(im) * 0.4),
    "brighten": lambda im: _img(_arr(im) * 1.8 + 25),
    "desaturate": lambda im: ImageEnhance.Color(im.convert("RGB")).enhance(0.15),
    "blur": lambda im: im.convert("RGB").filter(ImageFilter.GaussianBlur(max(2.0, 0.008 * max(im.size)))),
    "noise": lambda im: _img(_arr(im) + np.random.default_rng(0).normal(0, 20, _arr(im).shape)),
    "jpeg_q10": lambda im: _jpeg(im, 10),
    "off_centre_crop": off_centre_crop,
}


def images(n: int, seed: int = 0) -> list[datasets.Sample]:
    rng = np.random.default_rng(seed)
    sets = ("para", "livec", "agiqa3k")
    pools = {s: datasets.load(s) for s in sets}
    picks = {s: rng.permutation(len(p)) for s, p in pools.items()}
    return [pools[sets[i % 3]][picks[sets[i % 3]][i // 3]] for i in range(n)]


def edit_matrix(assessor, samples: list[datasets.Sample]) -> dict[str, dict]:
    """Per edit and attribute: share of images that went down by >= MIN_DROP, mean change, and the share
    of images where this attribute fell the most of the eight."""
    deltas = {e: {a: [] for a in ATTRS} for e in EDITS}
    t0 = time.time()
    for i, s in enumerate(samples):
        img = load_image(s.path).image
        variants = [img] + [edit(img) for edit in EDITS.values()]
        results = assessor.assess_batch([(v, {}) for v in variants])
        base = results[0].attributes
        for e, r in zip(EDITS, results[1:]):
            for a in ATTRS:
                deltas[e][a].append(r.attributes[a].score - base[a].score)
        if (i + 1) % 8 == 0:
            print(f"{i + 1}/{len(samples)} images, {time.time() - t0:.0f} s", flush=True)
    out = {"share_down": {}, "mean_change": {}, "fell_most": {}}
    for e, row in deltas.items():
        d = np.array([row[a] for a in ATTRS])  # (attributes, images)
        out["share_down"][e] = {a: round(float(np.mean(d[j] <= -MIN_DROP)), 3) for j, a in enumerate(ATTRS)}
        out["mean_change"][e] = {a: round(float(np.mean(d[j])), 2) for j, a in enumerate(ATTRS)}
        most = d.argmin(0)
        out["fell_most"][e] = {a: round(float(np.mean(most == j)), 3) for j, a in enumerate(ATTRS)}
    return out


# ------------------------------------------------------------------------------------------------- PARA
def para_srcc() -> dict:
    """CV SRCC of the learned heads alone and blended with measured evidence, against PARA's humans.
    The out-of-fold predictions come from the training recipe itself (training.aesthetics.fit_attribute:
    the same folds, block prior and stacking on the shipped aesthetics head, which never saw para-dev) on
    featurize's cached features; quality for the blend comes from the shipped quality recipe trained
    without PARA (benchmarks.transfer.common_without), since the shipped head saw PARA's quality votes."""
    from iqa_core.model.encoders.lite import LiteEncoder
    from iqa_core.model.heads import load_heads
    from iqa_core.training.aesthetics import fit_attribute
    from iqa_core.training.featurize import IMAGE_INPUTS, POWER_TECHNICAL, featurize
    from iqa_core.training.fit import cross_val_predict, srcc

    pa = featurize("para", LiteEncoder(), datasets.DEFAULT_ROOT)  # cached features (cache/)
    x, prior = pa.x(IMAGE_INPUTS), pa.prior(IMAGE_INPUTS, POWER_TECHNICAL)
    aesthetics = load_heads()["aesthetics"]
    quality = quality_without_para(pa)
    stats = [measure.measure(load_image(s.path).image) for s in pa.samples]
    out = {}
    for attr in PARA_HUMAN:
        y = pa.y(attr)
        pred = cross_val_predict(fit_attribute(attributes.LEARNED[attr], prior, aesthetics), x, y, pa.groups,
                                 grouped=True).pred
        blended = [attributes.blend(attr, float(p), float(q), st) for p, q, st in zip(pred, quality, stats)]
        out[attr] = {"learned": round(srcc(pred, y), 4), "blended": round(srcc(blended, y), 4), "n": len(y)}
    return out


def quality_without_para(pa) -> np.ndarray:
    from benchmarks.transfer import common_without
    from iqa_core.model.encoders.lite import LiteEncoder
    from iqa_core.training.common_scale import quality_data
    from iqa_core.training.distortions import distorted_features
    from iqa_core.training.featurize import featurize
    from iqa_core.training.quality import SCORED_SETS, train_only_sets

    encoder = LiteEncoder()
    data = {n: pa if n == "para" else featurize(n, encoder, datasets.DEFAULT_ROOT) for n in SCORED_SETS}
    qd = quality_data(data | train_only_sets(encoder, datasets.DEFAULT_ROOT), distorted_features(data, encoder))
    return common_without(qd, data, "para")["pred"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-para", action="store_true")
    args = ap.parse_args(argv)
    from iqa_core.pipeline import Assessor

    t0 = time.time()
    result = {"images": args.images, "seed": args.seed, "min_drop": MIN_DROP, "expected": EXPECTED}
    if not args.skip_para:
        result["para_cv_srcc"] = para_srcc()
        print(table([[a, v["learned"], v["blended"], v["n"]] for a, v in result["para_cv_srcc"].items()],
                    ["attribute", "learned", "shipped (blended)", "n"],
                    "PARA 5-fold grouped CV SRCC against human scores (target >= 0.70)"), flush=True)
    result.update(edit_matrix(Assessor(), images(args.images, args.seed)))
    label = lambda e: f"{e} (-> {EXPECTED[e]})"  # noqa: E731
    for key, title in (("share_down", f"Share of {args.images} images whose attribute went down by >= {MIN_DROP} "
                                      "points (expected attribute in brackets)"),
                       ("mean_change", "Mean change (points, 0-100 scale)"),
                       ("fell_most", "Share of images where this attribute fell the most of the eight")):
        m = result[key]
        print(table([[label(e), *[m[e][a] for a in ATTRS]] for e in EDITS], ["edit", *ATTRS], "\n" + title))
    result["seconds"] = round(time.time() - t0, 1)
    print(f"wrote {write_json('attributes.json', result)} in {result['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
