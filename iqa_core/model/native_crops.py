"""Native-resolution crops: a large image is also scored on crops at its own pixels.

Every training set's images are 224-512 px, so the encoder's 448 px view of them is close to their pixels;
a 1024-2048 px image is shrunk 2-5x for that view, and its noise, JPEG blocks and fine smearing shrink away
with it. As patch-based IQA and MUSIQ's native-resolution scale do, the quality head also reads crops of
CROP px taken from the working image without resizing (one per quadrant along each side that is at least
MIN_SIDE long), and the image's quality (after the subject blend, analysis/subject.py) blends in the crops' score
(benchmarks/native_crops.py measures the blend on mosaics of dev images at native resolution).
"""
from __future__ import annotations

from PIL import Image

CROP = 448  # the encoder's large input size: a crop this size is encoded at its own pixels
MIN_SIDE = 2 * CROP  # a shorter side keeps its 448 px view within 2x of native: one crop would add little
# How the crops' scores enter quality, chosen on the selection half of benchmarks/native_crops.py's mosaics:
W_NATIVE = 0.25  # the crops' share
RULE = "mean"  # "mean": blend with the crops' score; "penalty": only a crops' score below the whole view counts
AGGREGATE = "upper"  # the crops' score: the mean of "all", or of the "upper" (better) half, so the crops of a
# soft backdrop drop out and the subject's crop carries it


def boxes(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Crops centred in the image's halves along every side of at least MIN_SIDE (two or four crops), or
    none when neither side is that long."""
    nx, ny = (2 if side >= MIN_SIDE else 1 for side in (width, height))
    if nx * ny == 1 or min(width, height) < CROP:
        return []
    out = []
    for j in range(ny):
        for i in range(nx):
            cx, cy = round((i + 0.5) * width / nx), round((j + 0.5) * height / ny)
            x0 = min(max(cx - CROP // 2, 0), width - CROP)
            y0 = min(max(cy - CROP // 2, 0), height - CROP)
            out.append((x0, y0, x0 + CROP, y0 + CROP))
    return out


def crops(image: Image.Image) -> list[tuple[tuple[int, int, int, int], Image.Image]]:
    return [(box, image.crop(box)) for box in boxes(*image.size)]


def blend(whole: float, crop_scores: list[float], weight: float = W_NATIVE, rule: str = RULE,
          aggregate: str = AGGREGATE) -> float:
    """Quality from the whole view and the crops' scores (the whole view alone without crops)."""
    if not crop_scores:
        return whole
    kept = sorted(crop_scores)[len(crop_scores) // 2:] if aggregate == "upper" else crop_scores
    crops = sum(kept) / len(kept)
    if rule == "penalty":
        return whole - weight * max(0.0, whole - crops)
    return (1.0 - weight) * whole + weight * crops

