"""Gradio app: layout and event wiring over iqa_core. Run `python app.py` (the Hugging Face Space's app_file).

Formatting lives in iqa_core.render, workflows in iqa_core.workflows. One Assessor is loaded once and
shared by every session. Serves on 0.0.0.0:7860 unless GRADIO_SERVER_PORT or PORT says otherwise.
"""
from __future__ import annotations

import csv
import functools
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr

from iqa_core.inputs import load
from iqa_core.render import charts
from iqa_core.render import html as uf
from iqa_core.render.overlay import number_regions, overlay
from iqa_core.runtime import configure_server
from iqa_core.scores import SCORES
from iqa_core.workflows import compare as compare_flow
from iqa_core.workflows import explore as explore_flow
from iqa_core.workflows import uploads

log = logging.getLogger("iqa_core.app")

ROOT = Path(__file__).resolve().parent
EXAMPLES_DIR = ROOT / "examples"
DATA_DIR = Path(os.environ.get("IQA_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()
# Explore reads server folders only under these roots (os.pathsep-separated in IQA_EXPLORE_ROOTS).
EXPLORE_ROOTS: list[Path] = (
    [Path(p).resolve() for p in os.environ["IQA_EXPLORE_ROOTS"].split(os.pathsep) if p]
    if os.environ.get("IQA_EXPLORE_ROOTS") else [p for p in (DATA_DIR, EXAMPLES_DIR) if p.is_dir()]
)
WORK_ROOT = Path(tempfile.gettempdir()) / "iqa-app"

TITLE = "Explainable image assessment"
HEADER = (
    f"# {TITLE}\n"
    "Scores an image's **technical quality**, **aesthetics**, **prompt alignment** and **emotional tone**, "
    "and shows why: eight attributes, a map of weak regions and a plain-language explanation."
)

# Brings the result cards into view once they arrive (on a phone they sit far below the Assess button).
SCROLL_TO_RESULTS = "() => document.getElementById('score-cards')?.scrollIntoView({block: 'start'})"

# ---------------------------------------------------------------------------------------- the one model
_assessor = None
_assessor_lock = threading.Lock()



def get_assessor():
    """The shared Assessor, loaded on first use (app start calls this once). IQA_SCORER / IQA_WRITER (a
    Space's variables) may name backends, e.g. "mllm:Qwen/Qwen2.5-VL-3B-Instruct"; see build_assessor."""
    global _assessor
    if _assessor is None:
        with _assessor_lock:
            if _assessor is None:
                _assessor = build_assessor(os.environ.get("IQA_SCORER") or None,
                                           os.environ.get("IQA_WRITER") or "template")
    return _assessor


FALLBACK_NOTE_CHARS = 300


def build_assessor(scorer: str | None, writer: str = "template"):
    """The Assessor with the requested backends; a backend that fails to load is dropped (scorer and writer
    each on its own) and the offline default serves instead, with the reason in every result's
    models["backend_fallback"], which the notes show. Never raises for a backend that cannot load."""
    from iqa_core.pipeline import Assessor

    errors = []
    for s, w in dict.fromkeys([(scorer, writer), (scorer, "template"), (None, writer), (None, "template")]):
        try:
            assessor = Assessor(scorer=s, writer=w)
        except Exception as exc:  # noqa: BLE001 - a hub model that cannot load must not stop the app
            log.warning("backends scorer=%r writer=%r failed to load: %s", s, w, exc)
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:FALLBACK_NOTE_CHARS]}")
            continue
        dropped = [f"{var}={spec!r}" for var, spec, kept in (("IQA_SCORER", scorer, s), ("IQA_WRITER", writer, w))
                   if spec != kept]
        if dropped:
            assessor.models["backend_fallback"] = (f"{' and '.join(dropped)} could not load ({errors[0]}); "
                                                   "the offline default serves instead.")
        return assessor
    raise RuntimeError(f"The offline default failed to load: {errors[-1]}")


def _fail(exc: BaseException) -> str:
    """The sentence for the user (logged server-side when unexpected), also shown as a toast."""
    message = uf.user_message(exc)
    gr.Warning(message)
    return uf.message_html(message)


# ================================================================================================ Assess
ASSESS_OUTPUTS = ("status", "cards", "radar", "emotions", "valence_arousal", "overlay", "regions",
                  "explanation", "json", "notes")


def _assess_empty(status: str) -> tuple:
    return (status, "", charts.empty("Attributes appear here"), charts.empty("Emotions appear here"),
            charts.valence_arousal(None, None), None, [], "", None, "")


