"""Helpers of the live-mode tests: engine runs, a turned camera, per-key fault injection."""

from __future__ import annotations

import dataclasses
from typing import List, Sequence

import numpy as np

from align3r_ros.backends.oracle import OracleBackend
from align3r_ros.engine.engine import Engine
from align3r_ros.structures import Frame, FrameResult, PairPredictions
from align3r_ros.synthetic.render import render_view
from align3r_ros.synthetic.scene import make_scene
from streaming.engine_helpers import RecordingBackend, oracle_config, single_torch_thread


def live_config(**groups):
    """Oracle config (48x64) in live mode (``stream`` overrides merge with the mode)."""
    groups['stream'] = {'mode': 'live', **groups.get('stream', {})}
    return oracle_config(**groups)


def run_per_push(engine: Engine, frames: Sequence[Frame]) -> List[List[FrameResult]]:
    """What each push returned, one list per frame (flush appended as a last list)."""
    out = []
    with single_torch_thread():
        for frame in frames:
            out.append(engine.push(frame))
        out.append(engine.flush())
    return out


def live_engine(rewrite=None, **groups):
    config = live_config(**groups)
    backend = RecordingBackend(OracleBackend.from_config(config), rewrite)
    return Engine(config, backend), backend


def turned(frame: Frame, seed: int, num_movers: int, index: int) -> Frame:
    """``frame`` re-rendered with the camera turned 180 deg about its own vertical axis."""
    T = frame.gt_T_world_cam @ np.diag([-1.0, 1.0, -1.0, 1.0])
    h, w = frame.shape
    view = render_view(make_scene(seed, num_movers=num_movers), T, frame.K, h, w, index)
    return dataclasses.replace(frame, rgb=view.rgb, gt_depth=view.depth, gt_T_world_cam=T,
                               gt_dynamic_mask=view.dynamic_mask)


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


def unit_confidence(prediction: PairPredictions, hit: np.ndarray) -> PairPredictions:
    """Edges in ``hit``: every pixel at confidence 1 (nothing trustworthy)."""
    conf_i, conf_j = prediction.conf_i.copy(), prediction.conf_j.copy()
    conf_i[hit] = 1.0
    conf_j[hit] = 1.0
    return dataclasses.replace(prediction, conf_i=conf_i, conf_j=conf_j)


def poses(results: Sequence[FrameResult]) -> np.ndarray:
    return np.stack([r.T_world_cam for r in results])


__all__ = ['live_config', 'live_engine', 'run_per_push', 'turned', 'KeyedRewriteBackend',
           'unit_confidence', 'poses', 'single_torch_thread', 'oracle_config',
           'RecordingBackend']
