"""The ONNX Runtime engine against the PyTorch reference it is exported from: the same features on real dev
images, a cache keyed by what built the graph, and the engine and thread choices."""
from __future__ import annotations

import numpy as np
import pytest

from iqa_core.inputs.load import load_image
from iqa_core.model import features
from iqa_core.model.encoders import lite, lite_onnx
from iqa_core.runtime import torch_threads
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
    path = lite_onnx.model_file(lite.DEFAULT_VARIANT, 224)
    assert path.is_relative_to(tmp_path / "onnx")
    for part in (lite.distribution(lite.DEFAULT_VARIANT), lite.weights_version(lite.DEFAULT_VARIANT), "224",
                 f"opset{lite_onnx.OPSET}", lite_onnx.ort.__version__):
        assert part in str(path.relative_to(tmp_path))
    assert lite_onnx.ensure_model(lite.DEFAULT_VARIANT, 224) == path and path.stat().st_size > 10_000_000
    built = path.stat().st_mtime_ns
    lite_onnx.ensure_model(lite.DEFAULT_VARIANT, 224)  # a second call reads the cache, never re-exports
    assert path.stat().st_mtime_ns == built
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


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
    with torch_threads(1):
        split = fast.encode(dev_images[:1])[0]
    assert {(448, 1), (224, 1)} <= set(fast._run._sessions)
    np.testing.assert_allclose(features.pool_maps(split.maps), features.pool_maps(whole.maps), atol=1e-5)
