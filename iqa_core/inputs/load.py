"""Decode an image from a path, bytes or a PIL image into bounded RGB pixels plus its embedded metadata.

Pillow does all decoding. Inputs are untrusted: sizes are checked from the header before any pixels are
decoded, and every failure becomes an ImageLoadError whose message is meant for a person.
"""
from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from iqa_core.inputs.metadata import Metadata, read_embedded

MIB = 1024 * 1024
MAX_FILE_BYTES = 50 * MIB
MAX_PIXELS = 50_000_000  # decompression-bomb limit, checked from the header before decoding
MIN_SIDE = 8
MAX_WORKING_SIDE = 2048

# Ordinary still/animated raster formats. Leaving out the rest shrinks the attack surface: EPS, for one,
# would run Ghostscript on the file.
_FORMATS = ("PNG", "JPEG", "MPO", "WEBP", "GIF", "TIFF", "BMP", "DIB", "ICO", "PPM", "TGA", "JPEG2000",
            "AVIF", "QOI", "PSD", "PCX", "SGI")
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_UNREADABLE = "The file is not an image Pillow can read (or is truncated)."
_DAMAGED = "The image file is damaged or truncated: its header is readable but its pixels cannot be decoded."


class UserError(ValueError):
    """A problem with what the user gave (a path, a CSV, a zip); the message is meant for them."""


class ImageLoadError(ValueError):
    """The input cannot be used as an image; the message is a sentence for a person."""


@dataclass
class LoadedImage:
    image: Image.Image  # RGB, EXIF orientation applied, long side <= MAX_WORKING_SIDE
    name: str
    format: str | None
    original_size: tuple[int, int]
    original_mode: str
    n_frames: int
    embedded: Metadata
    notes: list[str] = field(default_factory=list)  # what was changed, in words


