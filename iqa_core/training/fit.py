"""Fitting linear heads and cross-validating them: shared by training and the accuracy benchmark.

Every hyper-parameter is chosen inside the training part of a fold (inner generalised CV for ridge,
inner grouped folds otherwise), so a cross-validated figure never saw its test fold.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import GroupKFold

from iqa_core.model.heads import LinearHead, MeanHead

RIDGE_ALPHAS = np.logspace(0, 5, 16)
SEED = 0
DISTRIBUTION_CS = (0.001, 0.002, 0.005, 0.01)  # softmax heads: inverse regularisation candidates
IOVQA_CLASSES = np.arange(10, 51, dtype=np.float32)  # IOVQA's integer score classes
IOVQA_DECAYS = (0.03, 0.1, 0.3, 1.0)  # weight decay candidates, chosen by inner grouped folds
IOVQA_SIGMA = 2.0  # width (in classes) of the Gaussian soft label around a target


def srcc(a, b) -> float:
    return float(stats.spearmanr(a, b).statistic)


def plcc(a, b) -> float:
    return float(stats.pearsonr(a, b).statistic)


def folds(groups: np.ndarray, k: int = 5, seed: int = SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped folds (same prompt / same session stay together), shuffled with a fixed seed (others give the
    repeated CV of benchmarks/repeated_cv.py)."""
    return list(GroupKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(groups)), groups=groups))


def block_scale(block_dims: list[int], power: float) -> np.ndarray:
    """Per-column prior scale for features made of blocks (a stage map's channel means, say): with power 1
    every column of a d-wide block is divided by sqrt(d), so under one ridge penalty each block counts as
    much as any other however wide it is; with power 0 every column counts alike. In CV, power 1 lifts
    LIVE-C quality by 0.03 SRCC (the 1280-wide head map no longer drowns the early stages' statistics)."""
    return np.concatenate([np.full(d, d ** (power / 2)) for d in block_dims]).astype(np.float32)


