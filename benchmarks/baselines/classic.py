"""BRISQUE (Mittal et al. 2012) from the PyPI package `brisque`, which ships its SVR model.

brisque 0.2.0 calls float() on one-element arrays, which numpy 2 refuses; the subclass below changes only
that conversion (``float(np.ravel(f)[0])``) and leaves the features and the SVR untouched.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

MAX_SIDE = 512  # BRISQUE's fitting is slow on large images and it was trained near this size


def _scalar(value) -> float:
    return float(np.ravel(np.asarray(value, dtype=np.float64))[0])


def _brisque_class():
    from brisque import BRISQUE

    class _Brisque(BRISQUE):
        def scale_features(self, features):
            lo = np.array([_scalar(m) for m in self.scale_params["min_"]])
            hi = np.array([_scalar(m) for m in self.scale_params["max_"]])
            x = np.array([_scalar(f) for f in features])
            return -1 + 2.0 / (hi - lo) * (x - lo)

    return _Brisque


class BrisqueScorer:
    """Lower is better, roughly 0-100 (the package's convention)."""
    version = "brisque==0.2.0"

    def __init__(self):
        self._model = _brisque_class()(url=False)

    def score(self, image: Image.Image) -> float:
        img = image.convert("RGB")
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.BICUBIC)
        return float(self._model.score(np.asarray(img)))
