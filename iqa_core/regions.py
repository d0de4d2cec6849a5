"""Region map (after RSFIQA): split the image into regions, score each with the quality head applied to
features pooled only inside the region, and draw an overlay of where the image is weak."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .assessment import Region
from .encoders.lite import FeatureMaps, pool_maps

ROWS = ("top", "middle", "bottom")
COLS = ("left", "centre", "right")


def grid_masks(n: int = 3, size: int = 48) -> list[tuple[str, np.ndarray, list[float]]]:
    """n x n cells: (label, mask, bbox). Masks are resolution-free (pool_maps resizes them per stage)."""
    out = []
    for r in range(n):
        for c in range(n):
            mask = np.zeros((size, size), np.float32)
            y0, y1, x0, x1 = r * size // n, (r + 1) * size // n, c * size // n, (c + 1) * size // n
            mask[y0:y1, x0:x1] = 1.0
            label = "centre" if (ROWS[r], COLS[c]) == ("middle", "centre") else f"{ROWS[r]} {COLS[c]}"
            out.append((label, mask, [x0 / size, y0 / size, x1 / size, y1 / size]))
    return out


def score_regions(fm: FeatureMaps, quality_fn) -> list[Region]:
    """quality_fn maps pooled features (n, D) to 0-100 quality scores."""
    cells = grid_masks()
    feats = np.stack([pool_maps(fm.maps, mask) for _, mask, _ in cells])
    scores = quality_fn(feats)
    regions = []
    for i, ((label, mask, bbox), score) in enumerate(zip(cells, scores)):
        x0, y0, x1, y1 = bbox
        regions.append(Region(id=i, label=label, bbox=[round(v, 4) for v in bbox], share=float(mask.mean()),
                              quality=round(float(score), 1),
                              polygon=[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
    return regions


def overlay(image: Image.Image, regions: list[Region], max_side: int = 768) -> Image.Image:
    """The image with its weaker regions tinted red (the weaker, the stronger the tint) and outlined."""
    base = image.convert("RGB")
    base.thumbnail((max_side, max_side), Image.BILINEAR)
    w, h = base.size
    tint = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(tint)
    if regions:
        scores = np.array([r.quality for r in regions])
        lo, hi = float(scores.min()), float(scores.max())
        for r in regions:
            weakness = 0.0 if hi - lo < 1e-6 else (hi - r.quality) / (hi - lo)
            pts = [(x * w, y * h) for x, y in r.polygon]
            draw.polygon(pts, fill=(220, 30, 30, int(150 * weakness)), outline=(255, 255, 255, 160))
    return Image.alpha_composite(base.convert("RGBA"), tint).convert("RGB")
