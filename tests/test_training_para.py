"""PARA's attribute heads: stacked on the aesthetics head as one LinearHead, and the shipped ones at PARA CV
SRCC >= 0.70 (refitted alone: test_train.test_part_refit_keeps_every_other_head)."""
import numpy as np

from iqa_core.model.heads import load_heads
from iqa_core.training.aesthetics import ATTRIBUTE_HEADS, fold_in
from iqa_core.training.fit import fit_ridge
from iqa_core.training.kernel import fit_kernel_ridge


def test_fold_in_adds_the_other_heads_raw_score():
    """Two heads standardised on different data: the folded head scores share * other + head exactly."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 12)).astype(np.float32)
    other = fit_ridge(x[:100] * 2.0 + 1.0, x[:100, 0], "a", ["image"])  # another sample's mean and scale
    head = fit_ridge(x[100:], x[100:, 1], "b", ["image"], out_a=25.0, out_c=-25.0)
    expected = head.raw(x)[:, 0] + 0.75 * other.raw(x)[:, 0]
    folded = fold_in(head, other, 0.75)
    assert np.allclose(folded.raw(x)[:, 0], expected, atol=1e-4)


def test_fold_in_carries_the_other_heads_kernel_part():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 12)).astype(np.float32)
    other = fit_kernel_ridge(x[:150] * 2.0 + 1.0, np.abs(x[:150, 0]), "a", ["image"])
    head = fit_ridge(x[150:], x[150:, 1], "b", ["image"])
    expected = head.raw(x)[:, 0] + 0.5 * other.raw(x)[:, 0]
    folded = fold_in(head, other, 0.5)
    assert folded.landmarks.size and np.allclose(folded.raw(x)[:, 0], expected, atol=1e-3)


def test_shipped_attribute_heads_are_stacked_and_agree_with_people():
    heads = load_heads()
    for name in ATTRIBUTE_HEADS:
        info = heads[name].info
        assert 0.0 < info["aesthetics_share"] <= 1.5, name
        assert info["cv"][0]["cv"]["srcc"] >= 0.70, (name, info["cv"])
