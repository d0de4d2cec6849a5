"""A ridge with an RBF kernel part: the image's z-scores as a linear ridge sees them, plus the Nystroem
features of an RBF kernel on their first principal directions, so the head can bend where a linear map
cannot (aesthetics is not linear in the pooled features: a good subject with a bad light is not their mean).

The constants were chosen on a selection split inside para-train (its last quarter of sessions held out of
its first 8,250 photos; para-dev never seen), against the linear ridge's 0.818 SRCC there: principal
directions 32 / 64 / 256 gave 0.829 / 0.832 / 0.832 (64: a quarter of the basis), gamma (times the
directions' total variance) 0.25 / 0.5 / 1 / 2 gave 0.831 / 0.832 / 0.829 / 0.826, the kernel features'
weight against the z-scores 3 / 10 / 30 gave 0.825 / 0.832 / 0.824; without the linear z-scores the kernel
alone gave 0.802, random projections instead of principal directions 0.818-0.821, random Fourier features
on all columns 0.808-0.823.
"""
from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import RidgeCV

from iqa_core.model.heads import LinearHead
from iqa_core.training.fit import RIDGE_ALPHAS, _standardise, gcv_mode

COMPONENTS = 64
LANDMARKS = 1000
GAMMA = 0.5  # times 1 / (the directions' total variance): the kernel's width in units of the images' spread
KERNEL_WEIGHT = 10.0  # the kernel features' scale against the z-scores: ridge's one penalty shrinks them less
SEED = 0


def fit_kernel_ridge(x: np.ndarray, y: np.ndarray, name: str, inputs: list[str], prior: np.ndarray | None = None,
                     sample_weight: np.ndarray | None = None, **out) -> LinearHead:
    """A regression LinearHead with a kernel part (see heads.LinearHead.kernel); the basis is rounded to the
    float16 it is stored in before anything is fitted on it, so the shipped head is the one measured."""
    z, mean, scale = _standardise(x, prior)
    pca = PCA(min(COMPONENTS, *z.shape), random_state=SEED).fit(z)
    basis = pca.components_.T.astype(np.float16).astype(np.float32)
    p = z @ basis  # uncentred: the RBF kernel depends only on differences, so PCA's centring cancels
    gamma = GAMMA / float(p.var(0).sum())
    ny = Nystroem(gamma=gamma, n_components=min(LANDMARKS, len(y)), random_state=SEED).fit(p)
    k = ny.transform(p) * KERNEL_WEIGHT
    zk = np.concatenate([z, k], 1)
    model = RidgeCV(alphas=RIDGE_ALPHAS, gcv_mode=gcv_mode(zk)).fit(zk, y, sample_weight=sample_weight)
    coef = model.coef_.reshape(-1, 1).astype(np.float64)
    d = z.shape[1]
    return LinearHead(name=name, kind="regression", inputs=inputs, mean=mean, scale=scale,
                      weight=coef[:d].astype(np.float32), bias=np.array([model.intercept_], np.float32),
                      kernel_basis=basis, landmarks=ny.components_.astype(np.float32),
                      kernel_weight=(ny.normalization_.T @ coef[d:] * KERNEL_WEIGHT).astype(np.float32),
                      gamma=gamma, info={"alpha": float(model.alpha_), "kernel": {
                          "components": COMPONENTS, "landmarks": int(len(ny.components_)), "gamma": GAMMA,
                          "weight": KERNEL_WEIGHT}}, **out)