def assess(image, prompt="", negative_prompt="", tags="", caption=""):
    """Assess one uploaded image; outputs in the order of ASSESS_OUTPUTS."""
    try:
        load.check_file_size(image)
        assessor = get_assessor()
        done = assessor.assess_with_image(image, prompt=prompt or None, negative_prompt=negative_prompt or None,
                                          tags=tags or None, caption=caption or None)
        result = done.assessment

        workdir = uploads.new_workdir(WORK_ROOT)
        json_path = uploads.write_json(result, workdir)
        # Handed to gradio as a file, which it caches atomically; a PIL image is written into its cache in
        # place, so two visitors assessing the same picture at once could fetch a half-written overlay.
        overlay_path = workdir / "regions.png"
        number_regions(overlay(done.image, result.regions), result).save(overlay_path)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence, the server keeps serving
        return _assess_empty(_fail(exc))
    return ("", uf.score_cards_html(result), charts.radar(result), charts.emotions_bar(result.emotions),
            charts.valence_arousal(result.valence, result.arousal), str(overlay_path), uf.region_rows(result),
            uf.explanation_markdown(result), str(json_path), uf.notes_html(result))


def prefill(image):
    """Prompt, negative prompt, tags and caption from the uploaded file's embedded metadata, plus a note;
    fields the file does not carry keep what the user typed."""
    try:
        *fields, note = uf.prefill_fields(image)
    except Exception as exc:  # noqa: BLE001
        return gr.update(), gr.update(), gr.update(), gr.update(), _fail(exc)
    return (*(gr.update() if v is None else v for v in fields), note)


# =============================================================================================== Compare
COMPARE_OUTPUTS = ("status", "gallery", "radar", "table", "summary")
MAX_COMPARE = 6


def compare(files, prompt=""):
    """Assess 2-6 images with one optional prompt; outputs in the order of COMPARE_OUTPUTS."""
    empty_table = {"headers": ["image"] + list(SCORES), "data": []}
    try:
        paths = [str(f) for f in (files or [])]
        notes = []
        if len(paths) > MAX_COMPARE:
            notes.append(f"Compare takes up to {MAX_COMPARE} images; used the first {MAX_COMPARE}.")
            paths = paths[:MAX_COMPARE]
        names_all = compare_flow.compare_names(paths)
        assessor = get_assessor()
        results, names, shown = [], [], []
        for path, name in zip(paths, names_all):
            try:
                load.check_file_size(path)
                results.append(assessor.assess(path, name=name, prompt=prompt or None))
                names.append(name)
                shown.append(path)
            except load.ImageLoadError as exc:
                notes.append(f"{name}: {exc}")
        if len(results) < 2:
            raise load.UserError(" ".join(notes + ["Choose at least two readable images to compare."]))
        headers, rows = compare_flow.compare_table(results, names)
        gallery = [(p, f"{n} · quality {uf.format_value('quality', r.quality)}")
                   for p, n, r in zip(shown, names, results)]
        status = uf.message_html(" ".join(notes), "warning") if notes else ""
        return (status, gallery, charts.radar(results, names, title="Attributes, overlaid"),
                {"headers": headers, "data": rows}, compare_flow.compare_summary(results, names))
    except Exception as exc:  # noqa: BLE001
        return _fail(exc), [], charts.empty("Attributes appear here"), empty_table, ""


# ================================================================================================= Batch
BATCH_OUTPUTS = ("status", "summary", "table", "histogram", "scatter", "downloads", "errors")


def run_batch(files, progress=gr.Progress()):
    """Assess many images (or the images in .zip files); outputs in the order of BATCH_OUTPUTS."""
    empty_table = {"headers": uf.BATCH_COLUMNS, "data": []}
    try:
        if not files:
            raise load.UserError("Upload some images or a .zip of images first.")
        work = uploads.new_workdir(WORK_ROOT)
        progress(0, desc="Unpacking")
        inputs = uploads.collect_batch_inputs([str(f) for f in files], work / "in")
        rows = list(inputs.problems)
        if inputs.files:
            from iqa_core.workflows import batch

            assessor = get_assessor()
            n = len(inputs.files)
            for i, row in enumerate(batch.run(assessor, inputs.folder, inputs.metadata, inputs.files), 1):
                rows.append(row)
                progress((i, n), desc="Assessing", unit="images")
        if not rows:
            raise load.UserError("No files to assess were found in the upload.")
        csv_path, jsonl_path = uploads.write_results(rows, work)
        return ("", uf.batch_summary(rows), uf.batch_table_value(rows),
                charts.score_histograms(rows), charts.score_scatter(rows), [str(csv_path), str(jsonl_path)],
                uf.errors_markdown(rows))
    except Exception as exc:  # noqa: BLE001
        return (_fail(exc), "", empty_table, charts.empty("Histograms appear here"),
                charts.empty("Quality vs aesthetics appears here"), None, "")


