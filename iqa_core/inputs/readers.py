"""Readers of the text that image containers carry: PNG text chunks (AUTOMATIC1111 parameters, ComfyUI
prompt and workflow graphs), EXIF (ImageDescription, XP tags, UserComment), the XMP packet (parsed with the
standard library once a DTD, the way in for XML bombs, is ruled out) and IPTC. Each reader yields what it
found as (field, value, source); inputs.metadata cleans and bounds it."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from PIL import Image, IptcImagePlugin, PngImagePlugin

MAX_XMP_BYTES = 1_000_000

# (field, value, source): what one reader found. "title" is a caption of last resort; "warning" a note.
Found = tuple[str, Any, str]

# AUTOMATIC1111 "key: value" pairs; quoted values may hold commas. Keys are short, and bounding them
# keeps the scan linear on long hostile lines.
_A1111_PARAM = re.compile(r'\s*(\w[\w \-/]{1,63}):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_A1111_MAX_SETTINGS_LINE = 10_000  # a longer last line is read as prompt text, not scanned for settings


def parse_a1111(text: str) -> tuple[str, str, dict[str, str]]:
    """(prompt, negative prompt, settings) from an AUTOMATIC1111 "parameters" string, parsed as A1111 does."""
    *lines, last = text.strip().split("\n")
    params = _A1111_PARAM.findall(last) if len(last) <= _A1111_MAX_SETTINGS_LINE else []
    if len(params) < 3:  # A1111's own test for "the last line is the settings line"
        lines.append(last)
        params = []
    prompt: list[str] = []
    negative: list[str] = []
    for line in lines:
        line = line.strip()
        if line.startswith("Negative prompt:"):
            negative.append(line[len("Negative prompt:"):].strip())
        elif negative:
            negative.append(line)
        else:
            prompt.append(line)
    settings = {key.strip(): _unquote(value.strip()) for key, value in params}
    return "\n".join(prompt).strip(), "\n".join(negative).strip(), settings


def _unquote(value: str) -> str:
    """A1111 writes values holding ',', ':' or newlines as JSON strings."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    try:
        unquoted = json.loads(value)
    except ValueError:
        return value
    return unquoted if isinstance(unquoted, str) else value


def to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def _utf16(data: bytes) -> str:
    """UTF-16 of unknown byte order (EXIF writers disagree): a BOM decides, else where the zero bytes are."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    big_endian = data[0::2].count(0) > data[1::2].count(0)
    return data.decode("utf-16-be" if big_endian else "utf-16-le", errors="replace")


# ---------------------------------------------------------------- PNG text chunks


def _png_text(img: Image.Image) -> Iterator[Found]:
    info = img.info
    if "parameters" in info:
        prompt, negative, settings = parse_a1111(_png_value(info["parameters"]))
        yield from _generation("png:parameters", prompt, negative, settings)
    for key in ("prompt", "workflow"):
        if key in info:
            yield from _comfyui(key, _png_value(info[key]))
    if "Comment" in info:
        yield from _comment(_png_value(info["Comment"]))
    yield from _keys(info, (("Description", "caption"), ("Title", "title"), ("Software", "software")))
    if "Author" in info:
        yield "settings", {"Author": _png_value(info["Author"])}, "png:Author"


def _keys(info: dict, pairs: tuple[tuple[str, str], ...]) -> Iterator[Found]:
    for key, name in pairs:
        if key in info:
            yield name, _png_value(info[key]), f"png:{key}"


def _png_value(value: Any) -> str:
    """Pillow reads tEXt/zTXt as Latin-1, but some writers put UTF-8 there: undo that when it decodes cleanly."""
    if not isinstance(value, str) or isinstance(value, PngImagePlugin.iTXt):
        return to_text(value)
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def _generation(source: str, prompt: str, negative: str, settings: dict[str, str]) -> Iterator[Found]:
    yield "prompt", prompt, source
    yield "negative_prompt", negative, source
    yield "settings", settings, source


def _comment(text: str) -> Iterator[Found]:
    """NovelAI keeps its settings as JSON in Comment ("uc" is the negative prompt); anyone else, a caption."""
    data = _json_object(text)
    if data is not None and isinstance(data.get("prompt"), str):
        scalars = {k: v for k, v in data.items() if k not in ("prompt", "uc") and isinstance(v, str | int | float)}
        yield from _generation("png:Comment", data["prompt"], data.get("uc"), scalars)
    elif data is None:
        yield "caption", text, "png:Comment"


def _json_object(text: str) -> dict | None:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------- ComfyUI


_COMFY_TEXT_INPUTS = ("text", "text_g", "text_l", "string", "value", "prompt")
_COMFY_SETTINGS = {
    "seed": "Seed", "noise_seed": "Seed", "steps": "Steps", "cfg": "CFG scale",
    "sampler_name": "Sampler", "scheduler": "Schedule type", "denoise": "Denoising strength",
}


def _comfyui(key: str, text: str) -> list[Found]:
    """One ComfyUI block; a broken one becomes a warning without stopping the other PNG keys."""
    source = f"comfyui:{key}"
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            return [("warning", f"ComfyUI {key} is not a JSON object", "")]
        graph = _workflow_graph(data) if key == "workflow" else data
        found = list(_comfy_prompts(graph, source))
        if key == "prompt":
            found.append(("settings", _comfy_settings(graph), source))
    except Exception as exc:  # broken JSON, or a graph of the wrong shape
        return [("warning", f"ComfyUI {key} unreadable ({type(exc).__name__})", "")]
    return found


def _comfy_prompts(graph: dict, source: str) -> Iterator[Found]:
    """The text wired to a sampler's positive/negative inputs; else the first and second text encoders."""
    samplers = [n for n in _nodes(graph) if "Sampler" in str(n.get("class_type")) and "positive" in _inputs(n)]
    encoders = [n for n in _nodes(graph) if str(n.get("class_type")).startswith("CLIPTextEncode")]
    texts = [text for text in (_inputs(n).get("text") for n in encoders) if isinstance(text, str)]
    positive = negative = None
    if samplers:
        positive = _comfy_text(graph, _inputs(samplers[0]).get("positive"), "positive", set())
        negative = _comfy_text(graph, _inputs(samplers[0]).get("negative"), "negative", set())
    elif len(texts) > 1:
        negative = texts[1]
    if positive is None and texts:
        positive = texts[0]
    yield "prompt", positive, source
    yield "negative_prompt", negative, source


