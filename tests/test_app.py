"""The Gradio app's handlers, called directly (no server, no browser); one Assessor for the module."""
from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import time
import warnings
import zipfile
from pathlib import Path

import plotly.graph_objects as go
import pytest
from PIL import Image, PngImagePlugin

from iqa_core.render import charts
from iqa_core.scores import ATTRIBUTES, SCORES
from iqa_core.workflows import compare, uploads

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
AGIQA = ROOT.parent / "shared" / "data" / "agiqa3k-dev"


@pytest.fixture(scope="module")
def app(assessor):
    import app as app_module

    app_module._assessor = assessor  # the session's one Assessor, shared with the other test files
    return app_module


@pytest.fixture(scope="module")
def examples(app):
    rows = app.example_rows()
    assert len(rows) >= 2, "examples/ needs at least two images"
    return rows


def _garbage(path: Path) -> Path:
    path.write_bytes(os.urandom(4096))
    return path


# ------------------------------------------------------------------------------------------------ Assess
def test_assess_returns_cards_figures_overlay_explanation_json(app, examples):
    image, prompt = examples[0]
    out = dict(zip(app.ASSESS_OUTPUTS, app.assess(image, prompt)))
    assert out["status"] == ""
    for name, spec in SCORES.items():
        assert name.capitalize() in out["cards"]
        assert f"{spec.low:g}–{spec.high:g}" in out["cards"]
    assert "Sentiment" in out["cards"]
    assert "—" not in out["cards"].split("Alignment", 1)[1][:400]  # a prompt was given: alignment has a value
    assert isinstance(out["radar"], go.Figure) and len(out["radar"].data[0].r) == len(ATTRIBUTES) + 1
    assert isinstance(out["emotions"], go.Figure) and isinstance(out["valence_arousal"], go.Figure)
    with Image.open(out["overlay"]) as overlay:  # a file, not a PIL image: gradio caches files atomically
        assert overlay.size[0] > 0 and overlay.size[1] > 0
    data = json.loads(Path(out["json"]).read_text())
    assert len(out["regions"]) == len(data["regions"]) >= 1 and all(len(r) == 4 for r in out["regions"])
    assert out["regions"][0][0] == 1 and out["regions"][0][2] <= out["regions"][-1][2]  # weakest first
    assert len(out["explanation"]) > 40
    assert data["image"] == Path(image).name and data["quality"] is not None
    assert data["metadata"]["prompt"] == prompt
    assert f"{data['ai_generated']:.0%} by the AI-image expert" in out["notes"]  # an AGIQA-3K example
    assert "percentile of" in out["cards"] and data["percentiles"]["quality"] is not None
    # heuristic attributes drawn apart: hollow markers with their own legend entry
    assert any(t.name and t.name.startswith("heuristic") and t.marker.symbol == "circle-open"
               for t in out["radar"].data)


def test_assess_without_text_shows_a_dash_for_alignment(app, examples):
    out = dict(zip(app.ASSESS_OUTPUTS, app.assess(examples[1][0], "")))
    assert "—" in out["cards"].split("Alignment", 1)[1][:400]
    assert "Add a prompt" in out["cards"]


def test_garbage_upload_gives_a_message_not_an_exception(app, tmp_path):
    with pytest.warns(UserWarning):  # gr.Warning outside a request
        out = dict(zip(app.ASSESS_OUTPUTS, app.assess(str(_garbage(tmp_path / "garbage.jpg")))))
    assert "not an image" in out["status"]
    assert "Traceback" not in out["status"] and out["overlay"] is None and out["json"] is None