# =============================================================================================== Explore
EXPLORE_OUTPUTS = ("status", "note", "scatter", "gallery")


def explore(folder, labels="", human_column=None, score="quality", limit=100, progress=gr.Progress()):
    """Predicted score against human scores for a labelled server folder; outputs: EXPLORE_OUTPUTS."""
    try:
        result = explore_flow.run_explore(get_assessor(), folder, labels, human_column, score, limit, EXPLORE_ROOTS,
                                progress=lambda i, n: progress((i, n), desc="Assessing", unit="images"))
        if result.n < 3:
            raise load.UserError(f"Only {result.n} images could be scored; at least 3 are needed. {result.note}")
        highlight = [result.names[i] for i in result.disagreements]
        fig = charts.predicted_vs_human(result.predicted, result.human, result.names, result.score,
                                        result.human_column, highlight,
                                        remark="in-sample" if result.in_sample else None)
        note = (f"Predicted **{result.score}** against human **{result.human_column}**. The orange points are the "
                f"{len(highlight)} largest disagreements by rank, shown below with each image's rank by the humans "
                f"and by the model (#1 = highest). {result.note}")
        return "", note, fig, explore_flow.disagreement_gallery(result)
    except Exception as exc:  # noqa: BLE001
        return _fail(exc), "", charts.empty("The scatter appears here"), []


def explore_columns(folder, labels="", score="quality"):
    """Choices for the human-score dropdown: the numeric columns of the labels CSV."""
    try:
        root = explore_flow.resolve_allowed(folder, EXPLORE_ROOTS, "folder")
        csv_path = (explore_flow.resolve_allowed(labels, EXPLORE_ROOTS, "labels CSV") if labels and labels.strip()
                    else explore_flow.default_labels_path(root))
        if csv_path is None or not csv_path.is_file():
            return gr.update(choices=[], value=None)
        _, numeric = explore_flow.read_labels(csv_path)
        return gr.update(choices=numeric, value=explore_flow.guess_human_column(numeric, score))
    except Exception:  # noqa: BLE001 - typing a path: stay quiet until it points somewhere useful
        return gr.update(choices=[], value=None)


# ============================================================================================== examples
def example_rows() -> list[list[str]]:
    """[image path, prompt] from examples/examples.csv (or every image in examples/ without a prompt)."""
    table = EXAMPLES_DIR / "examples.csv"
    rows = []
    if table.is_file():
        with open(table, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                path = EXAMPLES_DIR / (row.get("image") or "")
                if path.is_file():
                    rows.append([str(path), row.get("prompt") or ""])
    if not rows and EXAMPLES_DIR.is_dir():
        from iqa_core.workflows.batch import list_images

        rows = [[str(p), ""] for p in list_images(EXAMPLES_DIR)]
    return rows


def explore_examples() -> tuple[list[list], list[str]]:
    """Example runs over ../shared/data, only for the sets present on this server: (rows, labels)."""
    rows, labels = [], []
    for folder, column, score, limit, label in (
            ("livec-dev", "AllMOS_release", "quality", 30, "LIVE Challenge photos: quality vs human MOS"),
            ("agiqa3k-dev", "mos_align", "alignment", 30, "AGIQA-3K: prompt alignment vs human MOS")):
        images, table = DATA_DIR / folder / "images", DATA_DIR / folder / "labels.csv"
        if images.is_dir() and table.is_file():
            rows.append([str(images), str(table), column, score, limit])
            labels.append(label)
    return rows, labels


class ImageInput(gr.Image):
    """gr.Image whose preprocessing never fails: an unreadable upload reaches the handler as its path,
    where load_image turns it into a clear sentence instead of Gradio's bare 'Error'."""

    is_template = True  # same front-end component as gr.Image

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except Exception:  # noqa: BLE001
            return str(payload.path) if payload is not None and payload.path else None


# ================================================================================================ layout
THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="sky", neutral_hue="slate")
CSS = """
/* Gradio scopes @media rules to descendants of .contain, so rules for the container itself stay outside them */
.gradio-container { max-width: 1280px !important; margin: 0 auto !important; min-width: 0 !important; }
.gradio-container .main.app { padding-left: clamp(8px, 4vw, 32px) !important;
                              padding-right: clamp(8px, 4vw, 32px) !important; }
.tabs, .tab-wrapper { min-width: 0 !important; }
.iqa-header p { margin-top: 0; opacity: .85; }
.iqa-small p, .iqa-small li { font-size: var(--text-sm) !important; opacity: .8; }
.iqa-cards { grid-template-columns: repeat(3, minmax(0, 1fr)) !important; }
/* never wider than the screen: plots that measured their box before layout settled are clipped, not scrolled */
.js-plotly-plot, .js-plotly-plot .plot-container { max-width: 100%; overflow: hidden; }
/* plotly draws text with inline fills; make it readable on the dark theme */
.dark .js-plotly-plot .main-svg :not(.hovertext) > text { fill: #d1d5db !important; }
.dark .js-plotly-plot .main-svg .hovertext text { fill: #111827 !important; }
@media (max-width: 640px) {
  .iqa-header h1 { font-size: 1.45em; }
  .iqa-cards { grid-template-columns: repeat(2, minmax(0, 1fr)) !important; gap: 8px !important; }
  .iqa-card { padding: 10px !important; }
}
"""