def _comfy_text(graph: dict, link: Any, role: str, visited: set[str]) -> str | None:
    """Follow a conditioning link back to the first node holding text (through combine/area nodes)."""
    if not _is_link(link) or str(link[0]) in visited:
        return None
    visited.add(str(link[0]))
    inputs = _inputs(graph.get(str(link[0])))
    for key in _COMFY_TEXT_INPUTS:
        if isinstance(inputs.get(key), str):
            return inputs[key]
    for key, value in inputs.items():
        if key in _COMFY_TEXT_INPUTS or key == role or "conditioning" in key:
            text = _comfy_text(graph, value, role, visited)
            if text is not None:
                return text
    return None


def _comfy_settings(graph: dict) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for node in _nodes(graph):
        for key, value in _inputs(node).items():
            name = "Model" if key in ("ckpt_name", "unet_name") else _COMFY_SETTINGS.get(key)
            if name and isinstance(value, str | int | float) and name not in settings:
                settings[name] = value
    return settings


def _workflow_graph(workflow: dict) -> dict:
    """The UI "workflow" JSON reshaped like the API "prompt" JSON: inputs are [source node, slot] links."""
    origin = {}
    for link in workflow.get("links") or []:
        if isinstance(link, list) and len(link) >= 4:
            origin[link[0]] = link[1]
        elif isinstance(link, dict):
            origin[link.get("id")] = link.get("origin_id")
    graph = {}
    for node in workflow.get("nodes") or []:
        if not isinstance(node, dict):
            continue
        inputs: dict[str, Any] = {
            str(slot.get("name")): [str(origin[slot["link"]]), 0]
            for slot in node.get("inputs") or []
            if isinstance(slot, dict) and slot.get("link") in origin
        }
        widgets = node.get("widgets_values")
        texts = [w for w in widgets if isinstance(w, str)] if isinstance(widgets, list) else []
        if texts and "text" not in inputs:
            inputs["text"] = texts[0]  # text encoders keep their text as the first string widget
        graph[str(node.get("id"))] = {"class_type": str(node.get("type")), "inputs": inputs}
    return graph


def _nodes(graph: dict) -> list[dict]:
    def order(key: str) -> tuple[int, int, str]:
        return (0, int(key), "") if key.isdecimal() else (1, 0, key)

    return [graph[key] for key in sorted(map(str, graph), key=order) if isinstance(graph[key], dict)]


def _inputs(node: Any) -> dict:
    inputs = node.get("inputs") if isinstance(node, dict) else None
    return inputs if isinstance(inputs, dict) else {}


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str | int)


# ---------------------------------------------------------------- EXIF