def test_empty_and_oversized_uploads_are_refused_with_a_message(app, tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.truncate(51 * 1024 * 1024)
    with pytest.warns(UserWarning):
        assert "limit is 50 MB" in app.assess(str(big))[0]
    with pytest.warns(UserWarning):
        assert "Upload an image" in app.assess(None)[0]


def test_prefill_reads_the_files_embedded_prompt(app, tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a red bicycle in the snow\nNegative prompt: blurry\n"
                                "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1")
    path = tmp_path / "gen.png"
    Image.new("RGB", (64, 64), "red").save(path, pnginfo=info)
    prompt, negative, tags, caption, note = app.prefill(str(path))
    assert (prompt, negative) == ("a red bicycle in the snow", "blurry")
    assert "metadata" in note
    kept = app.prefill(str(_garbage(tmp_path / "bad.png")))  # nothing to fill: what the user typed stays
    assert all(v == {"__type__": "update"} for v in kept[:4]) and "not an image" in kept[4]
    assert all(v == {"__type__": "update"} for v in app.prefill(str(EXAMPLES / "ag_de193bbf2a.jpg"))[:4])


# ------------------------------------------------------------------------------------------------ Compare
def test_compare_two_examples_marks_a_best_per_score(app, examples):
    out = dict(zip(app.COMPARE_OUTPUTS, app.compare([examples[0][0], examples[2][0]], "")))
    assert out["status"] == ""
    headers, rows = out["table"]["headers"], out["table"]["data"]
    assert len(rows) == 2
    for score in ("quality", "aesthetics", "valence", "arousal"):
        col = headers.index(score)
        assert sum(compare.STAR in r[col] for r in rows) >= 1, score
    assert all(r[headers.index("alignment")] == "—" for r in rows)  # no prompt
    assert "separates them most" in out["summary"]
    assert sum(t.fill == "toself" for t in out["radar"].data) == 2 and len(out["gallery"]) == 2


def test_compare_needs_two_readable_images(app, examples, tmp_path):
    with pytest.warns(UserWarning):
        out = app.compare([examples[0][0], str(_garbage(tmp_path / "x.jpg"))], "")
    assert "at least two" in out[0] and "x.jpg" in out[0]


def test_compare_summary_names_the_largest_gap():
    def row(q, a):
        return {"quality": q, "aesthetics": a, "alignment": None, "valence": 5.0, "arousal": 5.0,
                "attributes": {k: {"score": 50.0} for k in ATTRIBUTES}}

    text = compare.compare_summary([row(80, 52), row(30, 50)], ["a.jpg", "b.jpg"])
    assert text.startswith("What separates them most is quality: a.jpg has 80 and b.jpg 30")


# ------------------------------------------------------------------------------------------------ Batch
def test_batch_lists_a_garbage_file_as_an_error(app, examples, tmp_path):
    good = tmp_path / "good.jpg"
    shutil.copy(examples[0][0], good)
    bad = _garbage(tmp_path / "garbage.jpg")
    out = dict(zip(app.BATCH_OUTPUTS, app.run_batch([str(good), str(bad)])))
    assert out["status"] == ""
    assert [r[0] for r in out["table"]["data"]] == ["good.jpg"]
    assert "garbage.jpg" in out["errors"] and "not an image" in out["errors"]
    csv_path, jsonl_path = map(Path, out["downloads"])
    with open(csv_path, newline="") as fh:
        assert [r["image"] for r in csv.DictReader(fh)] == ["garbage.jpg", "good.jpg"]
    assert len(jsonl_path.read_text().splitlines()) == 2
    assert isinstance(out["histogram"], go.Figure) and isinstance(out["scatter"], go.Figure)


def test_batch_zip_refuses_escaping_members(tmp_path):
    buf = tmp_path / "in.zip"
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ok/a.jpg", b"x" * 10)
        zf.writestr("../evil.jpg", b"x")
        zf.writestr("/abs.jpg", b"x")
        link = zipfile.ZipInfo("link.jpg")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
        zf.writestr("__MACOSX/._a.jpg", b"x")
    out = tmp_path / "out"
    got = uploads.collect_batch_inputs([str(buf)], out)
    assert [f.relative_to(out).as_posix() for f in got.files] == ["ok/a.jpg"]
    reasons = {r["image"]: r["error"] for r in got.problems}
    assert any("'..'" in e for e in reasons.values())
    assert any("absolute" in e for e in reasons.values())
    assert any("link" in e for e in reasons.values())
    assert not (tmp_path / "evil.jpg").exists()
    assert all(p.resolve().is_relative_to(out.resolve()) for p in out.rglob("*"))


def test_batch_zip_caps_member_count(tmp_path, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_BATCH_FILES", 3)
    buf = tmp_path / "many.zip"
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(5):
            zf.writestr(f"{i}.jpg", b"x")
    budget = {"files": 3, "bytes": uploads.MAX_ZIP_BYTES}
    files, problems = uploads.extract_zip(buf, tmp_path / "out", budget)
    assert files == [] and "5 files" in problems[0]["error"]


# ------------------------------------------------------------------------------------------------ Explore
@pytest.fixture
def agiqa_subset(tmp_path):
    if not (AGIQA / "labels.csv").is_file():
        pytest.skip("../shared/data/agiqa3k-dev is not beside the project")
    with open(AGIQA / "labels.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = [r for _, r in zip(range(6), reader)]
        fields = reader.fieldnames
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return labels


def test_explore_returns_a_scatter_with_srcc_in_its_title(app, agiqa_subset, monkeypatch):
    monkeypatch.setattr(app, "EXPLORE_ROOTS", [AGIQA.resolve(), agiqa_subset.parent.resolve()])
    assert app.explore_columns(str(AGIQA / "images"), str(agiqa_subset))["value"] == "mos_quality"
    out = dict(zip(app.EXPLORE_OUTPUTS, app.explore(str(AGIQA / "images"), str(agiqa_subset), "mos_quality",
                                                    "quality", 100)))
    assert out["status"] == ""
    title = out["scatter"].layout.title.text
    assert "SRCC" in title and "PLCC" in title and "n = 6" in title
    assert 1 <= len(out["gallery"]) <= 6 and "human #" in out["gallery"][0][1]
    assert "all 6" in out["note"]
    assert "in-sample" in title and "In-sample" in out["note"]  # agiqa3k-dev is the quality head's training set


def test_explore_refuses_folders_outside_the_allowed_roots(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "EXPLORE_ROOTS", [tmp_path / "allowed"])
    with pytest.warns(UserWarning):
        out = app.explore("/etc", "", None, "quality", 10)
    assert "allowed folders" in out[0]


# ------------------------------------------------------------------------------------------------ wiring
def test_every_event_has_an_api_name(app):
    demo = app.get_demo()
    fns = demo.fns.values() if isinstance(demo.fns, dict) else demo.fns
    names = {fn.api_name for fn in fns}
    assert None not in names
    assert {"assess", "prefill", "compare", "batch", "explore", "explore_columns"} <= names
    assess = next(fn for fn in fns if fn.api_name == "assess")
    assert assess.scroll_to_output  # on a phone the results are far below the button


def test_charts_have_transparent_backgrounds():
    fig = charts.radar([{"attributes": {k: {"score": 60} for k in ATTRIBUTES}}])
    assert fig.layout.paper_bgcolor == charts.TRANSPARENT and fig.layout.plot_bgcolor == charts.TRANSPARENT
    assert fig.layout.width is None  # sized by its container, so it fits a phone


# ------------------------------------------------------------------------------------------ hostile files
# tests/hostile_files.py's corpus through every handler that takes a file: assess, prefill and one batch run.
HOSTILE_REFUSED = {"truncated_jpeg", "truncated_png", "text_as_jpg", "empty", "tiny_png", "bomb_png"}
_EXCEPTION_REPR = re.compile(r"\b[A-Z]\w*(Error|Exception|Warning)\b|Traceback|File \"")


def _assert_clear_sentence(status: str, name: str) -> str:
    """The text of a status/note box: one short sentence for a person, no exception or stack trace."""
    text = html.unescape(re.sub(r"<[^>]+>", "", status or "")).strip()
    assert text, f"{name}: empty message"
    assert not _EXCEPTION_REPR.search(text), f"{name}: {text!r}"
    assert "Something went wrong" not in text, f"{name}: an unexpected exception reached the app: {text!r}"
    assert len(text) <= 200 and "\n" not in text, f"{name}: {text!r}"
    assert text[0].isupper() and text.endswith("."), f"{name}: {text!r}"
    return text


def test_hostile_files_through_assess_prefill_and_batch(app, tmp_path):
    from tests.hostile_files import build_corpus

    corpus = build_corpus(tmp_path / "hostile")
    assert HOSTILE_REFUSED < set(corpus)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # gr.Warning toasts, outside a request
        for name, path in corpus.items():
            t0 = time.perf_counter()
            out = dict(zip(app.ASSESS_OUTPUTS, app.assess(str(path), "a prompt")))
            assert time.perf_counter() - t0 < 30, f"{name}: assess took {time.perf_counter() - t0:.0f} s"
            if name in HOSTILE_REFUSED:
                _assert_clear_sentence(out["status"], name)
                assert out["cards"] == "" and out["overlay"] is None and out["json"] is None, name
            else:
                assert out["status"] == "", (name, out["status"])
                assert "Quality" in out["cards"] and "Alignment" in out["cards"], name
                with Image.open(out["overlay"]) as overlay:
                    assert min(overlay.size) > 0, name
                assert json.loads(Path(out["json"]).read_text())["image"] == path.name, name
                assert out["regions"] and len(out["explanation"]) > 40, name

            *fields, note = app.prefill(str(path))
            assert len(fields) == 4, name
            for value in fields:  # a value to fill, or "leave what the user typed"
                assert value == {"__type__": "update"} or (isinstance(value, str) and len(value) <= 10_000), name
            if name in HOSTILE_REFUSED:
                _assert_clear_sentence(note, name)
                assert all(v == {"__type__": "update"} for v in fields), name

        out = dict(zip(app.BATCH_OUTPUTS, app.run_batch([str(p) for p in corpus.values()])))
    assert out["status"] == ""
    files = {p.name for p in corpus.values()}
    refused = {corpus[n].name for n in HOSTILE_REFUSED}
    table = [r[0] for r in out["table"]["data"]]  # the table shows assessed images only
    assert sorted(table) == sorted(files - refused)
    jsonl = [json.loads(line) for line in Path(out["downloads"][1]).read_text().splitlines()]
    assert sorted(r["image"] for r in jsonl) == sorted(files)  # every file exactly once
    for row in jsonl:
        if row["image"] in refused:
            _assert_clear_sentence(row["error"], row["image"])
            assert f"`{row['image']}`" in out["errors"]
        else:
            assert not row.get("error") and 0 <= row["quality"] <= 100, row["image"]
    with open(out["downloads"][0], newline="") as fh:
        assert sorted(r["image"] for r in csv.DictReader(fh)) == sorted(files)
    assert f"**{len(files) - len(refused)} assessed**, {len(refused)} could not be used." in out["summary"]


def test_explore_names_each_training_set_a_folder_belongs_to(data_root):
    from iqa_core.workflows.explore import training_overlap

    assert training_overlap(data_root / "para-train" / "images", "aesthetics") == "para-train"
    assert training_overlap(data_root / "para-train" / "images", "quality") == "para-train"
    assert training_overlap(data_root / "para-dev" / "images", "quality") == "para-dev"
    assert training_overlap(data_root / "para-dev" / "images", "aesthetics") is None  # held out
    assert training_overlap(data_root / "emotion6-dev" / "images", "quality") == "emotion6-dev"  # the gate's
