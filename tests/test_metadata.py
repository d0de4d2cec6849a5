"""Reading embedded text metadata (PNG text, EXIF, XMP, IPTC) and merging it with what the user types."""
from __future__ import annotations

import io
import json
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from iqa_core.inputs.metadata import (
    MAX_TAG_CHARS,
    MAX_TAGS,
    MAX_TEXT_CHARS,
    Metadata,
    from_user,
    merge,
    read_embedded,
)
from iqa_core.inputs.readers import parse_a1111
from tests.hostile_files import XMP_BOMB, garbage_exif

A1111 = (
    "a photo of a cat, (masterpiece:1.2)\n"
    "wearing a hat\n"
    "Negative prompt: blurry, lowres\n"
    "bad hands\n"
    'Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 12345, Size: 512x512, Model hash: abcd1234, '
    'Model: sd_v15, Lora hashes: "add_detail: 1234abcd, more: 99", Version: v1.6.0'
)
A1111_SETTINGS = {
    "Steps": "20", "Sampler": "Euler a", "CFG scale": "7", "Seed": "12345", "Size": "512x512",
    "Model hash": "abcd1234", "Model": "sd_v15", "Lora hashes": "add_detail: 1234abcd, more: 99",
    "Version": "v1.6.0",
}


def reopen(img: Image.Image, fmt: str, **save: object) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    buf.seek(0)
    return Image.open(buf)


def png(**text: str) -> Image.Image:
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    return reopen(Image.new("RGB", (8, 8)), "PNG", pnginfo=info)


def assert_bounded(meta: Metadata) -> None:
    """The limits every Metadata keeps, whatever the input."""
    for name in ("prompt", "negative_prompt", "caption", "camera", "software"):
        value = getattr(meta, name)
        assert value is None or (isinstance(value, str) and 0 < len(value) <= MAX_TEXT_CHARS)
        assert value is None or "\x00" not in value
    assert len(meta.tags) <= MAX_TAGS
    assert all(isinstance(t, str) and 0 < len(t) <= MAX_TAG_CHARS and "\x00" not in t for t in meta.tags)
    assert len({t.casefold() for t in meta.tags}) == len(meta.tags)
    assert all(isinstance(v, str) and len(v) <= MAX_TEXT_CHARS for v in meta.settings.values())
    assert all(isinstance(w, str) for w in meta.warnings)


# ---------------------------------------------------------------- PNG: A1111, ComfyUI, plain keys


def test_a1111_parameters_in_png():
    meta = read_embedded(png(parameters=A1111))
    assert meta.prompt == "a photo of a cat, (masterpiece:1.2)\nwearing a hat"
    assert meta.negative_prompt == "blurry, lowres\nbad hands"
    assert meta.settings == A1111_SETTINGS
    assert meta.sources == {"prompt": "png:parameters", "negative_prompt": "png:parameters"}
    assert meta.warnings == []


def test_a1111_without_negative_or_settings_line():
    assert parse_a1111("just a prompt, with: a colon") == ("just a prompt, with: a colon", "", {})
    settings = {"Steps": "4", "Sampler": "DDIM", "Seed": "9"}
    assert parse_a1111("a dog\nSteps: 4, Sampler: DDIM, Seed: 9") == ("a dog", "", settings)


def test_png_plain_keys():
    meta = read_embedded(png(Description="A red bicycle", Software="Krita", Author="Ana", Title="Bike"))
    assert (meta.caption, meta.software, meta.settings) == ("A red bicycle", "Krita", {"Author": "Ana"})
    assert meta.sources == {"caption": "png:Description", "software": "png:Software"}


def test_title_is_a_caption_of_last_resort():
    meta = read_embedded(png(Title="Bike", Comment="a comment"))
    assert (meta.caption, meta.sources["caption"]) == ("a comment", "png:Comment")
    meta = read_embedded(png(Title="Bike"))
    assert (meta.caption, meta.sources["caption"]) == ("Bike", "png:Title")


def test_novelai_comment_json():
    comment = json.dumps({"prompt": "1girl, garden", "uc": "lowres", "steps": 28, "scale": 5.0, "extra": [1]})
    meta = read_embedded(png(Comment=comment, Software="NovelAI"))
    assert (meta.prompt, meta.negative_prompt, meta.software) == ("1girl, garden", "lowres", "NovelAI")
    assert meta.settings == {"steps": "28", "scale": "5.0"}


