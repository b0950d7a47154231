"""Backend wrappers of the engine tests: key bookkeeping and fault injection."""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Sequence, Set

import numpy as np

from align3r_ros.structures import PairPredictions


class RecordingBackend:
    """Wraps a backend: records which keys it holds (predict adds, forget drops) and may
    rewrite predictions (fault injection)."""

    def __init__(self, inner, rewrite: Optional[Callable[[PairPredictions], PairPredictions]]
                 = None) -> None:
        self.inner = inner
        self.rewrite = rewrite
        self.needs_pointmap = inner.needs_pointmap
        self.live: Set[int] = set()
        self.max_live = 0
        self.calls = 0

    def predict(self, views: Sequence, edges: np.ndarray) -> PairPredictions:
        self.calls += 1
        self.live.update(int(v.key) for v in views)
        self.max_live = max(self.max_live, len(self.live))
        prediction = self.inner.predict(views, edges)
        return self.rewrite(prediction) if self.rewrite else prediction

    def forget(self, keys: Sequence[int]) -> None:
        self.live.difference_update(int(k) for k in keys)
        self.inner.forget(keys)


class KeyedRewriteBackend(RecordingBackend):
    """RecordingBackend whose rewrite sees which edges touch the given frame keys."""

    def __init__(self, inner, keys: set, change) -> None:
        super().__init__(inner)
        self.keys = set(keys)
        self.change = change

    def predict(self, views, edges):
        prediction = super().predict(views, edges)
        hit = np.array([int(views[i].key) in self.keys or int(views[j].key) in self.keys
                        for i, j in prediction.edges])
        return self.change(prediction, hit) if hit.any() else prediction


def with_nan_points(prediction: PairPredictions) -> PairPredictions:
    """Every third edge's pts_j gets NaN in a quarter of its pixels."""
    pts_j = prediction.pts_j.copy()
    pts_j[::3, : pts_j.shape[1] // 4] = np.nan
    return dataclasses.replace(prediction, pts_j=pts_j)


def with_unit_confidence(prediction: PairPredictions) -> PairPredictions:
    """Every pixel at confidence 1 (zero log-weight): nothing is trustworthy."""
    return dataclasses.replace(prediction, conf_i=np.ones_like(prediction.conf_i),
                               conf_j=np.ones_like(prediction.conf_j))


def unit_confidence(prediction: PairPredictions, hit: np.ndarray) -> PairPredictions:
    """Edges in ``hit``: every pixel at confidence 1 (nothing trustworthy)."""
    conf_i, conf_j = prediction.conf_i.copy(), prediction.conf_j.copy()
    conf_i[hit] = 1.0
    conf_j[hit] = 1.0
    return dataclasses.replace(prediction, conf_i=conf_i, conf_j=conf_j)
