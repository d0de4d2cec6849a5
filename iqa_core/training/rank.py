"""A linear quality ranker on one scale for every dataset: trained on pairs only, never on a dataset's MOS
scale. Two kinds of pair:
- within one dataset, two images ordered by their MOS (soft: a near-tie says little), never across datasets,
  whose scales differ;
- a clean image above its synthetic distortions (training.distortions), and a mild distortion above the
  strong one of the same kind: these hold for AI images and photos alike, so the ranker learns damage
  rather than dataset identity.
Its scores are then mapped to 0-100 by the pooled spread of the training images, one map for all.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iqa_core.model.heads import LinearHead
from iqa_core.training.fit import _standardise

# Fixed a priori, not searched: MOS pairs' soft label is sigmoid(difference of z-scores / TIE_Z), so a pair a
# tenth of a standard deviation apart is nearly a coin toss and one a whole deviation apart is 0.96 certain.
TIE_Z = 0.3
MOS_PARTNERS = 40  # sampled partners per image within its dataset (all pairs would be 10^6 for 1,000 images)
SEED = 0
RANK_OUT = {"out_a": 15.0, "out_c": 50.0, "clip": (0.0, 100.0)}  # pooled z-score -> 0-100, as QUALITY_OUT


@dataclass
class Pairs:
    """Row a ranks above row b with probability p; weight says how much the pair counts."""
    a: np.ndarray
    b: np.ndarray
    p: np.ndarray
    weight: np.ndarray

    @staticmethod
    def concat(parts: list[Pairs]) -> Pairs:
        return Pairs(*(np.concatenate([getattr(q, f) for q in parts]) for f in ("a", "b", "p", "weight")))


def mos_pairs(rows: np.ndarray, z: np.ndarray, total: float, seed: int = SEED) -> Pairs:
    """Pairs among `rows` (one dataset, z-scored MOS z over those rows), weights summing to `total`."""
    rng = np.random.default_rng(seed)
    n = len(rows)
    k = min(MOS_PARTNERS, n - 1)
    a = np.repeat(np.arange(n), k)
    b = (a + 1 + np.concatenate([rng.choice(n - 1, k, replace=False) for _ in range(n)])) % n
    p = 1.0 / (1.0 + np.exp(-(z[a] - z[b]) / TIE_Z))
    return Pairs(rows[a], rows[b], p.astype(np.float32), np.full(len(a), total / len(a), np.float32))


def fit_rank(x: np.ndarray, pairs: Pairs, prior: np.ndarray | None, decay: float, name: str = "quality",
             inputs: list[str] | None = None, scale_rows: np.ndarray | None = None) -> LinearHead:
    """Pairwise logistic loss (RankNet) on a linear score of the standardised features, plus
    decay * |w|^2 (scaled by the mean squared feature, as fit.fit_expected does), solved by full-batch
    L-BFGS from zeros (deterministic). The score is then z-scored over scale_rows (default: all rows) and
    mapped by RANK_OUT."""
    import torch

    z, mean, scale = _standardise(x, prior)
    penalty = decay * float((z ** 2).sum(1).mean()) / z.shape[1]
    zt = torch.from_numpy(z)
    a, b = torch.from_numpy(pairs.a), torch.from_numpy(pairs.b)
    p, wt = torch.from_numpy(pairs.p), torch.from_numpy(pairs.weight / pairs.weight.sum())
    w = torch.zeros(z.shape[1], dtype=torch.float32, requires_grad=True)
    opt = torch.optim.LBFGS([w], lr=1.0, max_iter=200, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        s = zt @ w
        d = s[a] - s[b]
        loss = (wt * torch.nn.functional.binary_cross_entropy_with_logits(d, p, reduction="none")).sum() \
            + penalty * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    wv = w.detach().numpy().astype(np.float32)
    s = z[scale_rows if scale_rows is not None else slice(None)] @ wv
    mu, sd = float(s.mean()), float(s.std()) + 1e-9
    return LinearHead(name=name, kind="regression", inputs=inputs or ["image"], mean=mean, scale=scale,
                      weight=(wv / sd).reshape(-1, 1), bias=np.array([-mu / sd], np.float32),
                      info={"decay": decay}, **RANK_OUT)
