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


def test_iovqa_head_reads_back_scores_on_the_target_scale(tmp_path):
    import numpy as np

    from iqa_core.fit import fit_expected, fit_ridge, srcc
    from iqa_core.heads import MeanHead, save_heads

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 40)).astype(np.float32)
    y = 3.0 + x[:, :5].sum(1) * 0.4 + rng.normal(scale=0.2, size=300)  # a MOS-like score around 3
    groups = np.arange(300) // 3
    head = fit_expected(x[:200], y[:200], "q", ["image"], groups[:200], out_a=10.0, out_c=5.0)
    assert head.kind == "expected" and head.info["decay"] > 0
    pred = head.predict(x[200:])
    assert srcc(pred, y[200:]) > 0.8
    assert abs(pred.mean() - (10.0 * y[200:].mean() + 5.0)) < 2.0  # back on the caller's scale
    pair = MeanHead("q", [fit_ridge(x[:200], y[:200], "q", ["image"], out_a=10.0, out_c=5.0), head])
    save_heads({"q": pair}, tmp_path / "h.safetensors")
    loaded = load_heads(tmp_path / "h.safetensors")["q"]
    assert isinstance(loaded, MeanHead) and [m.kind for m in loaded.members] == ["regression", "expected"]
    assert np.allclose(loaded.predict(x[200:]), pair.predict(x[200:]), atol=1e-4)
