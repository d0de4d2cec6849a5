"""Builders for malformed and unusual image files, made with Pillow, for tests of loaders and front ends.

Each make_* function writes one file into a folder and returns its path; build_corpus makes them all.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, PngImagePlugin

XMP_BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description><rdf:Alt>
<rdf:li xml:lang="x-default">&lol9;</rdf:li></rdf:Alt></dc:description></rdf:Description></rdf:RDF></x:xmpmeta>"""


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Random RGB pixels: they compress badly, so cutting the file really cuts image data."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _truncated(folder: Path, name: str, fmt: str) -> Path:
    path = folder / name
    noise((64, 64)).save(path, fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    return path


def make_truncated_jpeg(folder: Path) -> Path:
    return _truncated(folder, "truncated.jpg", "JPEG")


def make_truncated_png(folder: Path) -> Path:
    return _truncated(folder, "truncated.png", "PNG")


def make_text_as_jpg(folder: Path) -> Path:
    path = folder / "not_an_image.jpg"
    path.write_text("This is a text file, not a JPEG.\n")
    return path


def make_empty(folder: Path) -> Path:
    path = folder / "empty.png"
    path.write_bytes(b"")
    return path


def make_tiny_png(folder: Path) -> Path:
    path = folder / "tiny_1x1.png"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(path)
    return path


def make_bomb_png(folder: Path) -> Path:
    """A real, valid 20000x20000 1-bit PNG: about 50 KB on disk, 400 megapixels decoded."""
    path = folder / "bomb_20000x20000.png"
    Image.new("1", (20000, 20000)).save(path, optimize=False)
    return path


def make_gray16_tiff(folder: Path) -> Path:
    """I;16 gradient using only 1000..5000 of the 16-bit range, like a 12-bit scan."""
    path = folder / "gray16.tif"
    ramp = np.linspace(1000, 5000, 96 * 64).reshape(64, 96).astype(np.uint16)
    Image.fromarray(ramp).save(path)
    return path


def make_cmyk_jpeg(folder: Path) -> Path:
    path = folder / "cmyk.jpg"
    img = Image.new("CMYK", (64, 48), (0, 0, 0, 0))  # white
    ImageDraw.Draw(img).rectangle((0, 0, 31, 47), fill=(0, 255, 255, 0))  # red left half
    img.save(path, quality=95)
    return path


def make_palette_transparent_png(folder: Path) -> Path:
    """Left half palette index 0 (transparent), right half index 1 (opaque blue)."""
    path = folder / "palette_transparent.png"
    img = Image.new("P", (32, 32), 0)
    img.putpalette([0, 0, 0, 0, 0, 255])
    ImageDraw.Draw(img).rectangle((16, 0, 31, 31), fill=1)
    img.save(path, transparency=0)
    return path


def _frames() -> list[Image.Image]:
    return [Image.new("RGB", (48, 32), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]


def make_animated_gif(folder: Path) -> Path:
    path = folder / "animated.gif"
    first, *rest = _frames()
    first.save(path, save_all=True, append_images=rest, duration=100, loop=0)
    return path


def make_animated_webp(folder: Path) -> Path:
    path = folder / "animated.webp"
    first, *rest = _frames()
    first.save(path, save_all=True, append_images=rest, duration=100, loop=0, lossless=True)
    return path


def garbage_exif() -> bytes:
    """EXIF with Orientation 6, a tag whose type is wrong and a next-IFD offset far past the end."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010E] = "garbage test"
    exif[0x010F] = "Make"
    raw = bytearray(exif.tobytes())  # b"Exif\0\0" + TIFF header + IFD0
    endian = ">" if raw[6:8] == b"MM" else "<"
    # Retag Make (0x010F, ASCII) as TileWidth (0x0142), which must be a number.
    at = raw.index(struct.pack(endian + "HH", 0x010F, 2))
    raw[at:at + 2] = struct.pack(endian + "H", 0x0142)
    count = struct.unpack_from(endian + "H", raw, 14)[0]
    struct.pack_into(endian + "I", raw, 16 + 12 * count, 0x7FFFFFF0)
    return bytes(raw)


def make_garbage_exif_jpeg(folder: Path) -> Path:
    path = folder / "garbage_exif.jpg"
    noise((40, 24)).save(path, exif=garbage_exif())
    return path


def make_xmp_bomb_png(folder: Path) -> Path:
    path = folder / "xmp_bomb.png"
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP_BOMB)
    info.add_text("Description", "the caption next to the bomb")
    noise((16, 16)).save(path, pnginfo=info)
    return path


def make_huge_text_png(folder: Path) -> Path:
    """A 10 MB A1111 "parameters" chunk (one long prompt line, no settings)."""
    path = folder / "huge_text.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat, " * (10 * 1024 * 1024 // 7))
    noise((16, 16)).save(path, pnginfo=info)
    return path


def make_bad_utf8_png(folder: Path) -> Path:
    """tEXt and iTXt chunks whose bytes are not valid UTF-8."""
    path = folder / "bad_utf8.png"
    info = PngImagePlugin.PngInfo()
    info.add(b"tEXt", b"Description\x00caf\xc3\x28 \xff\xfe\x00bad")
    info.add(b"iTXt", b"Title\x00\x00\x00\x00\x00\xff\xfe\xc3 not utf-8")
    info.add(b"tEXt", b"parameters\x00\xff\xfe prompt\nNegative prompt: \xc0\xc1\nSteps: \xff, Sampler: x, Seed: 1")
    noise((16, 16)).save(path, pnginfo=info)
    return path


def make_large_jpeg(folder: Path) -> Path:
    path = folder / "large_6000x4000.jpg"
    img = Image.new("RGB", (6000, 4000), (40, 90, 160))
    draw = ImageDraw.Draw(img)
    draw.rectangle((1000, 1000, 3000, 2500), fill=(230, 200, 40))
    draw.ellipse((3500, 500, 5500, 3500), fill=(200, 30, 30))
    img.save(path, quality=85)
    return path


BUILDERS = {
    "truncated_jpeg": make_truncated_jpeg,
    "truncated_png": make_truncated_png,
    "text_as_jpg": make_text_as_jpg,
    "empty": make_empty,
    "tiny_png": make_tiny_png,
    "bomb_png": make_bomb_png,
    "gray16_tiff": make_gray16_tiff,
    "cmyk_jpeg": make_cmyk_jpeg,
    "palette_transparent_png": make_palette_transparent_png,
    "animated_gif": make_animated_gif,
    "animated_webp": make_animated_webp,
    "garbage_exif_jpeg": make_garbage_exif_jpeg,
    "xmp_bomb_png": make_xmp_bomb_png,
    "huge_text_png": make_huge_text_png,
    "bad_utf8_png": make_bad_utf8_png,
    "large_jpeg": make_large_jpeg,
}


def build_corpus(folder: str | Path) -> dict[str, Path]:
    """Write every hostile file into folder; returns name -> path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return {name: build(folder) for name, build in BUILDERS.items()}
