"""Advice benchmark: does the template's advice work? The real Assessor writes each image's explanation; for
each fix it gave that has a matching Pillow edit, the edit is applied and the image re-scored: per fix, the
share of images whose targeted attribute went up (target >= 70%).

Images: the report half of livec, para and agiqa3k dev (the second half by sorted name, interleaved
livec, para, agiqa3k; benchmarks/subject.py selects on the first half of livec), from two sources:
- as-is: the first --images of them, every fix the template gave counted;
- induced: per fix, the first --induced of them after the opposite edit (INDUCE: brightness x1.6 for
  "darken", x0.5 for "brighten", contrast x0.5, colour x0.3, a warm cast (R, G, B x1.0, 0.85, 0.65),
  Gaussian blur of 0.4% of the longer side, Gaussian noise sigma 12/255 from a generator seeded by the
  image's position); only that fix is counted, and only where the template actually gave it.
Advice aimed at a region ("sharpen or re-shoot the top left corner") is applied inside that region's box;
the rest to the whole frame. Also counted: advice that targets a sharp subject ("sharpen" while the subject
is sharp on a soft backdrop) or a region reported as depth of field (target 0). Fixes without an edit here
(re-export from the original, reframe, prompt and mood advice) are listed with how often they were given.
The template gives no crop advice (cutting away the weakest side lowered quality in 29 of 35 advised images).

    python -m benchmarks.advice --images 90 --induced 90
"""
from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

try:
    from benchmarks.common import table, write_json
except ImportError:  # run as a script
    from common import table, write_json

from iqa_core.analysis import subject
from iqa_core.explain.template import REGION_ISSUES, place
from iqa_core.inputs.load import load_image
from iqa_core.training import datasets


def _white_balance(img: Image.Image) -> Image.Image:
    """Grey world: scale each channel so its mean matches the mean of the three."""
    a = np.asarray(img.convert("RGB"), np.float32)
    means = a.reshape(-1, 3).mean(0)
    return Image.fromarray(np.clip(a * (means.mean() / np.maximum(means, 1.0)), 0, 255).astype(np.uint8))


def _cast(img: Image.Image) -> Image.Image:
    a = np.asarray(img.convert("RGB"), np.float32) * np.array([1.0, 0.85, 0.65], np.float32)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _blur(img: Image.Image) -> Image.Image:
    return img.filter(ImageFilter.GaussianBlur(max(1.0, 0.004 * max(img.size))))