COMFY_PROMPT = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly, blurry", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "a castle at dawn", "clip": ["4", 1]}},
    "3": {"class_type": "KSampler", "inputs": {
        "model": ["4", 0], "positive": ["7", 0], "negative": ["6", 0], "latent_image": ["5", 0],
        "seed": 42, "steps": 30, "cfg": 6.5, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
}


def test_comfyui_prompt_follows_sampler_wiring():
    # The negative encoder comes first by id, so only the wiring tells them apart.
    meta = read_embedded(png(prompt=json.dumps(COMFY_PROMPT)))
    assert (meta.prompt, meta.negative_prompt) == ("a castle at dawn", "ugly, blurry")
    assert meta.settings == {
        "Model": "sdxl.safetensors", "Seed": "42", "Steps": "30", "CFG scale": "6.5", "Sampler": "euler",
        "Schedule type": "normal", "Denoising strength": "1.0",
    }
    assert meta.sources["prompt"] == meta.sources["negative_prompt"] == "comfyui:prompt"


def test_comfyui_prompt_through_combine_node_and_linked_text():
    graph = {
        "1": {"class_type": "PrimitiveString", "inputs": {"value": "a red fox"}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": ["1", 0], "clip": ["9", 1]}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "watermark", "clip": ["9", 1]}},
        "9": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "m.ckpt"}},
        "10": {"class_type": "ConditioningCombine",
               "inputs": {"conditioning_1": ["2", 0], "conditioning_2": ["3", 0]}},
        "20": {"class_type": "KSamplerAdvanced", "inputs": {"positive": ["10", 0], "negative": ["3", 0]}},
    }
    meta = read_embedded(png(prompt=json.dumps(graph)))
    assert (meta.prompt, meta.negative_prompt) == ("a red fox", "watermark")


def test_comfyui_without_sampler_takes_first_and_second_encoder():
    graph = {key: COMFY_PROMPT[key] for key in ("4", "6", "7")}
    meta = read_embedded(png(prompt=json.dumps(graph)))
    assert (meta.prompt, meta.negative_prompt) == ("ugly, blurry", "a castle at dawn")


def test_comfyui_workflow_only():
    workflow = {
        "nodes": [
            {"id": 3, "type": "KSampler", "widgets_values": [1, "fixed", 20, 8, "euler", "normal", 1],
             "inputs": [{"name": "positive", "link": 11}, {"name": "negative", "link": 12}]},
            {"id": 6, "type": "CLIPTextEncode", "widgets_values": ["bad anatomy"], "inputs": []},
            {"id": 7, "type": "CLIPTextEncode", "widgets_values": ["a lighthouse"], "inputs": []},
        ],
        "links": [[11, 7, 0, 3, 1, "CONDITIONING"], [12, 6, 0, 3, 2, "CONDITIONING"]],
    }
    meta = read_embedded(png(workflow=json.dumps(workflow)))
    assert (meta.prompt, meta.negative_prompt) == ("a lighthouse", "bad anatomy")
    assert meta.sources["prompt"] == "comfyui:workflow"


def test_broken_comfyui_json_warns_and_the_rest_is_read():
    meta = read_embedded(png(prompt="{not json", workflow="[1, 2]", Description="still read"))
    assert meta.caption == "still read"
    assert meta.warnings == ["ComfyUI prompt unreadable (JSONDecodeError)", "ComfyUI workflow is not a JSON object"]


def test_comfyui_in_webp_exif():
    exif = Image.Exif()
    exif[0x010F] = "Prompt:" + json.dumps(COMFY_PROMPT)
    exif[0x010E] = "Workflow:{}"
    meta = read_embedded(reopen(Image.new("RGB", (8, 8)), "WEBP", exif=exif))
    assert (meta.prompt, meta.camera, meta.caption) == ("a castle at dawn", None, None)


def test_utf8_written_into_latin1_text_chunk_is_recovered():
    info = PngImagePlugin.PngInfo()
    info.add(b"tEXt", b"Description\x00caf\xc3\xa9 \xe2\x98\x95")  # UTF-8 where PNG says Latin-1
    info.add_text("Title", "naïve")  # real Latin-1, written by Pillow as tEXt
    meta = read_embedded(reopen(Image.new("RGB", (8, 8)), "PNG", pnginfo=info))
    assert meta.caption == "café ☕"
    assert read_embedded(png(Title="naïve")).caption == "naïve"


# ---------------------------------------------------------------- EXIF


