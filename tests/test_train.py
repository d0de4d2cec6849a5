"""Training runs end to end on a small subset, and the shipped weights reproduce training-time scores."""
import json

import pytest

from iqa_core import train
from iqa_core.heads import HEADS_FILE, load_heads


def test_training_smoke(tmp_path, monkeypatch, data_root):
    monkeypatch.chdir(tmp_path)  # the feature cache goes under ./cache
    out = tmp_path / "heads.safetensors"
    assert train.main(["--limit", "30", "--out", str(out), "--data", str(data_root)]) == 0
    heads = load_heads(out)
    assert {"quality", "aesthetics", "alignment", "valence", "arousal", "emotions", "sentiment"} <= set(heads)
    report = json.loads((tmp_path / "training_report.json").read_text())
    assert all("cv" in r and "train" in r for r in report["reports"])


def test_shipped_weights_reproduce_training(assessor, data_root):
    report = json.loads((HEADS_FILE.parent / "training_report.json").read_text())
    assert report["limit"] is None, "the shipped heads must be trained on the full dev sets"
    for ref in report["reference"]:
        a = assessor.assess(_path(data_root, ref))
        assert a.quality == pytest.approx(ref["quality"], abs=0.05)
        assert a.aesthetics == pytest.approx(ref["aesthetics"], abs=0.05)
        assert a.valence == pytest.approx(ref["valence"], abs=0.01)


def _path(root, ref):
    folder = {"agiqa3k": "agiqa3k-dev", "livec": "livec-dev", "para": "para-dev", "emotion6": "emotion6-dev"}
    return root / folder[ref["dataset"]] / "images" / ref["image"]
