"""Shared helpers of the engine tests: configs, error measures, a fault-injecting backend."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable, Optional, Sequence, Set

import numpy as np

from align3r_ros.config import Align3rConfig
from align3r_ros.config_io import load_config
from align3r_ros.evaluation.pose_metrics import evaluate_trajectory
from align3r_ros.structures import PairPredictions


def oracle_config(**groups) -> Align3rConfig:
    """Oracle engine config for small synthetic frames (48x64 in, 48x64 network).

    Temporal smoothing is off unless asked for: the fast solver then needs no Adam polish,
    which keeps each test solve around a second on a loaded 2-core machine. Clip mode unless
    ``stream`` says otherwise: these tests pin the clip scheme's behaviour (live mode, the
    default, has its own tests in test/live).
    """
    base = {'pairwise': {'backend': 'oracle'}, 'preprocess': {'long_side': 64},
            'align': {'temporal_weight': 0.0}, 'stream': {'mode': 'clip'}}
    for name, values in groups.items():
        base[name] = {**base.get(name, {}), **values}
    return load_config(base)


def ate_percent(T_est: np.ndarray, T_gt: np.ndarray) -> float:
    """ATE after Sim(3), as % of the ground-truth trajectory length."""
    length = np.linalg.norm(np.diff(T_gt[:, :3, 3], axis=0), axis=1).sum()
    return 100.0 * evaluate_trajectory(T_est, T_gt).ate / length


def median_scaled_abs_rel(depth: np.ndarray, gt: np.ndarray, keep: np.ndarray) -> tuple:
    """(Abs Rel after one median scale, fraction of kept pixels with a finite prediction)."""
    ok = keep & np.isfinite(depth) & np.isfinite(gt) & (gt > 0)
    scale = np.median(gt[ok] / depth[ok])
    abs_rel = np.mean(np.abs(scale * depth[ok] - gt[ok]) / gt[ok])
    return float(abs_rel), float(ok.sum() / keep.sum())


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


def with_nan_points(prediction: PairPredictions) -> PairPredictions:
    """Every third edge's pts_j gets NaN in a quarter of its pixels."""
    pts_j = prediction.pts_j.copy()
    pts_j[::3, : pts_j.shape[1] // 4] = np.nan
    return dataclasses.replace(prediction, pts_j=pts_j)


def with_unit_confidence(prediction: PairPredictions) -> PairPredictions:
    """Every pixel at confidence 1 (zero log-weight): nothing is trustworthy."""
    return dataclasses.replace(prediction, conf_i=np.ones_like(prediction.conf_i),
                               conf_j=np.ones_like(prediction.conf_j))


@contextlib.contextmanager
def single_torch_thread():
    """Run solves on one torch thread: on a shared 2-core machine two threads oversubscribe
    the cores and make each solve several times slower (restored afterwards)."""
    import torch
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
