"""The pieces of quality on one scale and of the learned text bridge: synthetic distortions, the pairwise
ranker, the common targets, and the contrastive image-to-sentence map."""
import csv

import numpy as np
import pytest
from PIL import Image

from iqa_core.inputs.load import load_image
from iqa_core.model.heads import load_heads, save_heads
from iqa_core.training import datasets
from iqa_core.training.distortions import LEVELS, SEVERITIES, distort
from iqa_core.training.fit import srcc
from iqa_core.training.projection import fit_projection
from iqa_core.training.rank import Pairs, fit_rank, mos_pairs
from tests.conftest import ROOT


def test_every_distortion_is_deterministic_and_stronger_at_the_second_severity(data_root):
    img = load_image(datasets.load("livec", data_root)[3].path).image
    base = np.asarray(img, np.float32)
    for kind in LEVELS:
        change = []
        for sev in SEVERITIES:
            a = distort(img, kind, sev, np.random.default_rng(1))
            b = distort(img, kind, sev, np.random.default_rng(1))
            assert a.size == img.size and a.mode == "RGB"
            assert np.array_equal(np.asarray(a), np.asarray(b)), kind
            change.append(np.abs(np.asarray(a, np.float32) - base).mean())
        assert 1.0 < change[0] < change[1], (kind, change)


def test_ranker_learns_order_from_pairs_within_sets_whatever_their_offsets():
    # Two "datasets" whose MOS scales differ by an offset the features do not carry: trained on pairs within
    # each set only, the ranker recovers the feature-driven order across both sets.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 20)).astype(np.float32)
    truth = x[:, 0] - 0.5 * x[:, 1]
    sets = np.repeat([0, 1], 150)
    mos = truth + 10.0 * sets  # set 1's scale is shifted: a regression on pooled MOS would learn the offset
    parts = []
    for s in (0, 1):
        rows = np.flatnonzero(sets == s)
        z = (mos[rows] - mos[rows].mean()) / mos[rows].std()
        parts.append(mos_pairs(rows, z, 1.0))
    head = fit_rank(x, Pairs.concat(parts), None, decay=0.01, inputs=["x"])
    pred = head.predict(x)
    assert srcc(pred, truth) > 0.95
    assert pred.mean() == pytest.approx(50.0, abs=0.5) and pred.std() == pytest.approx(15.0, abs=0.5)


def test_projection_maps_images_nearer_their_own_text_and_round_trips(tmp_path):
    # Synthetic "images" carry their prompt's meaning through a hidden linear map, plus noise; prompts held
    # out of training are still matched better than chance.
    rng = np.random.default_rng(0)
    prompts = rng.normal(size=(80, 16)).astype(np.float32)
    prompts /= np.linalg.norm(prompts, axis=1, keepdims=True)
    mix = rng.normal(size=(16, 40)).astype(np.float32)
    groups = np.repeat(np.arange(80), 3)
    text = prompts[groups]
    x = text @ mix + 0.3 * rng.normal(size=(240, 40)).astype(np.float32)
    train = groups < 60
    head = fit_projection(x[train], text[train], groups[train].astype(str), components=16)
    p = head.predict(x[~train])
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-5)
    own = (p * text[~train]).sum(1)
    other = (p * np.roll(text[~train], 3, axis=0)).sum(1)  # another held-out prompt
    assert (own > other).mean() > 0.9
    save_heads({"text_projection": head}, tmp_path / "h.safetensors")
    back = load_heads(tmp_path / "h.safetensors")["text_projection"]
    assert np.allclose(back.predict(x[~train]), p, atol=2e-3)


def test_own_prompt_beats_other_prompts_on_the_examples(assessor):
    # The bundled AI images (MIT), each with its own prompt and with the other examples' prompts.
    with open(ROOT / "examples" / "examples.csv", newline="", encoding="utf-8") as fh:
        rows = [(ROOT / "examples" / r["image"], r["prompt"]) for r in csv.DictReader(fh)]
    wins = []
    for i, (path, prompt) in enumerate(rows):
        own = assessor.assess(Image.open(path), prompt=prompt).alignment
        wins += [own > assessor.assess(Image.open(path), prompt=p).alignment
                 for j, (_, p) in enumerate(rows) if j != i]
    assert np.mean(wins) >= 0.75


def test_mismatch_drop_is_the_largest_within_tolerance_of_the_best_and_chosen_inside_training():
    from iqa_core.model.heads import load_heads
    from iqa_core.training.alignment import DROP_TOLERANCE, MISMATCH_DROPS, largest_within

    assert largest_within({10.0: 0.60, 30.0: 0.595, 50.0: 0.58}, 0.01) == 30.0
    assert largest_within({10.0: 0.50, 30.0: 0.62, 50.0: 0.40}, 0.01) == 30.0
    head = load_heads()["alignment"]
    drop = head.info["mismatch_drop"]  # chosen on inner folds of the training images, not on reported folds
    assert drop in MISMATCH_DROPS and DROP_TOLERANCE == 0.01
    graded, dropped = head.experts["match"], head.experts["mismatch"]
    assert abs((graded.out_c - dropped.out_c) - drop) < 1e-3


def test_anchor_pairs_put_best_rated_images_of_other_sets_above_strong_copies():
    # Two scored sets of 10 rated images each, and one mild and one strong copy of each set's first image.
    from iqa_core.training import common_scale as cs

    sets = np.array(["agiqa3k"] * 10 + ["livec"] * 10 + ["agiqa3k", "agiqa3k", "livec", "livec"])
    z = np.concatenate([np.arange(10.0), np.arange(10.0), np.full(4, np.nan)])
    source = np.concatenate([np.arange(20), [0, 0, 10, 10]])
    severity = np.concatenate([np.zeros(20, int), [1, 2, 1, 2]])
    qd = cs.QualityData(x=np.zeros((24, 1), np.float32), z=z, sets=sets, groups=np.arange(24).astype(str),
                        source=source, kind=np.array([""] * 20 + ["blur"] * 4), severity=severity, n_rated=20,
                        gate_x=np.zeros((0, 1), np.float32), gate_sets=np.array([], str))
    rows = np.arange(24)
    p = cs.anchor_pairs(qd, rows, {r: i for i, r in enumerate(rows)})
    assert len(p.a) == 2 * cs.ANCHOR_PARTNERS and set(p.b) == {21, 23}  # strong copies only, below others
    for a, b in zip(p.a, p.b):
        assert sets[a] != sets[b] and severity[a] == 0 and z[a] >= 6  # best 40% of the other set
    assert p.weight.sum() == pytest.approx(cs.ANCHOR_PAIRS) and (p.p == 1).all()
    again = cs.anchor_pairs(qd, rows, {r: i for i, r in enumerate(rows)})
    assert (again.a == p.a).all()  # a fixed seed