def _exif(img: Image.Image) -> Iterator[Found]:
    exif = img.getexif()
    # ComfyUI's WebP files keep "Prompt:{json}" / "Workflow:{json}" in Make / ImageDescription.
    comfy = {tag: exif[tag] for tag in (0x010E, 0x010F)
             if str(exif.get(tag, "")).startswith(("Prompt:", "Workflow:"))}
    if 0x010E not in comfy:
        yield "caption", exif.get(0x010E), "exif:ImageDescription"
    if 0x010F not in comfy:
        yield "camera", _camera(exif.get(0x010F), exif.get(0x0110)), "exif:Make/Model"
    yield "software", exif.get(0x0131), "exif:Software"
    for tag, name, source in ((0x9C9C, "caption", "exif:XPComment"), (0x9C9B, "title", "exif:XPTitle")):
        if tag in exif:
            yield name, _xp_text(exif[tag]), source
    if 0x9C9E in exif:
        yield "tags", _xp_text(exif[0x9C9E]).split(";"), "exif:XPKeywords"
    for value in sorted(comfy.values(), key=lambda v: not v.startswith("Prompt:")):  # prompt has the settings
        key, _, text = value.partition(":")
        yield from _comfyui(key.lower(), text)


def _camera(make: Any, model: Any) -> str:
    make, model = (to_text(v).replace("\x00", "").strip() for v in (make, model))
    # Many cameras repeat the make in the model ("Canon" + "Canon EOS 5D").
    return model if make and model.casefold().startswith(make.casefold()) else f"{make} {model}"


def _xp_text(value: Any) -> str:
    """Windows "XP" tags: UTF-16LE bytes, sometimes handed back as a tuple of ints."""
    return value if isinstance(value, str) else _utf16(bytes(value))


def _exif_user_comment(img: Image.Image) -> Iterator[Found]:
    raw = img.getexif().get_ifd(0x8769).get(0x9286)
    if raw is None:
        return
    text = raw if isinstance(raw, str) else _user_comment(bytes(raw))
    if re.search(r"(^|\n)(Steps: |Negative prompt:)", text):  # generators store A1111 parameters here
        yield from _generation("exif:UserComment", *parse_a1111(text))
    else:
        yield "caption", text, "exif:UserComment"


def _user_comment(raw: bytes) -> str:
    """UserComment starts with an 8-byte charset name; UNICODE means UTF-16."""
    header, body = raw[:8], raw[8:]
    if header.startswith(b"UNICODE"):
        return _utf16(body)
    if header.startswith((b"ASCII", b"JIS")) or header == b"\x00" * 8:
        return to_text(body)
    return to_text(raw)


# ---------------------------------------------------------------- XMP


_XMP_NS = {"dc": "http://purl.org/dc/elements/1.1/", "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#"}
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _xmp(img: Image.Image) -> Iterator[Found]:
    packet = _xmp_packet(img)
    if not packet:
        return
    data = packet.encode("utf-8", errors="replace") if isinstance(packet, str) else bytes(packet)
    if len(data) > MAX_XMP_BYTES:
        yield "warning", f"XMP skipped: larger than {MAX_XMP_BYTES} bytes", ""
        return
    text = to_text(data).replace("\x00", "").lstrip("\ufeff \t\r\n")
    upper = text.upper()
    # A DTD is how XML bombs (billion laughs) and external entities get in; XMP never needs one.
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        yield "warning", "XMP skipped: it declares a DTD or entities (possible XML bomb)", ""
        return
    root = ET.fromstring(text)
    yield "caption", _xmp_alt(root, "description"), "xmp:dc:description"
    yield "title", _xmp_alt(root, "title"), "xmp:dc:title"
    yield "tags", [li.text for li in root.iterfind(".//dc:subject//rdf:li", _XMP_NS)], "xmp:dc:subject"


def _xmp_packet(img: Image.Image) -> Any:
    tiff_tags = getattr(img, "tag_v2", None)
    return img.info.get("xmp") or img.info.get("XML:com.adobe.xmp") or (tiff_tags.get(700) if tiff_tags else None)


def _xmp_alt(root: ET.Element, name: str) -> str | None:
    """An rdf:Alt list's default-language text, else its first."""
    items = root.findall(f".//dc:{name}//rdf:li", _XMP_NS)
    preferred = [li for li in items if li.get(_XML_LANG) == "x-default"] or items
    return preferred[0].text if preferred else None


# ---------------------------------------------------------------- IPTC


def _iptc(img: Image.Image) -> Iterator[Found]:
    info = IptcImagePlugin.getiptcinfo(img) or {}
    keywords = info.get((2, 25))
    if keywords:
        yield "tags", keywords if isinstance(keywords, list) else [keywords], "iptc:keywords"
    yield "caption", info.get((2, 120)), "iptc:caption"
    yield "title", info.get((2, 5)), "iptc:title"


# Order is priority: the first reader to fill a field wins.
READERS = (("PNG text", _png_text), ("EXIF", _exif), ("EXIF UserComment", _exif_user_comment),
            ("XMP", _xmp), ("IPTC", _iptc))
