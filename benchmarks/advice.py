"""Advice benchmark: does the template's advice work? For dev images (livec, para and agiqa3k in turn, the
report half of each by sorted name), the real Assessor writes its explanation; for each fix it gave that
has a matching Pillow edit, the edit is applied and the image re-scored: per fix, the share of images
whose targeted attribute went up (target >= 70%). Also counted: advice that targets a sharp subject
("sharpen" while the subject is sharp on a soft backdrop) or a region reported as depth of field
(target 0). Fixes without an edit here (re-export from the original, reframe, prompt and mood advice) are
listed with how often they were given.

    python -m benchmarks.advice --images 60
"""
from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

try:
    from benchmarks.common import table, write_json
except ImportError:  # run as a script
    from common import table, write_json

from iqa_core.analysis import subject
from iqa_core.explain.template import place
from iqa_core.inputs.load import load_image
from iqa_core.training import datasets


def _white_balance(img: Image.Image) -> Image.Image:
    """Grey world: scale each channel so its mean matches the mean of the three."""
    a = np.asarray(img.convert("RGB"), np.float32)
    means = a.reshape(-1, 3).mean(0)
    return Image.fromarray(np.clip(a * (means.mean() / np.maximum(means, 1.0)), 0, 255).astype(np.uint8))


def _crop_out(img: Image.Image, region) -> Image.Image:
    """Cut away the side of the frame the region sits on (its bbox, at most a third of the frame)."""
    w, h = img.size
    x0, y0, x1, y1 = region.bbox
    cut = {"left": (min(x1, 1 / 3), 0, 1, 1), "right": (0, 0, max(x0, 2 / 3), 1),
           "top": (0, min(y1, 1 / 3), 1, 1), "bottom": (0, 0, 1, max(y0, 2 / 3))}
    box = (0.0, 0.0, 1.0, 1.0)
    for side in region.label.split():
        if side in cut:
            c = cut[side]
            box = (max(box[0], c[0]), max(box[1], c[1]), min(box[2], c[2]), min(box[3], c[3]))
    return img.crop((round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)))


# fix -> (words of the template's advice that give it, the edit, the attribute it should raise)
FIXES = {
    "darken": (("bring the exposure down",), lambda im, a: ImageEnhance.Brightness(im).enhance(0.8), "lighting"),
    "brighten": (("lift the shadows",), lambda im, a: ImageEnhance.Brightness(im).enhance(1.3), "lighting"),
    "contrast": (("add contrast",), lambda im, a: ImageEnhance.Contrast(im).enhance(1.3), "lighting"),
    "saturation": (("more saturation",), lambda im, a: ImageEnhance.Color(im).enhance(1.4), "colour"),
    "white_balance": (("harmonise the colours",), lambda im, a: _white_balance(im), "colour"),
    "sharpen": (("sharpen",), lambda im, a: im.filter(ImageFilter.UnsharpMask(2, 120, 2)), "focus_detail"),
    "denoise": (("reduce noise", "denoise"), lambda im, a: im.filter(ImageFilter.MedianFilter(3)), "technical"),
    "crop": (("crop out",), lambda im, a: _crop_out(im, _advised_region(a)), "quality"),
}
UNTESTED = ("re-export", "reframe", "make the main subject clearer", "unusual viewpoint", "strengthen the mood",
            "recover the highlights in", "prompt", "would make it read")


def advice(explanation: str) -> str:
    return explanation.split("To improve it,", 1)[-1]


def _advised_region(a):
    """The region the crop advice names (the weakest by label, as the template picked it)."""
    text = advice(a.explanation)
    named = [r for r in a.regions if f"crop out or retouch {place(r.label)}" in text]
    return min(named, key=lambda r: r.quality)


def given(a) -> list[str]:
    text = advice(a.explanation).lower()
    return [k for k, (words, _, _) in FIXES.items() if any(w in text for w in words)]


def misdirected(a) -> int:
    """1 if the advice targets a sharp subject or a depth-of-field backdrop."""
    text = advice(a.explanation).lower()
    sharp = subject.backdrop_is_style(a.subject) and "sharpen" in text
    dof = any(r.issue == "depth_of_field" and place(r.label) in text for r in a.regions)
    return int(sharp or dof)


def score(a, attribute: str) -> float:
    return a.quality if attribute == "quality" else a.attributes[attribute].score


def images(n: int) -> list[datasets.Sample]:
    pools = [sorted(datasets.load(s), key=lambda x: x.path.name) for s in ("livec", "para", "agiqa3k")]
    pools = [p[len(p) // 2:] for p in pools]  # the report halves (benchmarks/subject.py selects on the first)
    return [pools[i % 3][i // 3] for i in range(n)]


def run(assessor, samples) -> dict:
    changes = {k: [] for k in FIXES}
    other, wrong, t0 = Counter(), 0, time.time()
    for i, s in enumerate(samples):
        img = load_image(s.path).image
        base = assessor.assess(img)
        wrong += misdirected(base)
        text = advice(base.explanation).lower()
        other.update(u for u in UNTESTED if u in text)
        for fix in given(base):
            _, edit, attr = FIXES[fix]
            changes[fix].append(score(assessor.assess(edit(img, base)), attr) - score(base, attr))
        if (i + 1) % 10 == 0:
            print(f"{i + 1}/{len(samples)} images, {time.time() - t0:.0f} s", flush=True)
    return {"per_fix": {k: {"attribute": FIXES[k][2], "given": len(v),
                            "improved": round(float(np.mean(np.array(v) > 0)), 3) if v else None,
                            "mean_change": round(float(np.mean(v)), 2) if v else None} for k, v in changes.items()},
            "misdirected": wrong, "untested_given": dict(other), "images": len(samples)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=60)
    args = ap.parse_args(argv)
    from iqa_core.pipeline import Assessor

    t0 = time.time()
    result = run(Assessor(), images(args.images))
    print(table([[k, v["attribute"], v["given"], v["improved"] if v["improved"] is not None else "-",
                  v["mean_change"] if v["mean_change"] is not None else "-"] for k, v in result["per_fix"].items()],
                ["fix", "targets", "given", "improved (>= 0.70)", "mean change"],
                f"Advice on {result['images']} dev images: the edit applied, the targeted attribute re-scored"))
    print(f"advice aimed at a sharp subject or a depth-of-field backdrop: {result['misdirected']} (target 0)")
    print(f"advice with no edit here: {result['untested_given']}")
    result["seconds"] = round(time.time() - t0, 1)
    print(f"wrote {write_json('advice.json', result)} in {result['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