def _standardise(x: np.ndarray, prior: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z-scores, divided further by a per-column prior scale (see block_scale); the head keeps both."""
    mean = x.mean(0)
    scale = x.std(0) + 1e-6
    if prior is not None:
        scale = scale * prior
    return (x - mean) / scale, mean.astype(np.float32), scale.astype(np.float32)


def fit_ridge(x: np.ndarray, y: np.ndarray, name: str, inputs: list[str], prior: np.ndarray | None = None,
              sample_weight: np.ndarray | None = None, alphas=RIDGE_ALPHAS, **out) -> LinearHead:
    """alphas: the candidates leave-one-out CV chooses among (one, to fix it: rows with near copies, such as
    flipped views, would make leave-one-out choose too little penalty)."""
    z, mean, scale = _standardise(x, prior)
    model = RidgeCV(alphas=alphas, gcv_mode=gcv_mode(z)).fit(z, y, sample_weight=sample_weight)
    return LinearHead(name=name, kind="regression", inputs=inputs, mean=mean, scale=scale,
                      weight=model.coef_.reshape(-1, 1).astype(np.float32),
                      bias=np.array([model.intercept_], np.float32), info={"alpha": float(model.alpha_)}, **out)


def gcv_mode(z: np.ndarray) -> str:
    """RidgeCV's leave-one-out solver: with more rows than columns (all of para-train) one SVD serves every
    alpha, 3x faster than the default's per-alpha products on the covariance; otherwise the default (an
    eigendecomposition of the rows' kernel)."""
    return "svd" if z.shape[0] > z.shape[1] else "auto"


def ridge_columns(x: np.ndarray, y: np.ndarray, x_new: np.ndarray, prior: np.ndarray | None = None) -> np.ndarray:
    """(len(x_new), k) predictions of fit_ridge's ridge for each of y's k columns, each column with its own
    penalty: one kernel decomposition serves all columns (candidate targets chosen by inner folds)."""
    z, mean, scale = _standardise(x, prior)
    model = RidgeCV(alphas=RIDGE_ALPHAS, alpha_per_target=True, gcv_mode=gcv_mode(z)).fit(z, y)
    return model.predict((x_new - mean) / scale)


def fit_distribution(x: np.ndarray, p: np.ndarray, name: str, inputs: list[str], classes: list[str],
                     groups: np.ndarray | None = None, c: float | None = None, prior: np.ndarray | None = None,
                     sample_weight: np.ndarray | None = None, cs: tuple[float, ...] = DISTRIBUTION_CS) -> LinearHead:
    """Softmax regression on soft labels: each image appears once per class, weighted by that class's share
    (times its sample weight). The inverse regularisation c is chosen among cs by 3 inner grouped folds
    (lowest KL) unless given."""
    if c is None:
        inner = folds(groups, 3)
        c = min(cs, key=lambda cc: kl_divergence(_inner_dist(x, p, inner, cc, classes, prior), p))
    z, mean, scale = _standardise(x, prior)
    n, k = p.shape
    rows = np.repeat(np.arange(n), k)
    labels = np.tile(np.arange(k), n)
    weights = (p * (1.0 if sample_weight is None else sample_weight[:, None])).reshape(-1)
    keep = weights > 0
    model = LogisticRegression(C=c, max_iter=2000).fit(z[rows[keep]], labels[keep], sample_weight=weights[keep])
    weight = np.zeros((x.shape[1], k), np.float32)
    bias = np.full(k, -30.0, np.float32)  # a class never seen in training stays (near) impossible
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # sklearn keeps one logit for two classes: the second class's, against 0
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    weight[:, model.classes_] = coef.T
    bias[model.classes_] = intercept
    return LinearHead(name=name, kind="distribution", inputs=inputs, mean=mean, scale=scale, weight=weight,
                      bias=bias, classes=list(classes), info={"C": c})


def _inner_dist(x: np.ndarray, p: np.ndarray, inner: list, c: float, classes: list[str],
                prior: np.ndarray | None) -> np.ndarray:
    pred = np.zeros_like(p)
    for tr, te in inner:
        pred[te] = fit_distribution(x[tr], p[tr], "", [], classes, c=c, prior=prior).predict(x[te])
    return pred


def kl_divergence(pred: np.ndarray, p: np.ndarray) -> float:
    return float(np.sum(p * (np.log(p + 1e-8) - np.log(pred + 1e-8)), axis=1).mean())


def fit_expected(x: np.ndarray, y: np.ndarray, name: str, inputs: list[str], groups: np.ndarray | None,
                 decay: float | None = None, out_a: float = 1.0, out_c: float = 0.0,
                 prior: np.ndarray | None = None, sample_weight: np.ndarray | None = None, **out) -> LinearHead:
    """IOVQA: targets mapped linearly onto the integer classes 10-50, each as a Gaussian soft label; a
    softmax over the classes fitted with cross-entropy and weight decay; the score read back as the
    expected class value, mapped back to y's scale and then by out_a, out_c. The decay is chosen by
    3 inner grouped folds unless given."""
    if decay is None:
        inner = folds(groups, 3)
        decay = max(IOVQA_DECAYS, key=lambda d: srcc(_inner_pred(x, y, inner, d, prior), y))
    z, mean, scale = _standardise(x, prior)
    lo, hi = float(y.min()), float(y.max())
    first, last = float(IOVQA_CLASSES[0]), float(IOVQA_CLASSES[-1])
    step = (hi - lo) / (last - first)  # one class in y's units
    weight, bias = _soft_label_softmax(z, _soft_labels(y, lo, hi), decay, sample_weight)
    return LinearHead(name=name, kind="expected", inputs=inputs, mean=mean, scale=scale, weight=weight, bias=bias,
                      class_values=IOVQA_CLASSES.copy(), out_a=out_a * step,
                      out_c=out_a * (lo - first * step) + out_c, info={"decay": decay}, **out)


def _inner_pred(x: np.ndarray, y: np.ndarray, inner: list, decay: float, prior: np.ndarray | None) -> np.ndarray:
    pred = np.zeros(len(y))
    for tr, te in inner:
        pred[te] = fit_expected(x[tr], y[tr], "", [], groups=None, decay=decay, prior=prior).predict(x[te])
    return pred


def _soft_labels(y: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = IOVQA_CLASSES[0] + (IOVQA_CLASSES[-1] - IOVQA_CLASSES[0]) * (y - lo) / max(hi - lo, 1e-9)
    p = np.exp(-0.5 * ((t[:, None] - IOVQA_CLASSES[None]) / IOVQA_SIGMA) ** 2)
    return (p / p.sum(1, keepdims=True)).astype(np.float32)


def _soft_label_softmax(z: np.ndarray, soft: np.ndarray, decay: float,
                        sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Linear softmax on soft labels, cross-entropy + decay * |W|^2, full-batch L-BFGS from zeros
    (deterministic). With a squared-norm penalty the optimal W lies in the span of the rows of z, so it is
    solved in the n-dimensional basis of z's SVD and mapped back: the same solution, n instead of d
    unknowns per class."""
    import torch

    # The penalty is scaled by the mean squared feature (1 for plain z-scores), so a decay means the same
    # whether or not a block prior shrank the columns.
    decay = decay * float((z ** 2).sum(1).mean()) / z.shape[1]
    u, sv, vt = np.linalg.svd(z, full_matrices=False)
    basis = torch.from_numpy((u * sv).astype(np.float32))
    target = torch.from_numpy(soft)
    sw = torch.ones(len(soft)) if sample_weight is None else torch.from_numpy(sample_weight.astype(np.float32))
    sw = sw / sw.sum()
    w = torch.zeros(basis.shape[1], soft.shape[1], requires_grad=True)
    b = torch.zeros(soft.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=300, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = -((target * torch.log_softmax(basis @ w + b, 1)).sum(1) * sw).sum() + decay * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return (vt.T.astype(np.float32) @ w.detach().numpy()), b.detach().numpy().astype(np.float32)


def ridge_and_iovqa(name: str, inputs: list[str], prior: np.ndarray, **out):
    """fit(x, y, groups) -> the mean of a ridge head and an IOVQA head (which picks its weight decay on
    inner folds of the groups). In CV the pair beats either alone on AGIQA-3K quality; see
    benchmarks/accuracy.py."""
    return lambda x, y, groups: MeanHead(name, [fit_ridge(x, y, name, inputs, prior, **out),
                                                fit_expected(x, y, name, inputs, groups, prior=prior, **out)])


@dataclass
class CVResult:
    pred: np.ndarray  # out-of-fold predictions, in the order of the input
    train_pred: np.ndarray  # in-sample predictions of the model fitted on everything

    def take(self, rows) -> CVResult:
        return CVResult(pred=self.pred[rows], train_pred=self.train_pred[rows])


def cross_val_predict(fit: Callable[..., LinearHead], x: np.ndarray, y: np.ndarray,
                      groups: np.ndarray, k: int = 5, grouped: bool = False, seed: int = SEED) -> CVResult:
    """Out-of-fold predictions. grouped: fit also takes the training part's groups (for inner folds)."""
    pred = None
    for tr, te in folds(groups, k, seed):
        p = (fit(x[tr], y[tr], groups[tr]) if grouped else fit(x[tr], y[tr])).predict(x[te])
        if pred is None:
            pred = np.zeros((len(y),) + p.shape[1:], np.float32)
        pred[te] = p
    full = fit(x, y, groups) if grouped else fit(x, y)
    return CVResult(pred=pred, train_pred=full.predict(x))


def top1_kl(pred: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Distribution heads: how often the likeliest class agrees, and the mean KL divergence."""
    return {"top1": round(float((pred.argmax(1) == p.argmax(1)).mean()), 4), "kl": round(kl_divergence(pred, p), 4)}


def correlations(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {"srcc": round(srcc(pred, y), 4), "plcc": round(plcc(pred, y), 4)}
