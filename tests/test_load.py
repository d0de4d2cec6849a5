"""Loading images from paths, bytes and PIL images: hostile files are refused clearly or made sensible RGB."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from iqa_core.inputs import load
from iqa_core.inputs.load import MAX_WORKING_SIDE, ImageLoadError, LoadedImage, load_image
from iqa_core.inputs.metadata import MAX_TEXT_CHARS, read_embedded
from tests.hostile_files import build_corpus, noise


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_corpus(tmp_path_factory.mktemp("hostile"))


def pixel(loaded: LoadedImage, x: int, y: int) -> tuple[int, int, int]:
    return loaded.image.getpixel((x, y))


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(p - q) <= tolerance for p, q in zip(a, b, strict=True))


def test_every_hostile_file_is_refused_or_loaded(corpus):
    for name, path in corpus.items():
        try:
            loaded = load_image(path)
        except ImageLoadError as exc:
            message = str(exc)
            assert message[0].isupper() and message.endswith("."), (name, message)
        else:
            assert loaded.image.mode == "RGB", name
            assert max(loaded.image.size) <= MAX_WORKING_SIDE, name
            assert loaded.name == path.name


@pytest.mark.parametrize(("name", "message"), [
    ("truncated_jpeg", "The image file is damaged or truncated"),
    ("truncated_png", "The image file is damaged or truncated"),
    ("text_as_jpg", "The file is not an image Pillow can read"),
    ("empty", r"The file is empty \(0 bytes\)\."),
    ("tiny_png", "The image is 1x1 pixels; each side must be at least 8 pixels."),
    ("bomb_png", "The image has 400,000,000 pixels; the limit is 50 megapixels."),
])
def test_refused(corpus, name, message):
    with pytest.raises(ImageLoadError, match=message):
        load_image(corpus[name])
    with pytest.raises(ImageLoadError, match=message):  # the same from bytes
        load_image(corpus[name].read_bytes())


def test_header_over_the_pixel_limit_is_refused_before_decoding(monkeypatch, tmp_path):
    # Under Pillow's own bomb limit, so only our check stands between the header and the decode.
    monkeypatch.setattr(load, "MAX_PIXELS", 1000)
    path = tmp_path / "forty.png"
    Image.new("L", (40, 40)).save(path)
    with pytest.raises(ImageLoadError, match="The image is 40x40 pixels; the limit is 0 megapixels."):
        load_image(path)


def test_16_bit_tiff_is_stretched_by_its_range(corpus):
    loaded = load_image(corpus["gray16_tiff"])
    assert (loaded.image.mode, loaded.image.size, loaded.original_mode) == ("RGB", (96, 64), "I;16")
    assert loaded.notes == ["16-bit image reduced to 8 bits (values 1000..5000 stretched to 0..255)"]
    gray = np.asarray(loaded.image)[..., 0].ravel()
    assert (gray.min(), gray.max()) == (0, 255)
    assert np.all(np.diff(gray.astype(int)) >= 0)  # the ramp survives in order


def test_cmyk_jpeg(corpus):
    loaded = load_image(corpus["cmyk_jpeg"])
    assert (loaded.original_mode, loaded.notes) == ("CMYK", ["converted CMYK to RGB"])
    assert close(pixel(loaded, 8, 24), (255, 0, 0), 40)
    assert close(pixel(loaded, 56, 24), (255, 255, 255))


def test_palette_transparency_is_flattened_onto_white(corpus):
    loaded = load_image(corpus["palette_transparent_png"])
    assert loaded.notes == ["converted P to RGB", "flattened transparency onto white"]
    assert pixel(loaded, 4, 4) == (255, 255, 255)
    assert pixel(loaded, 28, 4) == (0, 0, 255)


@pytest.mark.parametrize("name", ["animated_gif", "animated_webp"])
def test_animation_gives_its_first_frame(corpus, name):
    loaded = load_image(corpus[name])
    assert loaded.n_frames == 3 and loaded.notes[0] == "used the first of 3 frames"
    assert (loaded.image.size, pixel(loaded, 10, 10)) == ((48, 32), (255, 0, 0))


def test_garbage_exif_is_noted_not_fatal(corpus):
    loaded = load_image(corpus["garbage_exif_jpeg"])
    assert loaded.image.size == (40, 24)
    assert loaded.notes == ["EXIF data is damaged; orientation left as stored"]


def test_xmp_bomb_is_skipped(corpus):
    loaded = load_image(corpus["xmp_bomb_png"])
    assert loaded.embedded.caption == "the caption next to the bomb"
    assert loaded.embedded.warnings == ["XMP skipped: it declares a DTD or entities (possible XML bomb)"]


def test_ten_megabyte_text_chunk_is_truncated(corpus):
    embedded = load_image(corpus["huge_text_png"]).embedded
    assert len(embedded.prompt) <= MAX_TEXT_CHARS and embedded.prompt.startswith("a cat, a cat")
    assert embedded.warnings == [f"prompt truncated to {MAX_TEXT_CHARS} characters"]


def test_invalid_utf8_text_chunks(corpus):
    embedded = load_image(corpus["bad_utf8_png"]).embedded
    assert embedded.caption == "caf\xc3( \xff\xfebad"  # not UTF-8, so read as the Latin-1 PNG specifies
    assert embedded.negative_prompt == "\xc0\xc1" and embedded.settings["Seed"] == "1"


def test_large_jpeg_is_scaled_down(corpus):
    loaded = load_image(corpus["large_jpeg"])
    assert (loaded.original_size, loaded.image.size) == ((6000, 4000), (2048, 1365))
    assert loaded.notes == ["scaled 6000x4000 down to 2048x1365"]
    assert loaded.format == "JPEG"


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (20, 0, 40, 20))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: turn 90 degrees clockwise to view
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif, quality=95)
    loaded = load_image(path)
    assert loaded.image.size == (20, 40) and loaded.original_size == (40, 20)
    assert close(pixel(loaded, 10, 5), (255, 0, 0)) and close(pixel(loaded, 10, 35), (0, 0, 255))
    assert loaded.notes == ["applied EXIF orientation 6"]


def test_bytes_input_and_metadata(tmp_path):
    buf = io.BytesIO()
    noise((32, 16)).save(buf, "PNG", pnginfo=_parameters("a fox\nSteps: 1, Sampler: x, Seed: 2"))
    loaded = load_image(buf.getvalue())
    assert (loaded.name, loaded.format, loaded.image.size) == ("image", "PNG", (32, 16))
    assert loaded.embedded.prompt == "a fox" and loaded.embedded.settings["Seed"] == "2"
    assert load_image(bytearray(buf.getvalue()), name="fox.png").name == "fox.png"


def _parameters(text: str) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    return info


def test_pil_input_is_not_modified():
    src = Image.new("RGBA", (16, 12), (10, 20, 30, 0))
    loaded = load_image(src)
    assert (loaded.name, loaded.format, loaded.original_mode) == ("image", None, "RGBA")
    assert loaded.image is not src and src.mode == "RGBA" and src.getpixel((0, 0)) == (10, 20, 30, 0)
    assert pixel(loaded, 0, 0) == (255, 255, 255)
    rgb = Image.new("RGB", (16, 12), (1, 2, 3))
    assert load_image(rgb).image is not rgb
    with pytest.raises(ImageLoadError, match="4x4 pixels"):
        load_image(Image.new("RGB", (4, 4)))


@pytest.mark.parametrize("mode", [
    "1", "L", "P", "RGB", "RGBA", "RGBX", "RGBa", "LA", "La", "PA", "CMYK", "YCbCr", "LAB", "HSV",
    "I", "F", "I;16", "I;16B", "I;16L", "I;16N",
])
def test_every_mode_becomes_rgb(mode):
    loaded = load_image(Image.new(mode, (16, 12)))
    assert (loaded.image.mode, loaded.image.size, loaded.original_mode) == ("RGB", (16, 12), mode)


def test_modes_convert_to_the_right_colours():
    assert pixel(load_image(Image.new("LAB", (8, 8), (136, 208, 195))), 0, 0) == (250, 3, 11)  # a red in Lab
    assert pixel(load_image(Image.new("YCbCr", (8, 8), (76, 85, 255))), 0, 0)[0] > 240
    assert pixel(load_image(Image.new("LA", (8, 8), (0, 0))), 0, 0) == (255, 255, 255)
    assert pixel(load_image(Image.new("1", (8, 8), 1)), 0, 0) == (255, 255, 255)


def test_large_16_bit_image_is_scaled_before_stretching():
    ramp = np.tile(np.arange(3000, dtype=np.uint16), (30, 1)) * 20
    loaded = load_image(Image.fromarray(ramp))
    assert loaded.image.size == (2048, 20)
    assert loaded.notes[0] == "scaled 3000x30 down to 2048x20"
    assert loaded.notes[1].startswith("16-bit image reduced to 8 bits")


def test_float_image_with_nan_is_stretched():
    values = np.linspace(0.0, 1.0, 16 * 8, dtype=np.float32).reshape(8, 16)
    values[3, 5] = np.nan
    values[4, 5] = np.inf
    loaded = load_image(Image.fromarray(values))
    gray = np.asarray(loaded.image)[..., 0]
    assert (gray[0, 0], gray[-1, -1], gray[3, 5], gray[4, 5]) == (0, 255, 0, 255)  # NaN -> low, inf -> high
    assert loaded.notes == ["floating-point image reduced to 8 bits (values 0..1 stretched to 0..255)"]


def test_grey_with_colour_key_is_flattened(tmp_path):
    path = tmp_path / "keyed.png"
    img = Image.new("L", (8, 8), 10)
    img.putpixel((7, 7), 200)
    img.save(path, transparency=10)
    loaded = load_image(path)
    assert pixel(loaded, 0, 0) == (255, 255, 255) and pixel(loaded, 7, 7) == (200, 200, 200)


def test_bad_paths_and_inputs(tmp_path, monkeypatch):
    with pytest.raises(ImageLoadError, match="There is no file at"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageLoadError, match="is a folder, not an image file."):
        load_image(tmp_path)
    with pytest.raises(ImageLoadError, match="is not a regular file."):
        load_image("/dev/null")
    with pytest.raises(ImageLoadError, match="Expected a file path, bytes or a PIL image, not int."):
        load_image(123)  # type: ignore[arg-type]
    monkeypatch.setattr(load, "MAX_FILE_BYTES", 1024 * 1024)
    path = tmp_path / "big.png"
    noise((1024, 512)).save(path)  # about 1.5 MB of incompressible pixels
    with pytest.raises(ImageLoadError, match="The file is larger than 1 MB, the limit."):
        load_image(path)
    with pytest.raises(ImageLoadError, match="The file is larger than 1 MB, the limit."):
        load_image(path.read_bytes())


def test_formats_outside_the_allow_list_are_refused():
    buf = io.BytesIO()
    Image.new("L", (16, 16)).save(buf, "SPIDER")
    assert Image.open(io.BytesIO(buf.getvalue())).format == "SPIDER"  # Pillow itself would read it
    with pytest.raises(ImageLoadError, match="not an image Pillow can read"):
        load_image(buf.getvalue())


def _seed_files() -> list[bytes]:
    """Small valid files of each common format, several carrying metadata, for the fuzz test to damage."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010E] = "caption"
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + "a cat\nSteps: 1, Sampler: x, Seed: 2".encode("utf-16-be")
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:subject xmlns:dc="http://purl.org/dc/elements/1.1/"/></x:xmpmeta>'
    frames = [noise((16, 12), seed) for seed in range(3)]
    saves = [
        ("PNG", {"pnginfo": _parameters("a fox\nNegative prompt: x\nSteps: 1, Sampler: x, Seed: 2")}),
        ("JPEG", {"exif": exif, "xmp": xmp}),
        ("GIF", {"save_all": True, "append_images": frames[1:]}),
        ("WEBP", {"exif": exif, "save_all": True, "append_images": frames[1:]}),
        ("TIFF", {"exif": exif}),
        ("BMP", {}),
    ]
    files = []
    for fmt, extra in saves:
        buf = io.BytesIO()
        frames[0].save(buf, fmt, **extra)
        files.append(buf.getvalue())
    return files


SEEDS = _seed_files()


# Pillow's own notes on corrupt EXIF and on bomb-sized headers (which MAX_PIXELS then refuses)
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::PIL.Image.DecompressionBombWarning")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
       st.integers(0, 10**6))
def test_damaged_files_never_raise_anything_else(seed, edits, cut):
    data = bytearray(seed)
    for at, value in edits:
        data[at % len(data)] = value
    data = bytes(data[: max(1, len(data) - cut % len(data))])
    try:
        loaded = load_image(data)
    except ImageLoadError:
        pass
    else:
        assert loaded.image.mode == "RGB" and max(loaded.image.size) <= MAX_WORKING_SIDE
    try:
        opened = Image.open(io.BytesIO(data))
    except Exception:  # no readable header: no metadata to read
        return
    read_embedded(opened)  # never raises, so load_image's catch-all cannot be hiding a metadata bug
