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

from .heads import LinearHead

RIDGE_ALPHAS = np.logspace(0, 5, 16)
SEED = 0


def srcc(a, b) -> float:
    return float(stats.spearmanr(a, b).statistic)


def plcc(a, b) -> float:
    return float(stats.pearsonr(a, b).statistic)


def folds(groups: np.ndarray, k: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped folds (same prompt / same session stay together), shuffled with a fixed seed."""
    return list(GroupKFold(n_splits=k, shuffle=True, random_state=SEED).split(np.zeros(len(groups)), groups=groups))


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(0)
    scale = x.std(0) + 1e-6
    return (x - mean) / scale, mean.astype(np.float32), scale.astype(np.float32)


def fit_ridge(x: np.ndarray, y: np.ndarray, name: str, inputs: list[str], **out) -> LinearHead:
    z, mean, scale = _standardise(x)
    model = RidgeCV(alphas=RIDGE_ALPHAS).fit(z, y)
    return LinearHead(name=name, kind="regression", inputs=inputs, mean=mean, scale=scale,
                      weight=model.coef_.reshape(-1, 1).astype(np.float32),
                      bias=np.array([model.intercept_], np.float32), info={"alpha": float(model.alpha_)}, **out)


def fit_distribution(x: np.ndarray, p: np.ndarray, name: str, inputs: list[str], classes: list[str],
                     c: float = 0.01) -> LinearHead:
    """Softmax regression on soft labels: each image appears once per class, weighted by that class's share."""
    z, mean, scale = _standardise(x)
    n, k = p.shape
    rows = np.repeat(np.arange(n), k)
    labels = np.tile(np.arange(k), n)
    weights = p.reshape(-1)
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


@dataclass
class CVResult:
    pred: np.ndarray  # out-of-fold predictions, in the order of the input
    train_pred: np.ndarray  # in-sample predictions of the model fitted on everything


def cross_val_predict(fit: Callable[[np.ndarray, np.ndarray], LinearHead], x: np.ndarray, y: np.ndarray,
                      groups: np.ndarray, k: int = 5) -> CVResult:
    pred = None
    for tr, te in folds(groups, k):
        p = fit(x[tr], y[tr]).predict(x[te])
        if pred is None:
            pred = np.zeros((len(y),) + p.shape[1:], np.float32)
        pred[te] = p
    return CVResult(pred=pred, train_pred=fit(x, y).predict(x))


def correlations(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {"srcc": round(srcc(pred, y), 4), "plcc": round(plcc(pred, y), 4)}
