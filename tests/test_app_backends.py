"""The app with IQA_SCORER / IQA_WRITER naming a hub backend (a tiny LLaVA saved in-test): the cards and
notes say which backend produced each field, and a backend that cannot load falls back to the offline
default with the reason in the small print, never a crash. Handlers are called directly, as test_app does."""
from __future__ import annotations

import html
from pathlib import Path

import pytest

from iqa_core.render import html as uf
from tests import tiny_mllm

EXAMPLE = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.jpg"))[0]
ASSESS_NOTES = -1  # notes are the last of app.ASSESS_OUTPUTS


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_llava_app")
    tiny_mllm.save("llava", folder)
    return folder


@pytest.fixture()
def app_with(monkeypatch):
    import app as app_module

    def start(scorer: str | None, writer: str | None = None):
        for var, value in (("IQA_SCORER", scorer), ("IQA_WRITER", writer)):
            if value is None:
                monkeypatch.delenv(var, raising=False)
            else:
                monkeypatch.setenv(var, value)
        monkeypatch.setattr(app_module, "_assessor", None)  # the session's shared one is restored afterwards
        return app_module
    return start


def test_cards_and_notes_name_each_fields_backend(app_with, tiny):
    spec = f"mllm:{tiny}"
    app = app_with(spec, spec)
    assessor = app.get_assessor()
    assert "backend_fallback" not in assessor.models and assessor.backends["quality"] == spec
    out = app.assess(str(EXAMPLE), prompt="a red square")
    assert out[0] == ""  # no error status
    cards, notes = html.unescape(out[1]), html.unescape(out[ASSESS_NOTES])
    assert cards.count(f"By {spec}.") == 3  # quality, aesthetics, alignment; the lite fields say nothing
    assert f"quality, aesthetics, alignment: {spec}" in notes
    assert "valence, arousal, emotions, sentiment, attributes, regions: lite" in notes
    # The tiny model's explanation fails the faithfulness check: the template's stands, and the notes say why.
    assert "explanation: template" in notes and f"Fallback: {spec} text failed the faithfulness check" in notes


def test_a_backend_that_cannot_load_falls_back_with_the_reason(app_with, tmp_path, tiny):
    app = app_with(f"mllm:{tmp_path}", f"mllm:{tiny}")  # an empty folder: no model there
    assessor = app.get_assessor()
    assert assessor.zero_shot is None and assessor.writer.name == f"mllm:{tiny}"  # the writer still loads
    reason = assessor.models["backend_fallback"]
    assert reason.startswith(f"IQA_SCORER='mllm:{tmp_path}' could not load (RuntimeError: Could not load MLLM")
    assert reason.endswith("the offline default serves instead.")
    notes = html.unescape(app.assess(str(EXAMPLE))[ASSESS_NOTES])
    assert f"Fallback: {reason}" in notes
    assert "quality, aesthetics, alignment, valence" in notes and ": lite" in notes


def test_default_notes_say_lite_and_template(assessor):
    result = assessor.assess(str(EXAMPLE))
    notes = html.unescape(uf.notes_html(result))
    assert "Backends: quality, aesthetics, alignment, valence, arousal, emotions, sentiment, attributes, " \
           "regions: lite; explanation: template." in notes
    assert "By " not in uf.score_cards_html(result)
