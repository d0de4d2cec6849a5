"""The kernel part of a head (training.kernel): it fits what a linear ridge cannot, survives the float16
heads file split into shards (shared arrays stored once), and the shipped aesthetics head carries one that
beats its linear ridge, as do the attributes stacked on it."""
import numpy as np
from safetensors.numpy import load_file
from scipy.stats import spearmanr

from iqa_core.model import heads as heads_module
from iqa_core.model.heads import heads_files, load_heads, save_heads, stored_arrays
from iqa_core.training.aesthetics import ATTRIBUTE_HEADS
from iqa_core.training.fit import fit_ridge
from iqa_core.training.kernel import fit_kernel_ridge


def test_kernel_part_fits_a_bend_that_a_linear_ridge_cannot():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(900, 40)).astype(np.float32)
    y = np.abs(x[:, 0] + x[:, 1]) + 0.1 * rng.normal(size=900)  # a fold: no linear direction ranks it
    tr, te = slice(0, 600), slice(600, None)
    linear = spearmanr(fit_ridge(x[tr], y[tr], "a", ["image"]).predict(x[te]), y[te])[0]
    head = fit_kernel_ridge(x[tr], y[tr], "a", ["image"])
    kernel = spearmanr(head.predict(x[te]), y[te])[0]
    assert abs(linear) < 0.1 and kernel > 0.4, (linear, kernel)
    assert head.landmarks.shape == (600, head.kernel_basis.shape[1]) and head.gamma > 0


def test_kernel_part_reads_sample_weights():
    # The AI-image quality expert weighs its sets and distorted copies: rows at weight 0 must not steer the fit.
    rng = np.random.default_rng(2)
    x = rng.normal(size=(600, 20)).astype(np.float32)
    kept = np.arange(600) < 300
    y = np.where(kept, np.abs(x[:, 0]), -np.abs(x[:, 0])) + 0.05 * rng.normal(size=600)  # opposite rankings
    weighted = fit_kernel_ridge(x, y, "a", ["image"], sample_weight=kept.astype(np.float32))
    even = fit_kernel_ridge(x, y, "a", ["image"])
    assert spearmanr(weighted.predict(x[kept]), y[kept])[0] > 0.8 > spearmanr(even.predict(x[kept]), y[kept])[0]


def test_heads_file_splits_into_shards_and_loads_back(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 40)).astype(np.float32)
    head = fit_kernel_ridge(x, x[:, 0] ** 2, "a", ["image"], out_a=2.0, out_c=1.0)
    out = tmp_path / "h.safetensors"
    monkeypatch.setattr(heads_module, "SHARD_BYTES", 20_000)  # the landmarks alone are 300 x 40 floats
    save_heads({"a": head, "b": head}, out)  # b: the same arrays, stored once
    files = heads_files(out)
    assert len(files) > 1 and all(f.exists() for f in files)
    stored = [k for f in files for k in load_file(str(f))]
    assert "a.landmarks" in stored and "b.landmarks" not in stored and "b.landmarks" in stored_arrays(out)
    for name in ("a", "b"):
        back = load_heads(out)[name]
        assert back.gamma == head.gamma and np.allclose(back.predict(x), head.predict(x), atol=1e-2)
    monkeypatch.setattr(heads_module, "SHARD_BYTES", 4 << 20)
    save_heads({"a": head}, out)  # one file now: the old shards go
    assert heads_files(out) == [out] and not [f for f in files[1:] if f.exists()]


def test_shipped_ai_image_quality_expert_has_a_kernel_part():
    # training.quality.EXPERT_KERNEL: the AI expert's ridge bends; the photo expert stays linear.
    quality = load_heads()["quality"]
    ridge = quality.experts["ai"].members[0]
    assert ridge.landmarks.size and ridge.kernel_basis.shape[0] == ridge.mean.shape[0] and ridge.gamma > 0
    assert not quality.experts["photo"].landmarks.size
    x = np.random.default_rng(4).normal(size=(3, ridge.mean.size)).astype(np.float32) * ridge.scale + ridge.mean
    assert np.all(np.isfinite(quality.predict(x)))


def test_shipped_aesthetics_head_has_a_kernel_part_that_beats_its_linear_ridge():
    heads = load_heads()
    head = heads["aesthetics"]
    assert head.landmarks.size and head.kernel_basis.shape[0] == head.mean.shape[0]
    row = head.info["cv"][0]
    assert row["data"] == "para-train -> para-dev"
    assert row["cv"]["srcc"] >= row["linear"]["srcc"] + 0.01 and row["cv"]["srcc"] >= 0.82, row
    x = np.random.default_rng(3).normal(size=(1, head.mean.size)).astype(np.float32) * head.scale + head.mean
    memo = {}
    for name in ("aesthetics", *ATTRIBUTE_HEADS):  # one kernel per image for the five attributes
        assert np.allclose(heads[name].predict(x, memo), heads[name].predict(x)), name
    assert len(memo) == 2
    first = heads[next(iter(ATTRIBUTE_HEADS))]
    for name in ATTRIBUTE_HEADS:  # the aesthetics head folded in: its kernel part came along, one basis for all
        assert heads[name].landmarks.shape == head.landmarks.shape, name
        assert heads[name].kernel_basis is first.kernel_basis and heads[name].landmarks is first.landmarks, name