def exif_jpeg(exif: Image.Exif) -> Image.Image:
    return reopen(Image.new("RGB", (8, 8)), "JPEG", exif=exif)


def test_exif_fields():
    exif = Image.Exif()
    exif[0x010E] = "A red bicycle"
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 5D"
    exif[0x0131] = "GIMP 2.10"
    exif[0x9C9E] = "cat;dog; Cat ;".encode("utf-16le") + b"\0\0"
    exif[0x9C9C] = "an XP comment".encode("utf-16le") + b"\0\0"
    meta = read_embedded(exif_jpeg(exif))
    assert (meta.caption, meta.camera, meta.software) == ("A red bicycle", "Canon EOS 5D", "GIMP 2.10")
    assert meta.tags == ["cat", "dog"]
    assert meta.sources == {
        "caption": "exif:ImageDescription", "camera": "exif:Make/Model", "software": "exif:Software",
        "tags": "exif:XPKeywords",
    }


def test_exif_make_and_model_are_joined_and_xp_tags_may_be_int_tuples():
    exif = Image.Exif()
    exif[0x010F] = "NIKON CORPORATION"
    exif[0x0110] = "D750"
    exif[0x9C9C] = tuple("from XP".encode("utf-16le"))
    meta = read_embedded(exif_jpeg(exif))
    assert (meta.camera, meta.caption) == ("NIKON CORPORATION D750", "from XP")
    assert meta.sources["caption"] == "exif:XPComment"


@pytest.mark.parametrize("encode", [
    lambda text: b"UNICODE\0" + text.encode("utf-16-be"),  # as piexif (A1111) writes it
    lambda text: b"UNICODE\0" + text.encode("utf-16-le"),
    lambda text: b"ASCII\0\0\0" + text.encode("utf-8"),
])
def test_a1111_parameters_in_exif_user_comment(encode):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = encode(A1111)
    meta = read_embedded(reopen(Image.new("RGB", (8, 8)), "WEBP", exif=exif))
    assert meta.prompt == "a photo of a cat, (masterpiece:1.2)\nwearing a hat"
    assert meta.negative_prompt == "blurry, lowres\nbad hands"
    assert meta.settings == A1111_SETTINGS
    assert meta.sources["prompt"] == "exif:UserComment"


def test_user_comment_as_caption_and_invalid_utf8():
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"ASCII\0\0\0caf\xe9 \xff ok"
    meta = read_embedded(exif_jpeg(exif))
    assert (meta.caption, meta.sources["caption"]) == ("caf\ufffd \ufffd ok", "exif:UserComment")


def test_garbage_exif_does_not_raise():
    img = reopen(Image.new("RGB", (8, 8)), "JPEG", exif=garbage_exif())
    meta = read_embedded(img)
    assert meta.caption == "garbage test"
    assert_bounded(meta)


def test_a_failing_reader_warns_and_the_others_still_run(monkeypatch):
    img = png(Description="still read")

    def broken_getexif() -> Image.Exif:
        raise SyntaxError("bad EXIF offsets")

    monkeypatch.setattr(img, "getexif", broken_getexif)
    meta = read_embedded(img)
    assert meta.caption == "still read"
    assert meta.warnings == ["EXIF unreadable (SyntaxError)", "EXIF UserComment unreadable (SyntaxError)"]


# ---------------------------------------------------------------- XMP and IPTC


XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:subject><rdf:Bag><rdf:li>sunset</rdf:li><rdf:li>Beach</rdf:li><rdf:li>beach</rdf:li></rdf:Bag></dc:subject>
<dc:description><rdf:Alt><rdf:li xml:lang="fr">Coucher de soleil</rdf:li>
<rdf:li xml:lang="x-default">Sunset over the sea</rdf:li></rdf:Alt></dc:description>
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Evening</rdf:li></rdf:Alt></dc:title>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"""


def xmp_png(packet: str) -> Image.Image:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", packet)
    return reopen(Image.new("RGB", (8, 8)), "PNG", pnginfo=info)


@pytest.mark.parametrize("make", [
    xmp_png,
    lambda packet: reopen(Image.new("RGB", (8, 8)), "JPEG", xmp=packet.encode()),
    lambda packet: reopen(Image.new("RGB", (8, 8)), "WEBP", xmp=packet.encode()),
    lambda packet: reopen(Image.new("RGB", (8, 8)), "TIFF", tiffinfo={700: packet.encode()}),
], ids=["png", "jpeg", "webp", "tiff"])
def test_xmp(make):
    meta = read_embedded(make(XMP))
    assert (meta.caption, meta.tags) == ("Sunset over the sea", ["sunset", "Beach"])
    assert meta.sources == {"caption": "xmp:dc:description", "tags": "xmp:dc:subject"}


def test_xmp_title_when_no_description():
    meta = read_embedded(xmp_png(XMP.replace("dc:description", "dc:other")))
    assert (meta.caption, meta.sources["caption"]) == ("Evening", "xmp:dc:title")


def test_xmp_bomb_and_oversized_and_malformed_packets_are_skipped():
    meta = read_embedded(xmp_png(XMP_BOMB))
    assert meta.caption is None
    assert meta.warnings == ["XMP skipped: it declares a DTD or entities (possible XML bomb)"]
    meta = read_embedded(xmp_png(XMP.replace("Evening", "x" * 1_100_000)))
    assert meta.warnings == ["XMP skipped: larger than 1000000 bytes"] and meta.tags == []
    meta = read_embedded(xmp_png("<x:xmpmeta><unclosed>"))
    assert meta.warnings == ["XMP unreadable (ParseError)"]


def jpeg_with_iptc(*datasets: tuple[int, bytes]) -> Image.Image:
    """A JPEG with a Photoshop APP13 segment holding IPTC record 2 (Pillow reads these, cannot write them)."""
    iptc = b"".join(b"\x1c\x02" + bytes([num]) + struct.pack(">H", len(value)) + value for num, value in datasets)
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc + b"\x00" * (len(iptc) % 2)
    segment = b"Photoshop 3.0\x00" + resource
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg, "JPEG")
    data = jpeg.getvalue()
    return Image.open(io.BytesIO(data[:2] + b"\xff\xed" + struct.pack(">H", len(segment) + 2) + segment + data[2:]))


def test_iptc_keywords_and_caption():
    meta = read_embedded(jpeg_with_iptc((25, b"cat"), (25, "café".encode()), (120, b"A caption \xff")))
    assert (meta.tags, meta.caption) == (["cat", "café"], "A caption \ufffd")
    assert meta.sources == {"tags": "iptc:keywords", "caption": "iptc:caption"}


def test_tags_from_several_sources_are_merged():
    exif = Image.Exif()
    exif[0x9C9E] = "sea;sunset".encode("utf-16le")
    img = reopen(Image.new("RGB", (8, 8)), "JPEG", exif=exif, xmp=XMP.encode())
    meta = read_embedded(img)
    assert meta.tags == ["sea", "sunset", "Beach"]
    assert meta.sources["tags"] == "exif:XPKeywords, xmp:dc:subject"


def test_nothing_embedded():
    meta = read_embedded(Image.new("RGB", (8, 8)))
    assert meta.is_empty() and meta == Metadata()


# ---------------------------------------------------------------- user input, merging, limits


def test_from_user():
    meta = from_user(prompt="  a cat\x00 ", negative_prompt="", tags="cat, Cat ,, dog ", caption=None)
    assert (meta.prompt, meta.negative_prompt, meta.tags, meta.caption) == ("a cat", None, ["cat", "dog"], None)
    assert meta.sources == {"prompt": "user", "tags": "user"}
    assert from_user(tags=["a", "b", "A"]).tags == ["a", "b"]


def test_one_megabyte_prompt_is_truncated():
    meta = from_user(prompt="x" * 1_000_000)
    assert meta.prompt == "x" * MAX_TEXT_CHARS
    assert meta.warnings == [f"prompt truncated to {MAX_TEXT_CHARS} characters"]


def test_tag_limits():
    meta = from_user(tags=[f"tag{i}-" + "y" * 200 for i in range(100)])
    assert len(meta.tags) == MAX_TAGS and all(len(t) == MAX_TAG_CHARS for t in meta.tags)
    assert meta.warnings == [f"tag truncated to {MAX_TAG_CHARS} characters", f"tags limited to {MAX_TAGS}"]


def test_merge_user_wins_where_given():
    embedded = read_embedded(png(parameters=A1111, Description="a cat in a hat"))
    user = from_user(prompt="my own prompt", tags="pets")
    merged = merge(embedded, user)
    assert (merged.prompt, merged.caption) == ("my own prompt", "a cat in a hat")
    assert merged.negative_prompt == "blurry, lowres\nbad hands"
    assert merged.tags == ["pets"] and merged.settings == A1111_SETTINGS
    assert merged.sources == {
        "prompt": "user", "negative_prompt": "png:parameters", "caption": "png:Description", "tags": "user",
    }
    assert embedded.prompt.startswith("a photo of a cat")  # inputs untouched
    assert merge(embedded, from_user()) == embedded


def test_to_dict_and_text_sources():
    meta = Metadata(prompt="p", tags=["a", "b"], camera="Canon EOS 5D", sources={"prompt": "user"})
    assert meta.text_sources() == {"prompt": "p", "tags": "a, b", "camera": "Canon EOS 5D"}
    assert meta.to_dict()["tags"] == ["a", "b"] and json.dumps(meta.to_dict())
    assert not meta.is_empty() and Metadata(warnings=["x"]).is_empty()


# ---------------------------------------------------------------- property-based

TEXT_KEYS = ["parameters", "prompt", "workflow", "Description", "Comment", "Title", "Software", "Author", "other"]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.dictionaries(st.sampled_from(TEXT_KEYS), st.text(max_size=300), max_size=5))
def test_any_text_in_png_chunks_is_safe(chunks):
    assert_bounded(read_embedded(png(**chunks)))


@FAST
@given(st.sampled_from(TEXT_KEYS), st.binary(max_size=300), st.booleans())
def test_any_bytes_in_png_chunks_are_safe(key, value, international):
    info = PngImagePlugin.PngInfo()
    if international:  # iTXt: keyword, compression flag and method, language, translated keyword, text
        info.add(b"iTXt", key.encode() + b"\x00\x00\x00\x00\x00" + value)
    else:
        info.add(b"tEXt", key.encode() + b"\x00" + value)
    assert_bounded(read_embedded(reopen(Image.new("RGB", (8, 8)), "PNG", pnginfo=info)))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.sampled_from(["7", "KSampler", "CLIPTextEncode"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["class_type", "inputs", "text", "positive", "negative", "conditioning", "nodes", "links",
                         "id", "type", "widgets_values", "link", "name", "seed", "7", "3"]), children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["prompt", "workflow", "Comment"]), JSON)
def test_any_json_in_comfyui_keys_is_safe(key, data):
    img = Image.new("RGB", (8, 8))
    img.info[key] = json.dumps(data)
    assert_bounded(read_embedded(img))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000))
def test_any_a1111_parameters_are_safe(text):
    img = Image.new("RGB", (8, 8))
    img.info["parameters"] = text
    meta = read_embedded(img)
    assert_bounded(meta)
    prompt, negative, found = parse_a1111(text)
    assert isinstance(prompt, str) and isinstance(negative, str) and all(isinstance(v, str) for v in found.values())


def a1111_quote(value: str) -> str:
    """AUTOMATIC1111's own quoting of a settings value."""
    return json.dumps(value, ensure_ascii=False) if any(c in value for c in ",:\n") else value


