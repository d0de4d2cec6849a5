"""The ONNX Runtime engine against the PyTorch reference it is exported from: the same features on real dev
images, a cache keyed by what built the graph, and the engine and thread choices."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from iqa_core.inputs.load import load_image
from iqa_core.model import features
from iqa_core.model.encoders import lite, onnx_engine
from iqa_core.runtime import thread_budget
from iqa_core.training import datasets


@pytest.fixture(scope="module")
def engines():
    return lite.LiteImageEncoder(engine="onnx"), lite.LiteImageEncoder(engine="torch")


@pytest.fixture(scope="module")
def dev_images(data_root):
    samples = datasets.load("agiqa3k", data_root)[:4] + datasets.load("livec", data_root)[:4]
    return [load_image(s.path).image for s in samples]


def test_onnx_features_match_torch_on_dev_images(engines, dev_images):
    fast, ref = engines
    assert (fast.engine, ref.engine) == ("onnx", "torch")
    assert fast.config == ref.config  # the heads' recorded encoder accepts either engine
    for img in dev_images:
        a, b = fast.encode([img])[0], ref.encode([img])[0]
        fa, fb = features.pool_maps(a.maps), features.pool_maps(b.maps)
        assert fa.shape == fb.shape == (sum(ref.block_dims),)
        assert np.abs(fa - fb).max() < 1e-4
        assert np.abs(a.concepts - b.concepts).max() < 1e-5
        assert a.concepts.argmax() == b.concepts.argmax()
        for size in lite.INPUT_SIZES:
            assert [m.shape for m in a.maps[size]] == [m.shape for m in b.maps[size]]


def test_graph_is_cached_under_a_key_of_what_built_it(tmp_path, monkeypatch):
    monkeypatch.setenv("IQA_CACHE", str(tmp_path))
    key = lite.graph_key(lite.DEFAULT_VARIANT)
    path = onnx_engine.graph_file(key, "224")
    assert path.is_relative_to(tmp_path / "onnx")
    assert lite.weights_version(lite.DEFAULT_VARIANT) in key and lite.DEFAULT_VARIANT in key
    for part in (key, "224", f"opset{onnx_engine.OPSET}", onnx_engine.ort.__version__):
        assert part in str(path.relative_to(tmp_path))
    stages = onnx_engine.OnnxStages(lite.DEFAULT_VARIANT, key, (224,))
    assert path.is_file() and path.stat().st_size > 10_000_000
    built = path.stat().st_mtime_ns
    again = onnx_engine.OnnxStages(lite.DEFAULT_VARIANT, key, (224,))  # reads the cache, never re-exports
    assert path.stat().st_mtime_ns == built
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    x = lite.LiteImageEncoder._array(Image.new("RGB", (64, 48), (200, 30, 90)), 224)
    for a, b in zip(stages(x), again(x)):
        np.testing.assert_array_equal(a, b)


def test_engine_choice(monkeypatch):
    monkeypatch.setenv("IQA_ENGINE", "torch")
    assert lite.default_engine() == "torch"
    monkeypatch.delenv("IQA_ENGINE")
    assert lite.default_engine() == "onnx"  # onnxruntime is a requirement
    with pytest.raises(ValueError, match="engine"):
        lite.LiteImageEncoder(engine="tensorrt")


def test_sessions_follow_the_thread_budget(engines, dev_images):
    fast, _ = engines
    whole = fast.encode(dev_images[:1])[0]
    with thread_budget(1):
        split = fast.encode(dev_images[:1])[0]
    assert all(1 in s._by_threads for s in fast._run.sessions.values())
    np.testing.assert_allclose(features.pool_maps(split.maps), features.pool_maps(whole.maps), atol=1e-5)


def test_text_engines_agree_on_dev_prompts(data_root):
    from iqa_core.model.encoders.text import MiniLMTextEncoder

    fast, ref = MiniLMTextEncoder(engine="onnx"), MiniLMTextEncoder(engine="torch")
    texts = [s.prompt for s in datasets.load("agiqa3k", data_root)[:40]] + ["word " * 400, "Café naïve 東京"]
    a, b = fast.embed(texts), ref.embed(texts)
    assert a.shape == b.shape == (len(texts), 384)
    assert np.abs(a - b).max() < 1e-5
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    ta, tb = fast.tokens(texts[0]), ref.tokens(texts[0])
    assert ta.shape == tb.shape and np.abs(ta - tb).max() < 1e-4
    assert fast.embed([]).shape == (0, 384)


def test_an_onnx_assessment_never_imports_torch(tmp_path, data_root):
    """The classifier's weights (the subject's class activation) are read from the PyTorch model once and
    cached; a later process assesses an image, text included, without importing torch (about 2 s, 150 MB)."""
    import subprocess
    import sys

    image = datasets.load("agiqa3k", data_root)[0].path
    script = ("import sys\nfrom iqa_core.pipeline import Assessor\n"
              f"a = Assessor().assess({str(image)!r}, prompt='a cat on a sofa')\n"
              "assert a.subject.label, a.subject\nprint(sorted(m for m in ('torch', 'transformers', "
              "'sentence_transformers') if m in sys.modules))\n")
    env = dict(os.environ, IQA_CACHE=str(tmp_path), IQA_ENGINE="onnx")
    first = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "'torch'" in first.stdout  # the first run builds the graphs (and the text one) and the classifier cache
    later = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert later.returncode == 0, later.stderr[-2000:]
    assert later.stdout.strip() == "[]"
    cached = next((tmp_path / "arrays").rglob("classifier.npy"))
    np.testing.assert_array_equal(np.load(cached), lite.LiteImageEncoder(engine="onnx").classifier)
