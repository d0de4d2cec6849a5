"""The region map drawn over the image: weaker regions tinted red and outlined."""
from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from iqa_core.assessment import Region
from iqa_core.render.html import regions_weakest_first


def overlay(image: Image.Image, regions: list[Region], max_side: int = 768) -> Image.Image:
    """The image with its weaker regions tinted red (the weaker, the stronger the tint) and outlined.
    Larger regions are drawn first, so a region enclosed by another keeps its own tint."""
    base = image.convert("RGB")
    base.thumbnail((max_side, max_side), Image.BILINEAR)
    w, h = base.size
    tint = Image.new("RGBA", base.size, (0, 0, 0, 0))
    lines = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw, pen = ImageDraw.Draw(tint), ImageDraw.Draw(lines)
    if regions:
        scores = np.array([r.quality for r in regions])
        lo, hi = float(scores.min()), float(scores.max())
        for r in sorted(regions, key=lambda r: -r.share):
            weakness = 0.0 if hi - lo < 1e-6 else (hi - r.quality) / (hi - lo)
            for poly in (r.polygons or [r.polygon]):
                if len(poly) < 3:
                    continue
                pts = [(x * w, y * h) for x, y in poly]
                draw.polygon(pts, fill=(220, 30, 30, int(150 * weakness ** 1.5)))
                pen.line(pts + pts[:1], fill=(255, 255, 255, 180), width=max(1, round(max(w, h) / 400)))
    out = Image.alpha_composite(base.convert("RGBA"), tint)
    return Image.alpha_composite(out, lines).convert("RGB")


def number_regions(overlay: Image.Image, assessment: Any) -> Image.Image:
    """The region map with each region's number (as in region_rows) in a small badge at its centre."""
    img = overlay.convert("RGB").copy()
    w, h = img.size
    draw = ImageDraw.Draw(img)
    size = max(12, round(max(w, h) / 32))
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    for i, r in enumerate(regions_weakest_first(assessment), 1):
        if r.get("centre"):
            cx, cy = r["centre"]
        else:
            x0, y0, x1, y1 = r["bbox"]
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        x, y = cx * w, cy * h
        rad = size * 0.8
        draw.ellipse((x - rad, y - rad, x + rad, y + rad), fill=(17, 24, 39), outline=(255, 255, 255),
                     width=max(1, size // 8))
        draw.text((x, y), str(i), fill=(255, 255, 255), font=font, anchor="mm")
    return img