def build_demo() -> gr.Blocks:
    examples = example_rows()
    with gr.Blocks(title=TITLE, delete_cache=(3600, 6 * 3600)) as demo:
        gr.Markdown(HEADER, elem_classes="iqa-header")
        with gr.Tabs():
            # ------------------------------------------------------------------------------ Assess
            with gr.Tab("Assess", id="assess"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2, min_width=300):
                        image = ImageInput(type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                           label="Image (drop, paste or click)", height=340,
                                           elem_id="assess-image")
                        with gr.Accordion("Text for alignment (optional; filled from the file's metadata)",
                                          open=True):
                            prompt = gr.Textbox(label="Prompt", lines=2, max_lines=6, elem_id="assess-prompt")
                            negative = gr.Textbox(label="Negative prompt", lines=1, max_lines=4)
                            with gr.Row():
                                tags = gr.Textbox(label="Tags", placeholder="comma-separated", min_width=140)
                                caption = gr.Textbox(label="Caption", lines=1, max_lines=4, min_width=140)
                            prefill_note = gr.HTML()
                        assess_btn = gr.Button("Assess", variant="primary", elem_id="assess-button")
                        a_examples = gr.Examples(
                            [[path, text, "", "", ""] for path, text in examples],
                            inputs=[image, prompt, negative, tags, caption], visible_columns=[0, 1],
                            label="Examples (AGIQA-3K, MIT): click one to assess it", api_name="assess_example",
                            elem_id="assess-examples") if examples else None
                    with gr.Column(scale=3, min_width=300):
                        a_status = gr.HTML()
                        cards = gr.HTML(elem_id="score-cards")
                        explanation = gr.Markdown(elem_id="explanation")
                        radar = gr.Plot(show_label=False, elem_id="radar")
                        with gr.Row(equal_height=True):
                            json_file = gr.DownloadButton("Download the assessment (JSON)", size="sm",
                                                          elem_id="json-download", min_width=200)
                        notes = gr.HTML(elem_classes="iqa-notes-box")
                with gr.Row(equal_height=False):
                    emotions = gr.Plot(show_label=False, elem_id="emotions", min_width=300)
                    va = gr.Plot(show_label=False, elem_id="valence-arousal", min_width=300)
                with gr.Row(equal_height=False):
                    overlay = gr.Image(label="Region map: redder = weaker", type="pil", interactive=False,
                                       height=400, elem_id="overlay", min_width=300, format="png")
                    regions = gr.Dataframe(headers=uf.REGION_HEADERS, label="Regions, weakest first",
                                           interactive=False, elem_id="regions", min_width=300, max_height=420)
                assess_outputs = [a_status, cards, radar, emotions, va, overlay, regions, explanation, json_file,
                                  notes]
                # scroll_to_output is ignored on Hugging Face Spaces (the page is in an iframe), so the results
                # are also brought into view in the browser once they arrive.
                assess_btn.click(assess, [image, prompt, negative, tags, caption], assess_outputs,
                                 api_name="assess", scroll_to_output=True).then(
                    None, None, None, js=SCROLL_TO_RESULTS)
                if a_examples:
                    a_examples.load_input_event.then(assess, [image, prompt, negative, tags, caption],
                                                     assess_outputs, api_name="assess_example_run",
                                                     api_visibility="undocumented")
                image.upload(prefill, image, [prompt, negative, tags, caption, prefill_note], api_name="prefill",
                             concurrency_limit=8)

            # ------------------------------------------------------------------------------ Compare
            with gr.Tab("Compare", id="compare"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2, min_width=300):
                        c_files = gr.File(file_count="multiple", file_types=["image"], label="2 to 6 images",
                                          elem_id="compare-files")
                        c_prompt = gr.Textbox(label="Prompt (optional, used for every image)", lines=2)
                        c_btn = gr.Button("Compare", variant="primary", elem_id="compare-button")
                        c_examples = gr.Examples(
                            [[[e[0] for e in examples[:2]], ""], [[e[0] for e in examples], ""]],
                            inputs=[c_files, c_prompt], label="Examples: click one to compare",
                            example_labels=["2 images", f"{len(examples)} images"], api_name="compare_example",
                            elem_id="compare-examples") if len(examples) >= 2 else None
                    with gr.Column(scale=3, min_width=300):
                        c_status = gr.HTML()
                        c_summary = gr.Markdown(elem_id="compare-summary")
                        c_gallery = gr.Gallery(label="Images", columns=3, height="auto", object_fit="contain",
                                               allow_preview=True, elem_id="compare-gallery")
                c_table = gr.Dataframe(label="Scores (★ best per score)", interactive=False, elem_id="compare-table")
                c_radar = gr.Plot(show_label=False, elem_id="compare-radar")
                compare_outputs = [c_status, c_gallery, c_radar, c_table, c_summary]
                c_btn.click(compare, [c_files, c_prompt], compare_outputs, api_name="compare")
                if c_examples:
                    c_examples.load_input_event.then(compare, [c_files, c_prompt], compare_outputs,
                                                     api_name="compare_example_run", api_visibility="undocumented")

            # ------------------------------------------------------------------------------ Batch
            with gr.Tab("Batch", id="batch"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2, min_width=300):
                        b_files = gr.File(file_count="multiple", file_types=["image", ".zip", ".csv"],
                                          label="Images or .zip files", elem_id="batch-files")
                        gr.Markdown(f"Up to {uploads.MAX_BATCH_FILES} images, {uploads.MAX_ZIP_BYTES // uploads.MB} MB unpacked. "
                                    "Add a CSV with an `image` column and any of `prompt`, `negative_prompt`, "
                                    "`tags`, `caption` to measure alignment.", elem_classes="iqa-small")
                        b_btn = gr.Button("Assess all", variant="primary", elem_id="batch-button")
                        b_examples = gr.Examples(
                            [[[e[0] for e in examples]]], inputs=[b_files], label="Examples: click to run",
                            example_labels=[f"{len(examples)} example images"], api_name="batch_example",
                            elem_id="batch-examples") if examples else None
                        b_downloads = gr.File(label="Results (CSV and JSONL)", file_count="multiple",
                                              interactive=False, elem_id="batch-downloads")
                    with gr.Column(scale=3, min_width=300):
                        b_status = gr.HTML()
                        b_summary = gr.Markdown(elem_id="batch-summary")
                        b_table = gr.Dataframe(headers=uf.BATCH_COLUMNS, label="Results (click a header to sort)",
                                               interactive=False, elem_id="batch-table", max_height=420)
                        b_errors = gr.Markdown(elem_id="batch-errors")
                with gr.Row(equal_height=False):
                    b_hist = gr.Plot(show_label=False, elem_id="batch-histogram", min_width=300)
                    b_scatter = gr.Plot(show_label=False, elem_id="batch-scatter", min_width=300)
                batch_outputs = [b_status, b_summary, b_table, b_hist, b_scatter, b_downloads, b_errors]
                b_btn.click(run_batch, b_files, batch_outputs, api_name="batch")
                if b_examples:
                    b_examples.load_input_event.then(run_batch, b_files, batch_outputs, api_name="batch_example_run",
                                                     api_visibility="undocumented")

            # ------------------------------------------------------------------------------ Explore
            with gr.Tab("Explore", id="explore"):
                gr.Markdown(
                    "Compare predictions with human scores on a labelled folder **on this server**: a folder of "
                    "images and a CSV with an `image` column and numeric score columns (for example "
                    f"`shared/data/<set>/labels.csv`). Up to {explore_flow.MAX_EXPLORE} images per run.",
                    elem_classes="iqa-small")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2, min_width=300):
                        e_folder = gr.Textbox(label="Image folder on the server", elem_id="explore-folder")
                        e_labels = gr.Textbox(label="Labels CSV (empty: labels.csv in or next to the folder)")
                        with gr.Row():
                            e_human = gr.Dropdown(label="Human score column", choices=[], allow_custom_value=True,
                                                  min_width=140)
                            e_score = gr.Dropdown(label="Predicted score", choices=list(SCORES), value="quality",
                                                  min_width=140)
                        e_limit = gr.Slider(10, explore_flow.MAX_EXPLORE, value=100, step=10, label="Images (at most)")
                        e_btn = gr.Button("Compare with humans", variant="primary", elem_id="explore-button")
                        ex, ex_labels = explore_examples()
                        e_examples = gr.Examples(
                            ex, inputs=[e_folder, e_labels, e_human, e_score, e_limit],
                            label="Examples: click one to run it", example_labels=ex_labels,
                            api_name="explore_example", elem_id="explore-examples") if ex else None
                        gr.Markdown("Allowed folders: " + (", ".join(f"`{r}`" for r in EXPLORE_ROOTS) or "none"),
                                    elem_classes="iqa-small")
                    with gr.Column(scale=3, min_width=300):
                        e_status = gr.HTML()
                        e_note = gr.Markdown(elem_id="explore-note")
                        e_scatter = gr.Plot(show_label=False, elem_id="explore-scatter")
                e_gallery = gr.Gallery(label="Largest disagreements", columns=4, height=660, object_fit="cover",
                                       elem_id="explore-gallery")
                e_folder.blur(explore_columns, [e_folder, e_labels, e_score], e_human, api_name="explore_columns",
                              concurrency_limit=8)
                for i, trigger in enumerate((e_folder.submit, e_labels.blur, e_labels.submit, e_score.input)):
                    trigger(explore_columns, [e_folder, e_labels, e_score], e_human,
                            api_name=f"explore_columns_{i + 2}", api_visibility="undocumented", concurrency_limit=8)
                explore_inputs = [e_folder, e_labels, e_human, e_score, e_limit]
                explore_outputs = [e_status, e_note, e_scatter, e_gallery]
                e_btn.click(explore, explore_inputs, explore_outputs, api_name="explore")
                if e_examples:
                    e_examples.load_input_event.then(explore, explore_inputs, explore_outputs,
                                                     api_name="explore_example_run", api_visibility="undocumented")
        gr.Markdown("Scores come from small learned heads over a frozen image encoder; read them as estimates. "
                    "Ranges and meanings: `iqa_core/scores.py`.", elem_classes="iqa-small")
    return demo