def a1111_format(prompt: str, negative: str, params: dict[str, str]) -> str:
    negative_line = f"\nNegative prompt: {negative}" if negative else ""
    return f"{prompt}{negative_line}\n" + ", ".join(f"{k}: {a1111_quote(v)}" for k, v in params.items())


LINE = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), max_size=40).map(str.strip)
PROMPT = st.lists(LINE, min_size=1, max_size=4).map("\n".join).map(str.strip).filter(
    lambda text: not any(line.startswith("Negative prompt:") for line in text.split("\n")))
KEY = st.from_regex(r"[A-Za-z][A-Za-z0-9 /-]{0,14}[A-Za-z0-9]", fullmatch=True)
VALUE = (st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs"), include_characters="\n"),
                 min_size=1, max_size=30)
         .map(str.strip).filter(lambda v: v and not v.startswith('"')))  # A1111 itself cannot tell '"x"' from x


@settings(max_examples=200, deadline=None)
@given(PROMPT, PROMPT | st.just(""), st.dictionaries(KEY, VALUE, min_size=3, max_size=8))
def test_a1111_round_trip(prompt, negative, params):
    text = a1111_format(prompt, negative, params)
    assert parse_a1111(text) == (prompt, negative, params)
    info = PngImagePlugin.PngInfo()
    info.add_itxt("parameters", text)  # and through a real PNG
    meta = read_embedded(reopen(Image.new("RGB", (8, 8)), "PNG", pnginfo=info))
    assert (meta.prompt or "", meta.negative_prompt or "", meta.settings) == (prompt, negative, params)