def load_image(src: str | os.PathLike | bytes | Image.Image, name: str | None = None) -> LoadedImage:
    """Decode src (a path, the file's bytes or a PIL image); raises only ImageLoadError."""
    try:
        return _load(src, name)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own limit is above MAX_PIXELS and is left alone (no global change). Its warning arrives
        # here only when warnings are errors; otherwise _check_size refuses the image right after it.
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        count = f"{int(pixels[1]):,} pixels" if pixels else "too many pixels"
        raise ImageLoadError(
            f"The image has {count}; the limit is {MAX_PIXELS // 1_000_000} megapixels."
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(_UNREADABLE) from exc
    except MemoryError as exc:
        raise ImageLoadError("Decoding the image needs more memory than is available.") from exc
    except Exception as exc:  # Pillow plugins raise OSError, SyntaxError, struct.error, ValueError...
        raise ImageLoadError(_UNREADABLE) from exc


def _load(src: str | os.PathLike | bytes | Image.Image, name: str | None) -> LoadedImage:
    if isinstance(src, Image.Image):
        return _decode(src, name or "image")
    if isinstance(src, bytes | bytearray | memoryview):
        data, label = bytes(src), name or "image"
    elif isinstance(src, str | os.PathLike):
        path = Path(src)
        data, label = _read_file(path), name or path.name
    else:
        raise ImageLoadError(f"Expected a file path, bytes or a PIL image, not {type(src).__name__}.")
    _check_byte_count(len(data))
    Image.init()  # registers every plugin, so the allow-list below can be filtered to what this Pillow has
    formats = [fmt for fmt in _FORMATS if fmt in Image.OPEN]
    with Image.open(io.BytesIO(data), formats=formats) as img:
        return _decode(img, label)


def _read_file(path: Path) -> bytes:
    if not path.exists():
        raise ImageLoadError(f"There is no file at {path}.")
    if path.is_dir():
        raise ImageLoadError(f"The path {path} is a folder, not an image file.")
    if not path.is_file():  # a pipe or device could block or never end
        raise ImageLoadError(f"The path {path} is not a regular file.")
    try:
        with path.open("rb") as f:
            return f.read(MAX_FILE_BYTES + 1)  # one byte over is enough to refuse it
    except OSError as exc:
        raise ImageLoadError(f"The file {path} cannot be read ({exc.strerror or exc}).") from exc


def _check_byte_count(n: int) -> None:
    if n == 0:
        raise ImageLoadError("The file is empty (0 bytes).")
    if n > MAX_FILE_BYTES:
        raise ImageLoadError(f"The file is larger than {MAX_FILE_BYTES // MIB} MB, the limit.")


def _decode(img: Image.Image, label: str) -> LoadedImage:
    original_size, original_mode = img.size, img.mode
    _check_size(img.size)
    n_frames = _frame_count(img)  # before decoding: counting seeks through the file
    _decode_pixels(img)
    notes = [f"used the first of {n_frames} frames"] if n_frames > 1 else []
    embedded = read_embedded(img)
    rgb = _cap_size(_to_rgb(_orient(img, notes), notes), notes)
    return LoadedImage(rgb, label, img.format, original_size, original_mode, n_frames, embedded, notes)


def _check_size(size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageLoadError(
            f"The image is {width}x{height} pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageLoadError(
            f"The image is {width}x{height} pixels; each side must be at least {MIN_SIDE} pixels."
        )


def _decode_pixels(img: Image.Image) -> None:
    """The full decode; ImageFile.LOAD_TRUNCATED_IMAGES is left False, so a truncated file fails here."""
    try:
        img.load()
    except MemoryError:
        raise
    except Exception as exc:  # OSError "image file is truncated", SyntaxError, struct.error...
        raise ImageLoadError(_DAMAGED) from exc


def _frame_count(img: Image.Image) -> int:
    try:
        return int(getattr(img, "n_frames", 1))
    except Exception:  # counting walks the whole file; a broken later frame does not spoil the first
        return 1


def _orient(img: Image.Image, notes: list[str]) -> Image.Image:
    try:
        orientation = img.getexif().get(0x0112)
        if orientation not in (2, 3, 4, 5, 6, 7, 8):
            return img
        oriented = ImageOps.exif_transpose(img)
    except Exception:  # garbage EXIF: keep the pixels as stored
        notes.append("EXIF data is damaged; orientation left as stored")
        return img
    notes.append(f"applied EXIF orientation {orientation}")
    return oriented


def _to_rgb(img: Image.Image, notes: list[str]) -> Image.Image:
    """Always a new image, so the result outlives the opened file and never aliases a caller's image."""
    if img.mode.startswith("I") or img.mode == "F":  # I;16*, I (32-bit int), F (float)
        return _stretch_to_8bit(img, notes)
    if img.mode != "RGB":
        notes.append(f"converted {img.mode} to RGB")
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        return _flatten(img, notes)
    return img.convert("RGB")


def _flatten(img: Image.Image, notes: list[str]) -> Image.Image:
    if img.mode == "La":  # Pillow unpremultiplies La only into LA
        img = img.convert("LA")
    rgba = img.convert("RGBA")  # also unpremultiplies RGBa and applies palette/colour-key transparency
    if rgba.getchannel("A").getextrema()[0] == 255:
        return rgba.convert("RGB")
    notes.append("flattened transparency onto white")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _stretch_to_8bit(img: Image.Image, notes: list[str]) -> Image.Image:
    """Map the values actually used to 0..255: 12-bit scans or float data would be near-black if clipped."""
    depth = {"I": "32-bit integer", "F": "floating-point"}.get(img.mode, "16-bit")
    # Downscale first, in float where LANCZOS works, so the arithmetic below stays small.
    values = np.asarray(_cap_size(img.convert("F"), notes), dtype=np.float32)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    scale = 255.0 / (high - low) if high > low else 0.0  # a flat image has no range to stretch: black
    values = np.nan_to_num(values, nan=low, posinf=high, neginf=low)
    gray = np.clip(np.rint((values - low) * scale), 0, 255).astype(np.uint8)
    notes.append(f"{depth} image reduced to 8 bits (values {low:g}..{high:g} stretched to 0..255)")
    return Image.fromarray(gray).convert("RGB")


def _cap_size(img: Image.Image, notes: list[str]) -> Image.Image:
    width, height = img.size
    if max(width, height) <= MAX_WORKING_SIDE:
        return img
    scale = MAX_WORKING_SIDE / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    notes.append(f"scaled {width}x{height} down to {size[0]}x{size[1]}")
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)  # as Image.thumbnail does


def check_file_size(path: str | os.PathLike | None) -> None:
    """Refuse a missing or too-large upload before anything reads it."""
    if not path:
        raise UserError("Upload an image first.")
    p = Path(path)
    if not p.is_file():
        raise ImageLoadError(f"There is no file at {p.name}.")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImageLoadError(f"The file is {size / MIB:.0f} MB; the limit is {MAX_FILE_BYTES // MIB} MB.")