# CONCURRENCY requests run at once (one per core here); up to QUEUE_SIZE more wait, about 10 s at 0.5 s
# each. Beyond that a visitor is told the queue is full rather than left waiting without end.
CONCURRENCY = int(os.environ.get("IQA_CONCURRENCY", 2))
QUEUE_SIZE = int(os.environ.get("IQA_QUEUE_SIZE", 20))


@functools.cache
def get_demo() -> gr.Blocks:
    """The app's one Blocks, built and queued on first use (not when the module is imported)."""
    return build_demo().queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)


def warm_up(assessor) -> None:
    """One assessment of a plain image with a prompt: the text model, which loads at the first text, and
    every first-call allocation are paid here (a visitor's first prompt took 4.2 s before, 3.8 s of it the
    text model)."""
    from PIL import Image

    t0 = time.perf_counter()
    assessor.assess(Image.new("RGB", (320, 240), (120, 140, 160)), prompt="a calm blue sky")
    log.info("models loaded and warmed in %.1f s", time.perf_counter() - t0)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_server(CONCURRENCY)  # before the server's worker threads start
    try:
        warm_up(get_assessor())  # load and warm every model before the first visitor, not during their click
    except Exception:  # noqa: BLE001 - serve anyway; every handler then explains what is missing
        log.exception("the models could not be loaded")
    port = int(os.environ.get("GRADIO_SERVER_PORT") or os.environ.get("PORT") or 7860)
    host = os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0")
    get_demo().launch(server_name=host, server_port=port, theme=THEME, css=CSS, max_file_size="500mb",
                show_error=False)


if __name__ == "__main__":
    main()