def _noise(img: Image.Image, seed: int) -> Image.Image:
    a = np.asarray(img.convert("RGB"), np.float32)
    a = a + np.random.default_rng(seed).normal(0.0, 12.0, a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


@dataclass(frozen=True)
class Fix:
    words: tuple[str, ...]  # words of the template's whole-image advice that give this fix
    edit: Callable[[Image.Image], Image.Image]
    attribute: str  # the attribute the edit should raise
    induce: Callable[[Image.Image, int], Image.Image]  # the opposite edit (image, seed): makes the fix needed
    region_issue: str | None = None  # the region detector's issue whose advice (REGION_ISSUES) is this fix


FIXES = {
    "darken": Fix(("bring the exposure down",), lambda im: ImageEnhance.Brightness(im).enhance(0.8), "lighting",
                  lambda im, s: ImageEnhance.Brightness(im).enhance(1.6), "overexposure"),
    "brighten": Fix(("lift the shadows",), lambda im: ImageEnhance.Brightness(im).enhance(1.3), "lighting",
                    lambda im, s: ImageEnhance.Brightness(im).enhance(0.5)),
    "contrast": Fix(("add contrast",), lambda im: ImageEnhance.Contrast(im).enhance(1.3), "lighting",
                    lambda im, s: ImageEnhance.Contrast(im).enhance(0.5)),
    "saturation": Fix(("more saturation",), lambda im: ImageEnhance.Color(im).enhance(1.4), "colour",
                      lambda im, s: ImageEnhance.Color(im).enhance(0.3)),
    "white_balance": Fix(("white balance",), _white_balance, "colour", lambda im, s: _cast(im)),
    "sharpen": Fix(("sharpen the subject",), lambda im: im.filter(ImageFilter.UnsharpMask(2, 120, 2)),
                   "focus_detail", lambda im, s: _blur(im), "blur"),
    "denoise": Fix(("reduce noise",), lambda im: im.filter(ImageFilter.MedianFilter(3)), "technical", _noise,
                   "noise"),
}
UNTESTED = ("re-export", "reframe", "make the main subject clearer", "unusual viewpoint", "strengthen the mood",
            "harmonise the colours", "prompt", "would make it read")


def advice(explanation: str) -> str:
    return explanation.split("To improve it,", 1)[-1]


def _region_advised(a, issue: str):
    """The region whose REGION_ISSUES advice for this issue the explanation gives, or None."""
    text = advice(a.explanation)
    return next((r for r in a.regions if REGION_ISSUES[issue][1].format(where=place(r.label)) in text), None)


def given(a) -> dict[str, object]:
    """fix -> where to apply it: None for the whole frame, else the advised region."""
    text = advice(a.explanation).lower()
    out = {}
    for name, fix in FIXES.items():
        if any(w in text for w in fix.words):
            out[name] = None
        elif fix.region_issue and (region := _region_advised(a, fix.region_issue)) is not None:
            out[name] = region
    return out


def apply(fix: Fix, img: Image.Image, region) -> Image.Image:
    edited = fix.edit(img)
    if region is None:
        return edited
    w, h = img.size
    x0, y0, x1, y1 = region.bbox
    box = (round(x0 * w), round(y0 * h), round(x1 * w), round(y1 * h))
    out = img.copy()
    out.paste(edited.crop(box), box[:2])
    return out


def misdirected(a) -> int:
    """1 if the advice targets a sharp subject or a depth-of-field backdrop."""
    text = advice(a.explanation).lower()
    sharp = subject.backdrop_is_style(a.subject) and "sharpen" in text
    dof = any(r.issue == "depth_of_field" and place(r.label) in text for r in a.regions)
    return int(sharp or dof)


def images(n: int) -> list[datasets.Sample]:
    pools = [sorted(datasets.load(s), key=lambda x: x.path.name) for s in ("livec", "para", "agiqa3k")]
    pools = [p[len(p) // 2:] for p in pools]  # the report halves (benchmarks/subject.py selects on the first)
    return [pools[i % 3][i // 3] for i in range(n)]


def _change(assessor, fix: Fix, img: Image.Image, base, region) -> float:
    after = assessor.assess(apply(fix, img, region))
    return after.attributes[fix.attribute].score - base.attributes[fix.attribute].score


def run(assessor, samples, induced: int) -> dict:
    changes = {k: {"as-is": [], "induced": []} for k in FIXES}
    other, wrong, offered, t0 = Counter(), 0, Counter(), time.time()
    for i, s in enumerate(samples):
        img = load_image(s.path).image
        base = assessor.assess(img)
        wrong += misdirected(base)
        other.update(u for u in UNTESTED if u in advice(base.explanation).lower())
        for name, region in given(base).items():
            changes[name]["as-is"].append(_change(assessor, FIXES[name], img, base, region))
        for name, fix in FIXES.items():
            if i >= induced:
                break
            needy = fix.induce(img, i)
            a = assessor.assess(needy)
            wrong += misdirected(a)
            offered[name] += 1
            if name in (advised := given(a)):
                changes[name]["induced"].append(_change(assessor, fix, needy, a, advised[name]))
        if (i + 1) % 10 == 0:
            print(f"{i + 1}/{len(samples)} images, {time.time() - t0:.0f} s", flush=True)

    def summary(v: list[float]) -> dict:
        return {"given": len(v), "improved": round(float(np.mean(np.array(v) > 0)), 3) if v else None,
                "mean_change": round(float(np.mean(v)), 2) if v else None}

    per_fix = {k: {"attribute": FIXES[k].attribute, **summary(v["as-is"] + v["induced"]),
                   "as-is": summary(v["as-is"]), "induced": {**summary(v["induced"]), "of": offered[k]}}
               for k, v in changes.items()}
    return {"per_fix": per_fix, "misdirected": wrong, "untested_given": dict(other), "images": len(samples),
            "induced_per_fix": min(induced, len(samples))}


def _cell(d: dict, key: str):
    return d[key] if d[key] is not None else "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=90, help="report-half images assessed as they are")
    ap.add_argument("--induced", type=int, default=90, help="of those, how many get each fix's opposite edit")
    args = ap.parse_args(argv)
    from iqa_core.pipeline import Assessor

    t0 = time.time()
    result = run(Assessor(), images(args.images), args.induced)
    rows = [[k, v["attribute"], v["given"], _cell(v, "improved"), _cell(v, "mean_change"),
             f"{v['as-is']['given']}: {_cell(v['as-is'], 'improved')}",
             f"{v['induced']['given']}/{v['induced']['of']}: {_cell(v['induced'], 'improved')}"]
            for k, v in result["per_fix"].items()]
    print(table(rows, ["fix", "targets", "given", "improved (>= 0.70)", "mean change", "as-is: improved",
                       "induced given/of: improved"],
                f"Advice on {result['images']} dev images as they are and {result['induced_per_fix']} per fix "
                "made to need it: the edit applied, the targeted attribute re-scored"))
    print(f"advice aimed at a sharp subject or a depth-of-field backdrop: {result['misdirected']} (target 0)")
    print(f"advice with no edit here: {result['untested_given']}")
    result["seconds"] = round(time.time() - t0, 1)
    print(f"wrote {write_json('advice.json', result)} in {result['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
